"""The customer's rewards page, mounted at ``<ADVOCACY_URL_PREFIX>/rewards``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_rewards", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)

from advocacy_portal.blueprints.rewards import views  # noqa: E402,F401
