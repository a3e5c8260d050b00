"""The staff page of the back-office API's keys, mounted at ``<ADVOCACY_URL_PREFIX>/admin/api-keys``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_api_keys", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)
admin_section(bp, "advocacy_api_keys.index", "API keys", order=80)

from advocacy_portal.blueprints.api_keys import views  # noqa: E402,F401
