"""The customer's referral page, mounted at ``ADVOCACY_URL_PREFIX``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import static_dir
from advocacy_portal.resources import templates_dir

bp = Blueprint(
    "advocacy_referrals",
    __name__,
    # The host's own templates folder is searched first, so a host file of the same name wins.
    template_folder=str(templates_dir()),
    static_folder=str(static_dir()),
    static_url_path="/static",
)
setup_blueprint(bp)

from advocacy_portal.blueprints.referrals import views  # noqa: E402,F401
