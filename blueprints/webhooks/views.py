"""Receive Stripe events: verify the signature on the raw body, record the event and its effects once."""

from __future__ import annotations

import logging

from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge

from advocacy_portal.blueprints.webhooks import bp
from advocacy_portal.services import conversions
from advocacy_portal.services import stripe_events

log = logging.getLogger(__name__)


def error(status: int, code: str, message: str):
    """The JSON error every answer of this blueprint uses."""
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """Stripe's webhook endpoint."""
    try:
        payload = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return error(400, "payload_too_large", "The body is larger than the endpoint accepts.")
    try:
        event = stripe_events.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except stripe_events.WebhookError as refused:
        log.warning("Refused a Stripe webhook delivery: %s", refused.code)
        return error(400, refused.code, refused.message)
    except stripe_events.PoisonEvent as poison:
        # Signed but unreadable: recorded as rejected under a stand-in id, answered 200 so Stripe stops.
        return _answer(stripe_events.stand_in_event(payload), poison.reason)
    return _answer(event)


def _answer(event: dict, reason: str | None = None):
    """Record the event (or its rejection) and say what happened: 200 once it is recorded, whatever
    its outcome; 503 when it could not be recorded now (the database is down), so Stripe retries."""
    try:
        if reason is None:
            result = conversions.receive_event(event)
        else:
            result = conversions.receive_rejection(event, reason)
    except Exception:
        # Stripe retries a failed delivery later; the event id is not recorded, so it will be processed.
        log.exception("Could not process Stripe event %s (%s)", str(event.get("id"))[:255],
                      str(event.get("type"))[:100])
        return error(503, "try_again", "The event could not be processed now; Stripe will retry.")
    answer = {"received": True, "duplicate": result.duplicate, "outcome": result.outcome}
    if result.reason:
        answer["reason"] = result.reason
    return jsonify(answer)


@bp.errorhandler(HTTPException)
def http_error(exception: HTTPException):
    if isinstance(exception, RequestEntityTooLarge):
        return error(400, "payload_too_large", "The body is larger than the endpoint accepts.")
    name = (exception.name or "error").lower().replace(" ", "_")
    return error(exception.code or 500, name, exception.description or "")
