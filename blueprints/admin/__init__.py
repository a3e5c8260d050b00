"""Staff pages of the referral and rewards program, mounted at ``<ADVOCACY_URL_PREFIX>/admin``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.resources import templates_dir

bp = Blueprint("advocacy_admin", __name__, template_folder=str(templates_dir()))
setup_blueprint(bp)
admin_section(bp, "advocacy_admin.overview", "Overview", order=10)
admin_section(bp, "advocacy_admin.conversions", "Payments", order=20)
admin_section(bp, "advocacy_admin.reward_cost", "Rewards", order=30)
admin_section(bp, "advocacy_admin.advocates", "Advocates", order=40)
admin_section(bp, "advocacy_admin.fraud_queue", "Fraud review", order=45)
admin_section(bp, "advocacy_admin.export_page", "Export", order=85)
admin_section(bp, "advocacy_admin.outbox_page", "Outbox", order=80)
admin_section(bp, "advocacy_admin.audit_log", "Audit log", order=90)

from advocacy_portal.blueprints.admin import exports  # noqa: E402,F401
from advocacy_portal.blueprints.admin import fraud  # noqa: E402,F401
from advocacy_portal.blueprints.admin import outbox  # noqa: E402,F401
from advocacy_portal.blueprints.admin import views  # noqa: E402,F401
