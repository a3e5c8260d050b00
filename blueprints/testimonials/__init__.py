"""Testimonials and reviews: the customer's forms and own page, the public wall, the JSON API.

``bp`` is mounted at ``ADVOCACY_URL_PREFIX``; ``api_bp`` at ``<prefix>/api`` and answers JSON only.
"""

from flask import Blueprint

from advocacy_portal.blueprints.common import setup_blueprint
from advocacy_portal.blueprints.inputs import guard_input
from advocacy_portal.blueprints.ratelimit import customer_or_ip
from advocacy_portal.blueprints.ratelimit import limit_blueprint

bp = Blueprint("advocacy_testimonials", __name__)
setup_blueprint(bp)
limit_blueprint(
    bp,
    "TESTIMONIAL_SUBMIT_LIMIT",
    methods=["POST"],
    key_func=customer_or_ip,
    message="You have sent a lot of testimonials in a short time. Please wait a little and try again.",
)

api_bp = Blueprint("advocacy_testimonials_api", __name__)
guard_input(api_bp)
limit_blueprint(
    api_bp,
    "API_RATE_LIMIT",
    methods=["GET"],
    message="Too many requests to the testimonials API: slow down and retry later.",
)

from advocacy_portal.blueprints.testimonials import api  # noqa: E402,F401
from advocacy_portal.blueprints.testimonials import views  # noqa: E402,F401
