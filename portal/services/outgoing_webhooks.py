"""Outgoing webhooks following the Standard Webhooks specification (https://www.standardwebhooks.com/).

How an event travels:

1. a service calls :func:`emit` beside the blinker signal of the same change, in the same transaction:
   it stores the message (its id and exact JSON body) and enqueues one outbox task, ``webhook.event``,
   which commits or rolls back with the change;
2. that task's handler, :func:`fan_out`, adds one delivery per enabled endpoint subscribed to the type
   (a unique row per message and endpoint) and one ``webhook.deliver`` task each, keyed
   ``"<message id>:<endpoint id>"``: each endpoint is delivered to on its own, once;
3. :func:`attempt` signs and POSTs the message (``webhook-id``, ``webhook-timestamp``,
   ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``), logs the attempt, and
   says whether to try again: on the spec's schedule (:data:`SCHEDULE`), after ``Retry-After`` on a
   429 or 503; a 410 Gone disables the endpoint.

Every function flushes; the caller's unit of work commits.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import secrets as secrets_module
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from sqlalchemy import delete
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from advocacy_portal import outbox
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import WebhookAttempt
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from advocacy_portal.models import WebhookMessage
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit
from advocacy_portal.services import webhook_targets
from advocacy_portal.services.webhook_events import EVENT_TYPES
from advocacy_portal.services.webhook_events import TEST_EVENT_TYPE
from advocacy_portal.services.webhook_events import iso
from advocacy_portal.services.webhook_events import ping_data

log = logging.getLogger(__name__)

#: Seconds to wait before each attempt, the first one included (Standard Webhooks' schedule):
#: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. After the last, the delivery has failed.
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(SCHEDULE)
#: The longest ``Retry-After`` honoured.
MAX_RETRY_AFTER_SECONDS = 24 * 3600

SECRET_PREFIX = "whsec_"
#: Secret sizes accepted, in bytes (the spec asks for 24 to 64).
SECRET_BYTES = (24, 64)

#: The outbox topics: one event's fan-out, and one attempt of one delivery.
EVENT_TOPIC = "webhook.event"
DELIVER_TOPIC = "webhook.deliver"

USER_AGENT = "AdvocacyPortal-Webhooks (+https://www.standardwebhooks.com/)"
AUDIT_SUBJECT = "webhook_endpoint"


class EndpointError(ValueError):
    """An endpoint that cannot be saved as given; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# -- secrets and signatures ------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh random signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets_module.token_bytes(32)).decode("ascii")


def check_secret(secret: str) -> str:
    """A secret given by staff, checked: ``whsec_`` then base64 of 24 to 64 bytes.

    :raises EndpointError: otherwise.
    """
    secret = (secret or "").strip()
    if not secret.startswith(SECRET_PREFIX):
        raise EndpointError("secret", "A secret starts with whsec_ (or leave it empty to get a new one).")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise EndpointError("secret", "After whsec_ the secret must be base64.") from None
    if not SECRET_BYTES[0] <= len(raw) <= SECRET_BYTES[1]:
        raise EndpointError(
            "secret", f"The secret must hold {SECRET_BYTES[0]} to {SECRET_BYTES[1]} bytes; this one has {len(raw)}."
        )
    return secret


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a message to ``endpoint`` now: its secret, and during a rotation window
    the previous one too."""
    now = now or utcnow()
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        found.append(endpoint.previous_secret)
    return found


def sign(message_id: str, timestamp: int, body: str, secrets: list[str]) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, separated by spaces."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return " ".join(Webhook(secret).sign(message_id, moment, body) for secret in secrets)


def headers_for(message: WebhookMessage, endpoint: WebhookEndpoint, now: datetime | None = None) -> dict:
    """The headers of one attempt: signed afresh, so a retry hours later has a current timestamp."""
    now = now or utcnow()
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message.message_id, timestamp, message.body, signing_secrets(endpoint, now)),
    }


# -- endpoints (staff) --------------------------------------------------------------------------------------


def check_event_types(event_types) -> list[str]:
    """Event type names, known and in registry order.

    :raises EndpointError: none chosen, or an unknown one.
    """
    chosen = set(event_types or ())
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise EndpointError("event_types", f"Unknown event type: {', '.join(unknown)}.")
    if not chosen:
        raise EndpointError("event_types", "Choose at least one event to send.")
    return [name for name in EVENT_TYPES if name in chosen]


def _check_url(url: str) -> str:
    try:
        return webhook_targets.check_endpoint_url(url).url
    except webhook_targets.UnsafeTarget as refusal:
        raise EndpointError("url", str(refusal)) from None


def _snapshot(endpoint: WebhookEndpoint) -> dict:
    """What the audit log keeps of an endpoint (never its secrets)."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def create_endpoint(url: str, description: str | None, event_types, staff, secret: str | None = None) -> WebhookEndpoint:
    """Register an endpoint, enabled, with ``secret`` or a new one.

    :raises EndpointError: the URL is refused (form, HTTPS, address), no or unknown event types, or
        the secret is malformed.
    """
    endpoint = WebhookEndpoint(
        url=_check_url(url),
        description=(description or "").strip() or None,
        event_types=check_event_types(event_types),
        enabled=True,
        secret=check_secret(secret) if secret and secret.strip() else new_secret(),
    )
    session = get_session()
    session.add(endpoint)
    session.flush()
    audit.record_action(staff, "webhook.create", AUDIT_SUBJECT, endpoint.id, after=_snapshot(endpoint))
    return endpoint


def update_endpoint(endpoint: WebhookEndpoint, url: str, description: str | None, event_types, staff) -> WebhookEndpoint:
    """Change an endpoint's URL, description and events (the URL is checked again).

    :raises EndpointError: as :func:`create_endpoint`.
    """
    before = _snapshot(endpoint)
    endpoint.url = _check_url(url)
    endpoint.description = (description or "").strip() or None
    endpoint.event_types = check_event_types(event_types)
    endpoint.updated_at = utcnow()
    get_session().flush()
    audit.record_action(staff, "webhook.update", AUDIT_SUBJECT, endpoint.id, before=before, after=_snapshot(endpoint))
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, staff, reason: str | None = None) -> WebhookEndpoint:
    """Enable or disable an endpoint. A disabled endpoint gets no new deliveries, and the ones waiting
    for a retry are cancelled when their turn comes."""
    if endpoint.enabled == enabled:
        return endpoint
    before = _snapshot(endpoint)
    now = utcnow()
    endpoint.enabled = enabled
    endpoint.disabled_at = None if enabled else now
    endpoint.disabled_reason = None if enabled else (reason or "Disabled by staff.")
    endpoint.updated_at = now
    get_session().flush()
    audit.record_action(
        staff, "webhook.enable" if enabled else "webhook.disable", AUDIT_SUBJECT, endpoint.id,
        before=before, after=_snapshot(endpoint), reason=None if enabled else endpoint.disabled_reason,
    )
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, staff, now: datetime | None = None) -> str:
    """Give the endpoint a new secret; the old one keeps signing for
    ``ADVOCACY_WEBHOOKS_SECRET_ROTATION_HOURS`` (both signatures are sent). Returns the new secret."""
    now = now or utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(hours=config_value("WEBHOOKS_SECRET_ROTATION_HOURS"))
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    get_session().flush()
    audit.record_action(
        staff, "webhook.rotate_secret", AUDIT_SUBJECT, endpoint.id,
        after={"previous_secret_expires_at": iso(endpoint.previous_secret_expires_at)},
    )
    return endpoint.secret


def end_rotation(endpoint: WebhookEndpoint, staff) -> None:
    """Stop signing with the previous secret now (the receiver has switched over)."""
    if endpoint.previous_secret is None:
        return
    endpoint.previous_secret = None
    endpoint.previous_secret_expires_at = None
    endpoint.updated_at = utcnow()
    get_session().flush()
    audit.record_action(staff, "webhook.end_rotation", AUDIT_SUBJECT, endpoint.id)


def delete_endpoint(endpoint: WebhookEndpoint, staff) -> None:
    """Remove an endpoint with its delivery log."""
    before = _snapshot(endpoint)
    endpoint_id = endpoint.id
    session = get_session()
    # Explicit deletes, not only the foreign keys' ON DELETE CASCADE: SQLite enforces those only
    # with PRAGMA foreign_keys=ON, which a host may not set.
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    session.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id))
    session.delete(endpoint)
    session.flush()
    audit.record_action(staff, "webhook.delete", AUDIT_SUBJECT, endpoint_id, before=before)


# -- messages -------------------------------------------------------------------------------------------------


def _subscribers(event_type: str) -> list[WebhookEndpoint]:
    endpoints = get_session().scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)).order_by(WebhookEndpoint.id)
    )
    return [endpoint for endpoint in endpoints if event_type in (endpoint.event_types or ())]


def new_message(event_type: str, data: dict, at: datetime | None = None,
                endpoint_id: int | None = None) -> WebhookMessage:
    """Store a message: a new ``msg_`` id and the JSON body ``{"type", "timestamp", "data"}``."""
    body = json.dumps(
        {"type": event_type, "timestamp": iso(at or utcnow()), "data": data},
        separators=(",", ":"), ensure_ascii=False,
    )
    message = WebhookMessage(
        message_id=f"msg_{uuid.uuid4().hex}", event_type=event_type, body=body, endpoint_id=endpoint_id
    )
    session = get_session()
    session.add(message)
    session.flush()
    return message


def emit(event_type: str, data, at: datetime | None = None) -> str | None:
    """Send ``event_type`` with ``data`` to every enabled endpoint subscribed to it, once the current
    transaction commits (the message and its outbox task are written in that transaction, so a crash
    after the commit loses nothing and a rollback sends nothing). Returns the message id, or ``None``
    when no endpoint wants the event (then nothing is written).

    ``data`` is the message's dict, or a function returning it: then it is only built (and what it
    reads only queried) when some endpoint wants the event, as on the Stripe events' hot path.

    :raises ValueError: for an event type that is not registered.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not _subscribers(event_type):
        return None
    message = new_message(event_type, data() if callable(data) else data, at)
    outbox.enqueue(
        EVENT_TOPIC, {"message": message.id}, key=f"{EVENT_TOPIC}:{message.message_id}",
        subject_type="webhook_message", subject_id=message.message_id,
    )
    return message.message_id


@outbox.handler(EVENT_TOPIC)
def _fan_out_task(task: outbox.Task) -> None:
    """The outbox handler of ``webhook.event``."""
    fan_out(task.payload["message"])


def fan_out(message_pk: int) -> list[int]:
    """One delivery, and one ``webhook.deliver`` task, per enabled endpoint subscribed to the
    message's type. Running it again adds nothing. Returns the new deliveries' ids."""
    session = get_session()
    message = session.get(WebhookMessage, message_pk)
    if message is None:
        return []
    created = []
    for endpoint in _subscribers(message.event_type):
        delivery_id = _add_delivery(message, endpoint)
        if delivery_id is not None:
            created.append(delivery_id)
    return created


def _add_delivery(message: WebhookMessage, endpoint: WebhookEndpoint) -> int | None:
    now = utcnow()
    delivery_id = insert_or_ignore(
        WebhookDelivery,
        {"message_id": message.id, "endpoint_id": endpoint.id, "state": "pending", "attempts": 0,
         "replays": 0, "next_attempt_at": now, "created_at": now, "updated_at": now},
        ["message_id", "endpoint_id"],
    )
    if delivery_id is not None:
        _queue_attempt(delivery_id, message.message_id, endpoint.id, replay=0, number=1)
    return delivery_id


def _queue_attempt(delivery_id: int, message_id: str, endpoint_id: int, *, replay: int, number: int,
                   delay: timedelta | None = None) -> None:
    """One ``webhook.deliver`` task per attempt, written with the outcome of the attempt before it (so
    the attempt log and the retry commit together: a handler's ``outbox.Retry`` would roll the log
    back). The first attempt's key is ``"<message id>:<endpoint id>"``: once per message and endpoint."""
    key = f"{message_id}:{endpoint_id}"
    if replay or number > 1:
        key += f":r{replay}:a{number}"
    outbox.enqueue(
        DELIVER_TOPIC, {"delivery": delivery_id, "replay": replay, "attempt": number}, key=key, delay=delay,
        subject_type="webhook_delivery", subject_id=str(delivery_id),
    )


@outbox.handler(DELIVER_TOPIC)
def _deliver_task(task: outbox.Task) -> None:
    """The outbox handler of ``webhook.deliver``: one attempt (which queues the next if needed)."""
    payload = task.payload
    attempt(payload["delivery"], expected=(payload.get("replay", 0), payload.get("attempt", 1)))


def send_test_event(endpoint: WebhookEndpoint, staff) -> WebhookDelivery:
    """A ``webhook.test`` message to this one endpoint (enabled or not: staff asked for it)."""
    message = new_message(TEST_EVENT_TYPE, ping_data(endpoint.id), endpoint_id=endpoint.id)
    now = utcnow()
    delivery = WebhookDelivery(message_id=message.id, endpoint_id=endpoint.id, state="pending",
                               attempts=0, replays=0, next_attempt_at=now, created_at=now, updated_at=now)
    session = get_session()
    session.add(delivery)
    session.flush()
    audit.record_action(staff, "webhook.test", AUDIT_SUBJECT, endpoint.id, after={"message_id": message.message_id})
    _queue_attempt(delivery.id, message.message_id, endpoint.id, replay=0, number=1)
    return delivery


def replay(delivery: WebhookDelivery, staff) -> WebhookDelivery:
    """Send a delivery again, with the same ``webhook-id`` and body, starting the retry schedule anew.

    :raises ValueError: while the delivery is still pending (it will be tried anyway).
    """
    if delivery.state == "pending":
        raise ValueError("This delivery is still being tried; wait for its outcome before replaying it.")
    message = get_session().get(WebhookMessage, delivery.message_id)
    delivery.state = "pending"
    delivery.attempts = 0
    delivery.replays += 1
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    get_session().flush()
    audit.record_action(
        staff, "webhook.replay", AUDIT_SUBJECT, delivery.endpoint_id,
        after={"message_id": message.message_id, "delivery_id": delivery.id, "replay": delivery.replays},
    )
    _queue_attempt(delivery.id, message.message_id, delivery.endpoint_id, replay=delivery.replays, number=1)
    return delivery


# -- delivery ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    """What :func:`attempt` did. ``retry_after`` (seconds) is set when the delivery should be tried
    again; ``state`` is the delivery's state afterwards (``missing`` for a delivery that is gone)."""

    state: str
    status_code: int | None = None
    error: str | None = None
    retry_after: int | None = None
    attempted: bool = False


def attempt(delivery_id: int, now: datetime | None = None, *, expected: tuple[int, int] | None = None) -> AttemptResult:
    """Try a pending delivery once: sign, POST, log the attempt, and settle what comes next.

    2xx: succeeded. 410 Gone: failed, and the endpoint is disabled (staff see why). Anything else
    (another status, a timeout, a refused address, no connection): tried again on :data:`SCHEDULE`, or
    after the ``Retry-After`` of a 429 or 503, until :data:`MAX_ATTEMPTS`; then failed. A delivery that
    is not pending (done, or replayed meanwhile) is left alone; one whose endpoint was disabled is
    cancelled. The next attempt is queued in the same transaction as this one's log.

    :param expected: ``(replay, attempt number)`` the caller means to make; any other state of the
        delivery (a task left from before a replay) is left alone.
    """
    session = get_session()
    delivery = session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        return AttemptResult("missing")
    if delivery.state != "pending":
        return AttemptResult(delivery.state)
    if expected is not None and expected != (delivery.replays, delivery.attempts + 1):
        log.info("Webhook delivery %s: a task for attempt %s is stale (now at %s); skipped",
                 delivery.id, expected, (delivery.replays, delivery.attempts + 1))
        return AttemptResult(delivery.state)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    message = session.get(WebhookMessage, delivery.message_id)
    is_test = message.event_type == TEST_EVENT_TYPE
    if not endpoint.enabled and not is_test:
        delivery.state = "cancelled"
        delivery.last_error = "The endpoint was disabled before this delivery was sent."
        delivery.updated_at = utcnow()
        session.flush()
        return AttemptResult("cancelled")

    now = now or utcnow()
    answer = webhook_targets.post(endpoint.url, message.body.encode("utf-8"), headers_for(message, endpoint, now))
    finished = utcnow()  # the waits of the schedule count from the end of the attempt
    delivery.attempts += 1
    succeeded = answer.status_code is not None and 200 <= answer.status_code < 300
    error = answer.error
    if error is None and not succeeded:
        error = f"The endpoint answered {answer.status_code}."
    retry_after = None
    if not succeeded and answer.status_code != 410 and delivery.attempts < MAX_ATTEMPTS and not is_test:
        retry_after = _retry_wait(answer, delivery.attempts)
    session.add(WebhookAttempt(
        delivery_id=delivery.id,
        attempted_at=now,
        status_code=answer.status_code,
        duration_ms=answer.duration_ms,
        error=None if succeeded else error,
        response_snippet=_snippet(answer.body),
        succeeded=succeeded,
        trigger="test" if is_test else ("replay" if delivery.replays else "auto"),
        details={"address": answer.address, "retry_after": retry_after},
    ))
    delivery.last_status_code = answer.status_code
    delivery.last_error = None if succeeded else error
    delivery.updated_at = finished
    if succeeded:
        delivery.state = "succeeded"
        delivery.delivered_at = finished
        delivery.next_attempt_at = None
    elif answer.status_code == 410:
        delivery.state = "failed"
        delivery.next_attempt_at = None
        set_enabled(
            endpoint, False, None,
            reason=f"The endpoint answered 410 Gone on {now.strftime('%Y-%m-%d %H:%M')} UTC: disabled.",
        )
        log.warning("Webhook endpoint %s answered 410 Gone: disabled", endpoint.id)
    elif retry_after is None:
        delivery.state = "failed"
        delivery.next_attempt_at = None
        log.warning("Webhook delivery %s to endpoint %s failed for good: %s", delivery.id, endpoint.id, error)
    else:
        delivery.next_attempt_at = finished + timedelta(seconds=retry_after)
        _queue_attempt(delivery.id, message.message_id, endpoint.id, replay=delivery.replays,
                       number=delivery.attempts + 1, delay=timedelta(seconds=retry_after))
        log.info("Webhook delivery %s: attempt %s failed (%s); again in %s s",
                 delivery.id, delivery.attempts, error, retry_after)
    session.flush()
    return AttemptResult(delivery.state, answer.status_code, None if succeeded else error, retry_after, True)


def _retry_wait(answer: webhook_targets.Answer, attempts: int) -> int:
    """Seconds before the next attempt: ``Retry-After`` on a 429 or 503, else the schedule's."""
    if answer.status_code in (429, 503):
        header = {name.lower(): value for name, value in answer.headers.items()}.get("retry-after")
        seconds = parse_retry_after(header)
        if seconds is not None:
            return max(1, min(seconds, MAX_RETRY_AFTER_SECONDS))
    return SCHEDULE[attempts]


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date (``None`` if neither)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0, int((moment - (now or utcnow())).total_seconds()))


def _snippet(body: bytes) -> str | None:
    if not body:
        return None
    limit = config_value("WEBHOOKS_RESPONSE_SNIPPET_CHARS")
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"
