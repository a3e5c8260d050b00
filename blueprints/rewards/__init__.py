"""The customer's rewards page, mounted at ``<ADVOCACY_URL_PREFIX>/rewards``."""

from flask import Blueprint

from blueprints.common import setup_blueprint
from portal.resources import templates_dir

bp = Blueprint("advocacy_rewards", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)

from blueprints.rewards import views  # noqa: E402,F401
