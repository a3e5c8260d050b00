"""Stripe webhook events, read: the signature check of a delivery, and a verified event turned into
the *facts* it states about one payment (paid, refunded so far, dispute opened/won/lost), or the
reason it states none.

Pure functions of the event's JSON: nothing here reads or writes the database. The facts are
recorded, with their ledger effects, by :mod:`advocacy_portal.services.conversions`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Callable

import stripe

from advocacy_portal.config import config_value
from advocacy_portal.services.payments import USER_METADATA_KEY


@dataclass(frozen=True)
class PaymentFacts:
    """What one event says about one payment. ``None`` means "this event does not say"."""

    payment_intent_id: str | None = None
    charge_id: str | None = None
    invoice_id: str | None = None
    checkout_session_id: str | None = None
    subscription_id: str | None = None
    stripe_customer_id: str | None = None
    user_id: str | None = None
    kind: str = "payment"
    amount_minor: int | None = None
    currency: str | None = None
    paid_at: datetime | None = None
    refunded_minor: int | None = None
    dispute_status: str | None = None
    dispute_id: str | None = None
    #: The promotion codes the payment used (a Checkout Session's ``discounts``).
    promotion_code_ids: tuple[str, ...] = ()
    #: The card's fingerprint, when the event carries the charge (for the fraud rules).
    card_fingerprint: str | None = None

    @property
    def payment_key(self) -> str | None:
        return self.payment_intent_id or self.invoice_id or self.charge_id or self.checkout_session_id


class PoisonEvent(ValueError):
    """A correctly signed event that can never be applied (a field out of range, a shape Stripe never
    sends): recorded as rejected with ``reason``, answered 2xx so Stripe stops retrying, never posted."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


#: Stripe ids (``evt_...``, ``pi_...``) and event types: letters, digits and ``_ - . :``, at most 255.
_SANE_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,255}")
_SANE_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
#: Amounts are minor units in a signed 64-bit column.
MAX_AMOUNT = 2**63 - 1
#: Stripe's times are Unix seconds after its founding and not far in the future.
EARLIEST_TIME = int(datetime(2009, 1, 1, tzinfo=timezone.utc).timestamp())
LATEST_TIME = int(datetime(2200, 1, 1, tzinfo=timezone.utc).timestamp())
#: Longest user id read from metadata (the column's width).
MAX_USER_ID = 255


def _id(value) -> str | None:
    """A Stripe reference, expanded (a dict with ``id``) or not (the id).

    :raises PoisonEvent: when the id is too long or has characters no Stripe id has.
    """
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        return None
    if not _SANE_ID.fullmatch(value):
        raise PoisonEvent(f"a Stripe id of {len(value)} characters that is not a Stripe id")
    return value


def _time(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PoisonEvent(f"a time that is not whole Unix seconds ({type(value).__name__})")
    if not EARLIEST_TIME <= value <= LATEST_TIME:
        raise PoisonEvent(f"a time out of range ({str(value)[:30]})")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def _amount(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PoisonEvent(f"an amount that is not a whole number ({type(value).__name__})")
    if not 0 <= value <= MAX_AMOUNT:
        raise PoisonEvent(f"an amount out of range ({str(value)[:30]})")
    return value


def _currency(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise PoisonEvent("a currency that is not a three-letter code")
    return value.lower()


def _metadata_user(*sources) -> str | None:
    for metadata in sources:
        if isinstance(metadata, dict):
            value = metadata.get(USER_METADATA_KEY)
            if isinstance(value, str) and value:
                if len(value) > MAX_USER_ID:
                    raise PoisonEvent(f"a user id of {len(value)} characters in the metadata")
                return value
    return None


def event_time(event: dict) -> datetime | None:
    """When Stripe created the event (its ``created``), or ``None`` if it does not say."""
    return _time(event.get("created"))


def event_object(event: dict):
    """The object the event is about (``data.object``), or ``None``."""
    return _dig(event, "data", "object")


def _dig(data, *path):
    for step in path:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and len(data) > step:
            data = data[step]
        else:
            return None
    return data


_CHECKOUT_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def _checkout_user(obj: dict) -> str | None:
    reference = obj.get("client_reference_id")
    if isinstance(reference, str) and len(reference) > MAX_USER_ID:
        raise PoisonEvent(f"a client_reference_id of {len(reference)} characters")
    return _metadata_user(obj.get("metadata")) or (reference if isinstance(reference, str) else None)


def customer_link(event_type: str, obj) -> tuple[str, str] | None:
    """``(host user id, Stripe customer id)`` when the event is a Checkout Session naming both
    (whatever its mode): the mapping to store before its facts are recorded."""
    if event_type not in _CHECKOUT_EVENTS or not isinstance(obj, dict):
        return None
    user_id = _checkout_user(obj)
    customer = _id(obj.get("customer"))
    return (user_id, customer) if customer and user_id else None


def _checkout_session(event: dict, obj: dict) -> PaymentFacts | str:
    mode = obj.get("mode")
    user_id = _checkout_user(obj)
    customer = _id(obj.get("customer"))
    if mode == "subscription":
        # The subscription's invoices (invoice.paid) are the payments; this event only teaches us who
        # the customer is.
        return "subscription_checkout"
    if mode not in (None, "payment"):
        return "not_a_payment"
    paid = event.get("type") == "checkout.session.async_payment_succeeded" or obj.get("payment_status") == "paid"
    return PaymentFacts(
        payment_intent_id=_id(obj.get("payment_intent")),
        checkout_session_id=_id(obj.get("id")),
        stripe_customer_id=customer,
        user_id=user_id,
        amount_minor=_amount(obj.get("amount_total")),
        currency=_currency(obj.get("currency")),
        paid_at=_time(event.get("created")) if paid else None,
        promotion_code_ids=_promotion_codes(obj) if paid else (),
        card_fingerprint=_fingerprint(_dig(obj, "payment_intent", "latest_charge")),
    )


def _fingerprint(charge) -> str | None:
    """The card fingerprint of a charge (``payment_method_details.card.fingerprint``), if any."""
    return _id(_dig(charge, "payment_method_details", "card", "fingerprint"))


def _promotion_codes(obj: dict) -> tuple[str, ...]:
    """The promotion codes a Checkout Session applied: ``discounts[].promotion_code``, and
    ``total_details.breakdown.discounts[].discount.promotion_code`` when the breakdown was expanded."""
    found = [_id(item.get("promotion_code")) for item in obj.get("discounts") or [] if isinstance(item, dict)]
    for item in _dig(obj, "total_details", "breakdown", "discounts") or []:
        found.append(_id(_dig(item, "discount", "promotion_code")))
    return tuple(sorted({value for value in found if value}))


def _invoice(event: dict, obj: dict) -> PaymentFacts | str:
    subscription = _id(obj.get("subscription")) or _id(
        _dig(obj, "parent", "subscription_details", "subscription")
    )
    payment_intent = _id(obj.get("payment_intent")) or _id(
        _dig(obj, "payments", "data", 0, "payment", "payment_intent")
    )
    user_id = _metadata_user(
        _dig(obj, "parent", "subscription_details", "metadata"),
        _dig(obj, "subscription_details", "metadata"),
        obj.get("metadata"),
        _dig(obj, "lines", "data", 0, "metadata"),
    )
    paid_at = _time(_dig(obj, "status_transitions", "paid_at")) or _time(event.get("created"))
    return PaymentFacts(
        payment_intent_id=payment_intent,
        charge_id=_id(obj.get("charge")),
        invoice_id=_id(obj.get("id")),
        subscription_id=subscription,
        stripe_customer_id=_id(obj.get("customer")),
        user_id=user_id,
        kind="invoice",
        amount_minor=_amount(obj.get("amount_paid")),
        currency=_currency(obj.get("currency")),
        paid_at=paid_at,
    )


def _invoice_payment(event: dict, obj: dict) -> PaymentFacts | str:
    # The current API links an invoice to its PaymentIntent only here; refunds and disputes name the
    # PaymentIntent, so this fact ties them to the invoice's conversion.
    invoice = _id(obj.get("invoice"))
    payment_intent = _id(_dig(obj, "payment", "payment_intent"))
    if not invoice or not payment_intent:
        return "no_payment"
    return PaymentFacts(payment_intent_id=payment_intent, invoice_id=invoice, kind="invoice")


def _charge_refunded(event: dict, obj: dict) -> PaymentFacts | str:
    refunded = _amount(obj.get("amount_refunded"))
    if refunded is None:
        return "malformed"
    return _charge_facts(obj, refunded_minor=refunded, card_fingerprint=_fingerprint(obj))


def _charge_succeeded(event: dict, obj: dict) -> PaymentFacts | str:
    # Only the card: the payment itself is counted from its Checkout Session or invoice.
    fingerprint = _fingerprint(obj)
    if fingerprint is None:
        return "no_card"
    return _charge_facts(obj, card_fingerprint=fingerprint)


def _charge_facts(obj: dict, **facts) -> PaymentFacts:
    """The ids a Charge object carries, with ``facts``."""
    return PaymentFacts(
        payment_intent_id=_id(obj.get("payment_intent")),
        charge_id=_id(obj.get("id")),
        invoice_id=_id(obj.get("invoice")),
        stripe_customer_id=_id(obj.get("customer")),
        user_id=_metadata_user(obj.get("metadata")),
        **facts,
    )


def _dispute(status: str | None) -> Callable[[dict, dict], PaymentFacts | str]:
    def handler(event: dict, obj: dict) -> PaymentFacts | str:
        state = status
        if state is None:  # closed: won, lost, or an inquiry closed without a chargeback
            state = {"won": "won", "lost": "lost", "warning_closed": "won"}.get(obj.get("status"))
            if state is None:
                return "dispute_status_unknown"
        return PaymentFacts(
            payment_intent_id=_id(obj.get("payment_intent")),
            charge_id=_id(obj.get("charge")),
            user_id=_metadata_user(obj.get("metadata")),
            dispute_status=state,
            dispute_id=_id(obj.get("id")),
        )

    return handler


#: Event type → handler reading the payment facts from the event (or an outcome string).
EVENT_HANDLERS: dict[str, Callable[[dict, dict], PaymentFacts | str]] = {
    "checkout.session.completed": _checkout_session,
    "checkout.session.async_payment_succeeded": _checkout_session,
    "invoice.paid": _invoice,
    "invoice_payment.paid": _invoice_payment,
    "charge.refunded": _charge_refunded,
    "charge.succeeded": _charge_succeeded,
    "charge.dispute.created": _dispute("open"),
    "charge.dispute.closed": _dispute(None),
}


# -- poison events --------------------------------------------------------------------------------


def json_depth(payload: bytes) -> int:
    """How deeply ``payload`` nests its arrays and objects, counted without parsing it (no recursion,
    so a body of a million ``[`` cannot crash the check that refuses it). Brackets inside strings do
    not count; the body need not be valid JSON."""
    text = _JSON_STRING.sub(b"", payload)
    depth = deepest = 0
    for byte in _NOT_BRACKET.sub(b"", text):
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_LEADING_ID = re.compile(rb'\A\s*\{\s*"id"\s*:\s*"([A-Za-z0-9_]{1,200})"')
_EVENT_TYPE = re.compile(rb'"type"\s*:\s*"([a-z0-9_]+\.[a-z0-9_.]{1,90})"')


def stand_in_event(payload: bytes) -> dict:
    """An ``{"id", "type"}`` to record a signed body that cannot be read as an event under: its
    leading ``"id"`` (Stripe writes it first) if it looks like one, else a digest of the body, which
    is the same on every retry of one delivery."""
    found = _LEADING_ID.match(payload)
    event_id = found.group(1).decode() if found else "unreadable_" + hashlib.sha256(payload).hexdigest()[:40]
    kind = _EVENT_TYPE.search(payload)
    return {"id": event_id, "type": kind.group(1).decode() if kind else "unknown"}


def recordable_id(value) -> str:
    """The id to record an event under: its own when it is a Stripe id, else a digest of it."""
    if isinstance(value, str) and _SANE_ID.fullmatch(value):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "invalid_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _unstorable_value(event) -> str | None:
    """Why a value somewhere in the event cannot be stored (PostgreSQL refuses NUL in text and
    ``NaN`` in JSON; a lone surrogate cannot be encoded), or ``None``."""
    stack = [event]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "a NUL character in a string"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a lone surrogate in a string"
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -(2**63) <= value <= MAX_AMOUNT:
                return "a number beyond 64 bits"
        elif isinstance(value, float) and not math.isfinite(value):
            return "a number that is not finite"
    return None


def rejection_reason(event: dict) -> str | None:
    """Why a verified event can never be applied, or ``None`` if it can: a value the database cannot
    store, an id, type, time, amount or currency out of range, an object of the wrong shape. The same
    readers the handlers use decide, so an event accepted here reads without error there."""
    problem = _unstorable_value(event)
    if problem:
        return f"The event holds {problem}."
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not _SANE_ID.fullmatch(event_id):
        length = len(event_id) if isinstance(event_id, str) else 0
        return f"The event id is not a Stripe id ({length} characters)."
    if not isinstance(event_type, str) or not _SANE_TYPE.fullmatch(event_type):
        return "The event type is not a Stripe event type."
    try:
        event_time(event)
        if event.get("created") is None:
            raise PoisonEvent("no created time")
        obj = event_object(event)
        handler = EVENT_HANDLERS.get(event_type)
        if handler is not None:
            if not isinstance(obj, dict):
                raise PoisonEvent("no data.object")
            customer_link(event_type, obj)
            facts = handler(event, obj)
            refused = payment_refusal(facts)
            if refused:
                return refused
    except PoisonEvent as poison:
        return f"The event has {poison.reason}."
    return None


def _known_currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(code.lower() for code in list_currencies())


def payment_refusal(facts) -> str | None:
    """Why the payment an event reports must never be counted or rewarded, or ``None``: a paid
    payment of zero (or less), or in a currency that is not ISO 4217 or not in
    ``ADVOCACY_PAYMENT_CURRENCIES``. Such an event is recorded as rejected with this reason (shown on
    the staff payments page) and changes no figure and no balance."""
    if not isinstance(facts, PaymentFacts):
        return None
    if facts.currency is not None:
        allowed = config_value("PAYMENT_CURRENCIES")
        allowed = {str(code).lower() for code in allowed} if allowed else _known_currencies()
        if facts.currency not in allowed:
            return f"A payment in {facts.currency.upper()}, which is not a currency the program accepts."
    if facts.paid_at is not None and facts.amount_minor is not None and facts.amount_minor <= 0:
        return f"A paid payment of {facts.amount_minor} {(facts.currency or '').upper()}".rstrip() + \
            ", which is not a positive amount: not counted, never rewarded."
    return None


# -- the signature ------------------------------------------------------------------------------------


class WebhookError(ValueError):
    """A webhook delivery that cannot be trusted; ``code`` names why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def verify_webhook(payload: bytes, signature: str | None) -> dict:
    """Verify a webhook body against every secret in ``ADVOCACY_STRIPE_WEBHOOK_SECRETS`` with
    :meth:`stripe.WebhookSignature.verify_header` (the check :func:`stripe.Webhook.construct_event`
    makes, without building a ``StripeObject`` tree the plugin does not use) and return the event as
    plain JSON.

    :raises WebhookError: ``not_configured``, ``missing_signature``, ``invalid_signature`` (forged,
        stale, wrong secret, malformed header) or ``malformed_payload`` (a body that cannot even be
        decoded to check its signature).
    :raises PoisonEvent: when the signed body nests deeper than ``ADVOCACY_STRIPE_WEBHOOK_MAX_DEPTH``,
        is not JSON or not an event (record it with :func:`stand_in_event`).
    """
    secrets = config_value("STRIPE_WEBHOOK_SECRETS")
    if not secrets:
        raise WebhookError("not_configured", "No webhook secret is configured.")
    if not signature:
        raise WebhookError("missing_signature", "The Stripe-Signature header is missing.")
    tolerance = config_value("STRIPE_WEBHOOK_TOLERANCE_SECONDS")
    verified = False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, TypeError):
            # The body could not even be decoded to check the signature.
            raise WebhookError("malformed_payload", "The body is not a JSON event.") from None
        verified = True
        break
    if not verified:
        raise WebhookError(
            "invalid_signature",
            "The signature does not match, or its timestamp is outside the tolerance.",
        )
    depth_limit = config_value("STRIPE_WEBHOOK_MAX_DEPTH")
    depth = json_depth(payload)
    if depth > depth_limit:
        # Signed, so Stripe sent it: refusing would only have it retried for three days.
        raise PoisonEvent(f"The body nests {depth} levels deep; at most {depth_limit} are read.")
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        # The signature matched, but the body is not JSON (or holds a number of over 4,300 digits).
        raise PoisonEvent("The body is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise PoisonEvent("The body is not a Stripe event (no type).")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise PoisonEvent("The body is not a Stripe event (no id).")
    return event
