"""Staff pages of outgoing webhooks (endpoints, secrets, delivery log), at ``<prefix>/admin/webhooks``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint

bp = Blueprint("advocacy_webhooks_admin", __name__)
setup_blueprint(bp)
admin_section(bp, "advocacy_webhooks_admin.endpoints", "Webhooks", order=80)

from advocacy_portal.blueprints.outgoing_webhooks import views  # noqa: E402,F401
