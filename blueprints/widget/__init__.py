"""The embeddable widget, mounted at ``<prefix>/widget``: ``widget.js`` and the JSON it reads.

Answers JSON only (errors included); browsers on ``ADVOCACY_WIDGET_ORIGINS`` may read it (CORS,
never with credentials), other sites' pages get a JSON 403.
"""

from flask import Blueprint

from advocacy_portal.blueprints.common import allow_listed_origins
from advocacy_portal.blueprints.common import limit_request_size
from advocacy_portal.blueprints.inputs import guard_input
from advocacy_portal.blueprints.ratelimit import precount_blueprint

bp = Blueprint("advocacy_widget", __name__)
bp.url_value_preprocessor(limit_request_size)
guard_input(bp)
allow_listed_origins(bp, open_endpoints=("script", "hashed_script"))
# Counted in the process and shared through the storage in the background, as the redirect's limit:
# the widget's first paint never waits on the limiter's storage (nor on its memory storage's timer).
precount_blueprint(
    bp,
    "WIDGET_RATE_LIMIT",
    methods=["GET"],
    message="Too many widget requests from your network: slow down and retry later.",
)

from advocacy_portal.blueprints.widget import views  # noqa: E402,F401
