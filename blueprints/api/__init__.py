"""The back-office JSON API, mounted at ``<ADVOCACY_URL_PREFIX>/api`` beside the public testimonials API.

Every endpoint but the OpenAPI document needs an API key (``Authorization: Bearer adv_live_...``) with
the endpoint's scope; keys are made on the staff page ``<prefix>/admin/api-keys``. Answers and errors
are JSON; ``<prefix>/api/openapi.json`` describes them (OpenAPI 3.1).
"""

from flask import Blueprint

from advocacy_portal.blueprints.api.auth import api_key_or_ip
from advocacy_portal.blueprints.inputs import guard_input
from advocacy_portal.blueprints.ratelimit import limit_blueprint

bp = Blueprint("advocacy_api", __name__)
guard_input(bp)
limit_blueprint(
    bp,
    "API_KEY_RATE_LIMIT",
    methods=["GET"],
    key_func=api_key_or_ip,
    message="Too many requests with this API key: slow down and retry later.",
)

from advocacy_portal.blueprints.api import views  # noqa: E402,F401
