"""The customer's side of the advocacy loop, mounted at ``<ADVOCACY_URL_PREFIX>/nps``: score links
and their confirm step, the thank-you page, the in-app answer, unsubscribe, "I have a problem" and
the customer's cases (signed in, or through the signed link in every case email)."""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_nps", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)

from advocacy_portal.blueprints.nps import views  # noqa: E402,F401
