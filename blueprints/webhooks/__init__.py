"""Stripe's webhook endpoint, ``<ADVOCACY_URL_PREFIX>/webhooks/stripe``: JSON in, JSON out.

It is exempt from the host's CSRF protection (Stripe cannot send a token; the signature is the proof),
whether the host sets up Flask-WTF's ``CSRFProtect`` before or after the plugin, or not at all.
"""

from flask import Blueprint
from flask import current_app
from flask import request

from advocacy_portal.config import config_value

bp = Blueprint("advocacy_webhooks", __name__)

from advocacy_portal.blueprints.webhooks import views  # noqa: E402,F401


def _exempt_from_csrf(app) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is not None and hasattr(csrf, "exempt"):
        csrf.exempt(bp)


@bp.record_once
def _on_register(state):
    _exempt_from_csrf(state.app)


@bp.url_value_preprocessor
def _before_anything(endpoint, values):
    # Runs before every before_request function -- the host's CSRF check included -- so a CSRFProtect
    # set up after the plugin is told about the exemption in time, and nothing reads a body larger than
    # the limit.
    _exempt_from_csrf(current_app)
    request.max_content_length = config_value("STRIPE_WEBHOOK_MAX_BYTES")
