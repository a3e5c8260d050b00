"""Staff moderation of testimonials and reviews, at ``<prefix>/admin/testimonials``."""

from flask import Blueprint

from advocacy_portal.blueprints.common import admin_section
from advocacy_portal.blueprints.common import setup_blueprint

bp = Blueprint("advocacy_moderation", __name__)
setup_blueprint(bp)
admin_section(bp, "advocacy_moderation.queue", "Testimonials", order=30)

from advocacy_portal.blueprints.moderation import views  # noqa: E402,F401
