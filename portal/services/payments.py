"""Stripe: the API client, host user ↔ Stripe customer mapping, the Checkout helper, friend promotion
codes, and the webhook events that record payments (conversions).

Incoming events are *facts* about a payment: paid, refunded so far, dispute opened/won/lost. Each is
stored on the payment's :class:`~advocacy_portal.models.Conversion` (created by whichever event comes first),
then :func:`advocacy_portal.services.rewards.reconcile` posts what the facts imply. Any order, any number of
duplicate deliveries: the same ledger.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Any
from typing import Callable

import stripe
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError

from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import dialect_insert
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import Conversion
from advocacy_portal.models import FriendPromotionCode
from advocacy_portal.models import Referral
from advocacy_portal.models import StripeCustomer
from advocacy_portal.models import StripeEvent
from advocacy_portal.models import utcnow
from advocacy_portal.services import ledger
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import rewards
from advocacy_portal.services.rules import current_rules

log = logging.getLogger(__name__)

#: Metadata key carrying the host user id on Checkout Sessions, PaymentIntents and Subscriptions.
USER_METADATA_KEY = "advocacy_user_id"


class StripeNotConfigured(RuntimeError):
    """``ADVOCACY_STRIPE_SECRET_KEY`` is not set."""


# -- the API client -----------------------------------------------------------------------------------


def stripe_client() -> stripe.StripeClient:
    """A :class:`stripe.StripeClient` built from the settings: secret key, API base, timeout, and no
    retries by the SDK (the plugin retries itself, with the same Idempotency-Key).

    :raises StripeNotConfigured: without ``ADVOCACY_STRIPE_SECRET_KEY``.
    """
    key = config_value("STRIPE_SECRET_KEY")
    if not key:
        raise StripeNotConfigured("set ADVOCACY_STRIPE_SECRET_KEY to call Stripe")
    base = config_value("STRIPE_API_BASE")
    options: dict[str, Any] = {}
    if base:
        options["base_addresses"] = {"api": base.rstrip("/"), "files": base.rstrip("/")}
    return stripe.StripeClient(
        key,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=float(config_value("STRIPE_TIMEOUT_SECONDS"))),
        **options,
    )


# -- customers and checkout ---------------------------------------------------------------------------


def stripe_customer_id_for(user_id) -> str | None:
    """The Stripe customer mapped to a host user id, or ``None``."""
    return get_session().scalar(
        select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == str(user_id))
    )


def user_id_for_customer(stripe_customer_id: str | None) -> str | None:
    """The host user id mapped to a Stripe customer, or ``None``."""
    if not stripe_customer_id:
        return None
    return get_session().scalar(
        select(StripeCustomer.user_id).where(StripeCustomer.stripe_customer_id == stripe_customer_id)
    )


def link_customer(user_id, stripe_customer_id: str) -> str:
    """Map a host user to an existing Stripe customer (first mapping wins); returns the mapped id."""
    insert_or_ignore(
        StripeCustomer,
        {"user_id": str(user_id), "stripe_customer_id": stripe_customer_id, "created_at": utcnow()},
        ["user_id"],
    )
    return stripe_customer_id_for(user_id)


def ensure_stripe_customer(user_id, email: str | None) -> str:
    """The Stripe customer id of a host user, creating the customer at Stripe on first use.

    Idempotent: the creation carries an Idempotency-Key derived from the user id, so a retry or a
    concurrent first checkout gets the same customer, and the mapping is inserted at most once.

    :raises StripeNotConfigured: without a secret key.
    :raises stripe.StripeError: when Stripe refuses or cannot be reached.
    """
    found = stripe_customer_id_for(user_id)
    if found:
        return found
    customer = stripe_client().v1.customers.create(
        {"email": email, "metadata": {USER_METADATA_KEY: str(user_id)}} if email else
        {"metadata": {USER_METADATA_KEY: str(user_id)}},
        {"idempotency_key": f"advocacy-customer-{_key_part(str(user_id))}"},
    )
    return link_customer(user_id, customer.id)


def _key_part(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def checkout_params(customer, mode: str = "payment") -> dict[str, Any]:
    """The Checkout Session parameters that let the plugin trace a payment back to its user and
    referral: ``client_reference_id``, the mapped ``customer``, ``metadata``, and the same metadata on
    ``payment_intent_data`` (``mode="payment"``) or ``subscription_data`` (``mode="subscription"``),
    so refunds and disputes of the payment carry it too. Add your ``line_items``, ``success_url``,
    ... and pass them to ``client.v1.checkout.sessions.create``.

    :param customer: a :class:`advocacy_portal.extension.Customer` (``portal.identify(user)``).
    :raises ValueError: for another mode.
    """
    if mode not in ("payment", "subscription"):
        raise ValueError("mode must be 'payment' or 'subscription'")
    metadata = {USER_METADATA_KEY: str(customer.id)}
    referral = referral_service.get_referral_of_friend(customer.id)
    if referral is not None and referral.status == "signed_up":
        metadata["advocacy_referral_id"] = str(referral.id)
    params: dict[str, Any] = {
        "mode": mode,
        "client_reference_id": str(customer.id),
        "customer": ensure_stripe_customer(customer.id, customer.email),
        "metadata": dict(metadata),
    }
    if mode == "payment":
        params["payment_intent_data"] = {"metadata": dict(metadata)}
    else:
        params["subscription_data"] = {"metadata": dict(metadata)}
    return params


def friend_promotion_code(customer) -> str | None:
    """The promotion code a referred friend may enter at checkout, created at Stripe once per referral
    (restricted to first-time customers); ``None`` when the friend came through no link, the referral
    is flagged, or the rule has no friend reward.

    :param customer: a :class:`advocacy_portal.extension.Customer`.
    """
    session = get_session()
    referral = referral_service.get_referral_of_friend(customer.id)
    if referral is None or referral.status != "signed_up":
        return None
    existing = session.scalar(
        select(FriendPromotionCode.code).where(FriendPromotionCode.referral_id == referral.id)
    )
    if existing:
        return existing
    rule = current_rules().for_campaign(referral.campaign)
    if rule.friend_reward is None:
        return None
    client = stripe_client()
    coupon_params = rule.friend_reward.coupon_params()
    coupon_key = _key_part(repr(sorted(coupon_params.items())))
    coupon = client.v1.coupons.create(
        {**coupon_params, "metadata": {"advocacy": "friend_reward"}},
        {"idempotency_key": f"advocacy-coupon-{coupon_key}"},
    )
    promotion = client.v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "customer": ensure_stripe_customer(customer.id, customer.email),
            "max_redemptions": 1,
            "restrictions": {"first_time_transaction": True},
            "metadata": {"advocacy_referral_id": str(referral.id)},
        },
        {"idempotency_key": f"advocacy-promotion-{referral.id}-{coupon_key}"},
    )
    insert_or_ignore(
        FriendPromotionCode,
        {
            "referral_id": referral.id,
            "stripe_promotion_code_id": promotion.id,
            "code": promotion.code,
            "created_at": utcnow(),
        },
        ["referral_id"],
    )
    return session.scalar(
        select(FriendPromotionCode.code).where(FriendPromotionCode.referral_id == referral.id)
    )


# -- webhook events -----------------------------------------------------------------------------------


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

    @property
    def payment_key(self) -> str | None:
        return self.payment_intent_id or self.invoice_id or self.charge_id or self.checkout_session_id


@dataclass(frozen=True)
class EventOutcome:
    """What :func:`receive_event` did with one event."""

    outcome: str
    duplicate: bool = False
    conversion_id: int | None = None


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


def _dig(data, *path):
    for step in path:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and len(data) > step:
            data = data[step]
        else:
            return None
    return data


def _checkout_session(event: dict, obj: dict) -> PaymentFacts | str:
    mode = obj.get("mode")
    user_id = _metadata_user(obj.get("metadata")) or (
        obj.get("client_reference_id") if isinstance(obj.get("client_reference_id"), str) else None
    )
    customer = _id(obj.get("customer"))
    if customer and user_id:
        link_customer(user_id, customer)
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
    )


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


_ID_COLUMNS = ("payment_intent_id", "charge_id", "invoice_id", "checkout_session_id", "subscription_id",
               "stripe_customer_id")


def _merge(survivor: Conversion, other: Conversion) -> None:
    """Fold an unpaid conversion, created by an event that did not yet know the payment's other ids
    (a refund seen before the invoice's payment was linked), into the paid one. An unpaid conversion
    has no reward and no ledger entries, so only its facts move."""
    session = get_session()
    for name in _ID_COLUMNS + ("customer_user_id",):
        if getattr(survivor, name) is None and getattr(other, name) is not None:
            setattr(survivor, name, getattr(other, name))
    survivor.refunded_minor = max(survivor.refunded_minor, other.refunded_minor)
    if _DISPUTE_RANK[other.dispute_status] > _DISPUTE_RANK[survivor.dispute_status]:
        survivor.dispute_status, survivor.dispute_id = other.dispute_status, other.dispute_id
    if survivor.referral_id is None and other.referral_id is not None:
        survivor.referral_id, survivor.advocate_id = other.referral_id, other.advocate_id
        survivor.campaign = other.campaign
    session.execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.__table__.c.conversion_id == other.id)
        .values(conversion_id=survivor.id)
    )
    session.delete(other)
    session.flush()


def _attribution(facts: PaymentFacts) -> tuple[str | None, Referral | None]:
    """The paying user and their referral, the referral's row locked (PostgreSQL) until the commit:
    it is locked before the conversion, as :func:`~advocacy_portal.services.rewards.reconcile` does, so two
    payments of one referral queue up instead of deadlocking."""
    user_id = facts.user_id or user_id_for_customer(facts.stripe_customer_id)
    if user_id is None:
        return None, None
    referral = get_session().scalar(
        select(Referral)
        .where(Referral.friend_user_id == str(user_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return user_id, referral


_DISPUTE_RANK = {None: 0, "open": 1, "won": 2, "lost": 2}


def _locked_conversions(facts: PaymentFacts) -> list[Conversion]:
    """Every conversion one of the event's Stripe ids names (normally one or none), locked
    (PostgreSQL) until the commit."""
    conditions = []
    for column, value in (
        (Conversion.payment_key, facts.payment_key),
        (Conversion.payment_intent_id, facts.payment_intent_id),
        (Conversion.invoice_id, facts.invoice_id),
        (Conversion.charge_id, facts.charge_id),
        (Conversion.checkout_session_id, facts.checkout_session_id),
    ):
        if value:
            conditions.append(column == value)
    return list(
        get_session().scalars(
            select(Conversion)
            .where(or_(*conditions))
            .order_by(Conversion.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _insert_conversion(facts: PaymentFacts) -> Conversion | None:
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING`` the new conversion as a loaded object (one
    statement; the new row is this transaction's until the commit), or ``None`` when a concurrent
    delivery inserted the payment first."""
    session = get_session()
    now = utcnow()
    statement = (
        dialect_insert(Conversion)
        .values(
            payment_key=facts.payment_key,
            kind=facts.kind,
            refunded_minor=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["payment_key"])
        .returning(Conversion)
    )
    session.flush()
    return session.scalars(statement).one_or_none()


def record_facts(facts: PaymentFacts) -> tuple[Conversion, Referral | None, bool]:
    """Store one event's facts on its payment's conversion (created if this is the first event about
    it), with the row locked (PostgreSQL) until the commit. Facts only ever grow: the largest refund
    seen wins, a closed dispute is final, the earliest paid time is kept.

    :returns: the conversion, its referral (row locked, or ``None``), and whether this event is the
        one that made it paid.
    """
    session = get_session()
    user_id, referral = _attribution(facts)
    rows = _locked_conversions(facts)
    if not rows:
        created = _insert_conversion(facts)
        rows = [created] if created is not None else _locked_conversions(facts)
    # Normally one row. Two when this event is the first to tie together ids seen apart (a refund of
    # an invoice's payment intent before invoice_payment.paid linked them): keep the paid one.
    rows.sort(key=lambda row: (row.paid_at is None, row.id))
    conversion = rows[0]
    for other in rows[1:]:
        if other.paid_at is None:
            _merge(conversion, other)
        else:
            log.warning(
                "Stripe ids of event facts %s name two paid conversions (%s, %s); kept apart",
                facts.payment_key, conversion.id, other.id,
            )
    was_paid = conversion.paid_at is not None
    for name in _ID_COLUMNS:
        value = getattr(facts, name)
        if value and getattr(conversion, name) is None:
            setattr(conversion, name, value)
    if facts.kind == "invoice":
        conversion.kind = "invoice"
    if facts.amount_minor is not None and (facts.paid_at is not None or conversion.amount_minor is None):
        conversion.amount_minor = facts.amount_minor
        conversion.currency = facts.currency
    if facts.paid_at is not None and (conversion.paid_at is None or facts.paid_at < conversion.paid_at):
        conversion.paid_at = facts.paid_at
    if facts.refunded_minor is not None and facts.refunded_minor > conversion.refunded_minor:
        conversion.refunded_minor = facts.refunded_minor
    if facts.dispute_status is not None and (
        _DISPUTE_RANK[facts.dispute_status] > _DISPUTE_RANK[conversion.dispute_status]
    ):
        conversion.dispute_status = facts.dispute_status
        conversion.dispute_id = facts.dispute_id or conversion.dispute_id
    if user_id is not None and conversion.customer_user_id is None:
        conversion.customer_user_id = user_id
    if referral is not None and conversion.referral_id is None:
        conversion.referral_id = referral.id
        conversion.advocate_id = referral.advocate_id
        conversion.campaign = referral.campaign
    session.flush()
    if conversion.referral_id is not None and (referral is None or referral.id != conversion.referral_id):
        # Attributed by an earlier event (another user id, or none this time): lock that referral.
        referral = session.scalar(
            select(Referral).where(Referral.id == conversion.referral_id).with_for_update()
        )
    return conversion, referral, not was_paid and conversion.paid_at is not None


def apply_event(event: dict) -> EventOutcome:
    """Record one verified event and its effects (flushed; the caller commits). A duplicate event id
    changes nothing and returns ``duplicate=True``.

    :param event: the verified event as plain JSON (``{"id", "type", "data": {"object": ...}}``).
    """
    session = get_session()
    event_id = event.get("id")
    event_type = event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise ValueError("an event needs an id and a type")
    inserted = insert_or_ignore(
        StripeEvent,
        {
            "event_id": event_id,
            "type": event_type[:100],
            "livemode": bool(event.get("livemode")),
            "outcome": "processing",
            "created_at": _time(event.get("created")),
            "received_at": utcnow(),
        },
        ["event_id"],
    )
    if inserted is None:
        return EventOutcome("duplicate", duplicate=True)
    handler = EVENT_HANDLERS.get(event_type)
    obj = _dig(event, "data", "object")
    conversion = None
    if handler is None:
        outcome = "ignored"
        log.info("Stripe event %s of type %s is not handled: ignored", event_id, event_type)
    elif not isinstance(obj, dict):
        outcome = "malformed"
    else:
        facts = handler(event, obj)
        if isinstance(facts, str):
            outcome = facts
        elif facts.payment_key is None:
            outcome = "no_payment"
        else:
            conversion, referral, newly_paid = record_facts(facts)
            rewards.reconcile(conversion, ranking_changed=newly_paid, referral=referral)
            outcome = "applied"
            if newly_paid and conversion.referral_id is not None:
                if referral.first_paid_at is None or referral.first_paid_at > conversion.paid_at:
                    referral.first_paid_at = conversion.paid_at
                signals.send_after_commit(
                    signals.referral_converted, conversion=conversion, referral=referral
                )
    if outcome not in ("applied", "ignored", "subscription_checkout"):
        log.info("Stripe event %s (%s) changed nothing: %s", event_id, event_type, outcome)
    session.execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.__table__.c.id == inserted)
        .values(outcome=outcome, conversion_id=conversion.id if conversion else None)
    )
    return EventOutcome(outcome, conversion_id=conversion.id if conversion else None)


#: How often :func:`receive_event` tries again after a deadlock or a lost race.
ATTEMPTS = 5


def receive_event(event: dict) -> EventOutcome:
    """Apply one verified event and commit, retrying a few times when a concurrent delivery wins a race
    (deadlock, serialization failure, unique conflict, ledger key clash). Rolls back and re-raises
    when every attempt fails."""
    session = get_session()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = apply_event(event)
            session.commit()
            return result
        except (DBAPIError, IntegrityError, ledger.IdempotencyConflict):
            session.rollback()
            if attempt == ATTEMPTS:
                raise
            log.info("Stripe event %s lost a race (attempt %s); retrying", event.get("id"), attempt)
            time.sleep(0.01 * attempt)
        except Exception:
            session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


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
    import json

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
