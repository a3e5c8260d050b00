"""Staff pages of the advocacy loop, mounted at ``<ADVOCACY_URL_PREFIX>/admin/nps``: NPS figures and
export, the case queue and one case, sending the survey, root causes."""

from flask import Blueprint

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_nps_admin", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)
admin_section(bp, "advocacy_nps_admin.figures", "NPS", order=50)
admin_section(bp, "advocacy_nps_admin.cases", "Cases", order=55)
admin_section(bp, "advocacy_nps_admin.send", "Surveys", order=57)

from advocacy_portal.blueprints.nps_admin import views  # noqa: E402,F401
