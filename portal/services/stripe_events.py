"""Stripe webhook events, read: the signature check of a delivery, and a verified event turned into
the *facts* it states about one payment (paid, refunded so far, dispute opened/won/lost), or the
reason it states none.

Pure functions of the event's JSON: nothing here reads or writes the database. The facts are
recorded, with their ledger effects, by :mod:`advocacy_portal.services.conversions`.
"""

from __future__ import annotations

import json
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

    @property
    def payment_key(self) -> str | None:
        return self.payment_intent_id or self.invoice_id or self.charge_id or self.checkout_session_id


def _id(value) -> str | None:
    """A Stripe reference, expanded (a dict with ``id``) or not (the id)."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _time(value) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(int(value), tz=timezone.utc)


def _amount(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _currency(value) -> str | None:
    return value.lower() if isinstance(value, str) and len(value) == 3 else None


def _metadata_user(*sources) -> str | None:
    for metadata in sources:
        if isinstance(metadata, dict):
            value = metadata.get(USER_METADATA_KEY)
            if isinstance(value, str) and value:
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
    return _metadata_user(obj.get("metadata")) or (
        obj.get("client_reference_id") if isinstance(obj.get("client_reference_id"), str) else None
    )


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
    )


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
    if refunded is None or refunded < 0:
        return "malformed"
    return PaymentFacts(
        payment_intent_id=_id(obj.get("payment_intent")),
        charge_id=_id(obj.get("id")),
        invoice_id=_id(obj.get("invoice")),
        stripe_customer_id=_id(obj.get("customer")),
        user_id=_metadata_user(obj.get("metadata")),
        refunded_minor=refunded,
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
    "charge.dispute.created": _dispute("open"),
    "charge.dispute.closed": _dispute(None),
}


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
        stale, wrong secret, malformed header) or ``malformed_payload``.
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
    try:
        event = json.loads(payload)
    except ValueError:
        # The signature matched, but the body is not JSON.
        raise WebhookError("malformed_payload", "The body is not a JSON event.") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not event["id"]
        or not isinstance(event.get("type"), str)
    ):
        raise WebhookError("malformed_payload", "The body is not a Stripe event.")
    return event
