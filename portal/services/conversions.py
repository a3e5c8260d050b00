"""Stripe webhook events, applied: each event's facts stored on the payment's
:class:`~advocacy_portal.models.Conversion` (created by whichever event comes first), then
:func:`advocacy_portal.services.rewards.reconcile` posts what the facts imply. Any order, any number
of duplicate deliveries: the same ledger.

The facts are read from the event by :mod:`advocacy_portal.services.stripe_events`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError

from advocacy_portal import outbox
from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import dialect_insert
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import Conversion
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import Referral
from advocacy_portal.models import StripeEvent
from advocacy_portal.models import utcnow
from advocacy_portal.services import ledger
from advocacy_portal.services import redemptions
from advocacy_portal.services import nps
from advocacy_portal.services import rewards
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import webhook_events
from advocacy_portal.services.payments import link_customer
from advocacy_portal.services.payments import user_id_for_customer
from advocacy_portal.services.stripe_events import EVENT_HANDLERS
from advocacy_portal.services.stripe_events import PaymentFacts
from advocacy_portal.services.stripe_events import PoisonEvent
from advocacy_portal.services.stripe_events import recordable_id
from advocacy_portal.services.stripe_events import rejection_reason
from advocacy_portal.services.stripe_events import customer_link
from advocacy_portal.services.stripe_events import event_time
from advocacy_portal.services.stripe_events import event_object


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventOutcome:
    """What :func:`receive_event` did with one event."""

    outcome: str
    duplicate: bool = False
    conversion_id: int | None = None
    #: Why a ``rejected`` or ``failed`` event changed nothing.
    reason: str | None = None


_ID_COLUMNS = ("payment_intent_id", "charge_id", "invoice_id", "checkout_session_id", "subscription_id",
               "stripe_customer_id", "card_fingerprint")


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


def _payment_user(facts: PaymentFacts) -> str | None:
    """The paying host user the event names (by metadata, or through its Stripe customer)."""
    return facts.user_id or user_id_for_customer(facts.stripe_customer_id)


_DISPUTE_RANK = {None: 0, "open": 1, "won": 2, "lost": 2}


def _conversion_conditions(facts: PaymentFacts) -> list:
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
    return conditions


def lock_referrals(referral_ids) -> dict[int, Referral]:
    """Lock the rows of these referrals (PostgreSQL), in id order, and return them by id.

    The plugin's one lock order for money of a referral: **the referral's row first**, then its
    conversions (id order), its rewards, and last the ledger accounts (id order, in
    :func:`~advocacy_portal.services.ledger.post`). Stripe events, releases and refunds of one referral
    therefore queue on its row instead of deadlocking; a redemption locks its advocate's row first.
    """
    ids = sorted({referral_id for referral_id in referral_ids if referral_id is not None})
    if not ids:
        return {}
    return {
        referral.id: referral
        for referral in get_session().scalars(
            select(Referral)
            .where(Referral.id.in_(ids))
            .order_by(Referral.id)
            # FOR NO KEY UPDATE: the money of one referral queues up, while inserting a row that
            # merely references it (a conversion, a reward) waits for no one.
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    }


def _attribution(facts: PaymentFacts) -> tuple[str | None, Referral | None, dict[int, Referral]]:
    """The paying user, their referral, and every referral the event's payment is tied to, their rows
    locked (PostgreSQL) in id order *before* any conversion row (see :func:`lock_referrals`): the
    referral of the paying user, and the referral of a conversion the event's ids name already (read
    without a lock; a refund names no user).

    One statement on the hot path of every event, where three (the user's referral, the conversions'
    referrals, then the lock) cost two more round trips: the rows are found and locked together.
    """
    user_id = _payment_user(facts)
    which = []
    if user_id is not None:
        which.append(Referral.friend_user_id == str(user_id))
    conditions = _conversion_conditions(facts)
    if conditions:
        which.append(Referral.id.in_(
            select(Conversion.referral_id).where(or_(*conditions), Conversion.referral_id.is_not(None))
        ))
    if not which:
        return user_id, None, {}
    locked = {
        referral.id: referral
        for referral in get_session().scalars(
            select(Referral)
            .where(or_(*which))
            .order_by(Referral.id)
            # FOR NO KEY UPDATE, as in lock_referrals.
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    }
    own = None
    if user_id is not None:
        own = next((row for row in locked.values() if row.friend_user_id == str(user_id)), None)
    return user_id, own, locked


def _locked_conversions(facts: PaymentFacts) -> list[Conversion]:
    """Every conversion one of the event's Stripe ids names (normally one or none), locked
    (PostgreSQL) until the commit, in id order."""
    return list(
        get_session().scalars(
            select(Conversion)
            .where(or_(*_conversion_conditions(facts)))
            .order_by(Conversion.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _insert_conversion(facts: PaymentFacts, user_id: str | None, referral: Referral | None) -> Conversion | None:
    """``INSERT .. ON CONFLICT DO NOTHING RETURNING`` the new conversion, holding every fact the event
    gives, as a loaded object (one statement, where inserting the bare row and then updating it with
    the facts took two; the new row is this transaction's until the commit), or ``None`` when a
    concurrent delivery inserted the payment first."""
    session = get_session()
    now = utcnow()
    values = {
        "payment_key": facts.payment_key,
        "kind": facts.kind,
        "refunded_minor": max(facts.refunded_minor or 0, 0),
        "created_at": now,
        "updated_at": now,
    }
    for name in _ID_COLUMNS:
        if getattr(facts, name):
            values[name] = getattr(facts, name)
    if facts.amount_minor is not None:
        values["amount_minor"] = facts.amount_minor
        values["currency"] = facts.currency
    if facts.paid_at is not None:
        values["paid_at"] = facts.paid_at
    if facts.dispute_status is not None and _DISPUTE_RANK[facts.dispute_status] > _DISPUTE_RANK[None]:
        values["dispute_status"] = facts.dispute_status
        values["dispute_id"] = facts.dispute_id
    if user_id is not None:
        values["customer_user_id"] = user_id
    if referral is not None:
        values["referral_id"] = referral.id
        values["advocate_id"] = referral.advocate_id
        values["campaign"] = referral.campaign
    statement = (
        dialect_insert(Conversion)
        .values(**values)
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
    user_id, referral, locked = _attribution(facts)
    rows = _locked_conversions(facts)
    created = None
    if not rows:
        created = _insert_conversion(facts, user_id, referral)
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
    # A row this event inserted holds its facts already, and was not paid before it.
    was_paid = conversion is not created and conversion.paid_at is not None
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
        # Attributed by an earlier event (another user id, or none this time): its row was locked
        # before the conversion's; only a conversion attributed between that read and its lock is not.
        referral = locked.get(conversion.referral_id) or session.scalar(
            select(Referral).where(Referral.id == conversion.referral_id).with_for_update()
        )
    return conversion, referral, not was_paid and conversion.paid_at is not None


#: The outbox topic that applies a recorded Stripe event.
EVENT_TOPIC = "stripe.event"


def _event_group(event: dict) -> str | None:
    """The events of one Stripe customer (or, for a guest, of one payment) are applied one at a time,
    in the order they arrived, so concurrent events of one payment never deadlock on its rows."""
    obj = event_object(event)
    if not isinstance(obj, dict):
        return None
    for name in ("customer", "payment_intent"):
        value = obj.get(name)
        value = value.get("id") if isinstance(value, dict) else value
        if isinstance(value, str) and value:
            return f"stripe:{value}"[:255]
    value = obj.get("id")
    return f"stripe:{value}"[:255] if isinstance(value, str) and value else None


#: The longest reason kept on an event's record.
REASON_CHARS = 500


def reject_event(event: dict, reason: str) -> EventOutcome:
    """Record a verified event that can never be applied as ``rejected`` with ``reason`` (flushed; the
    caller commits): nothing is queued or posted. Recorded under a digest of its id when the id itself
    is the problem, so a retry of the same delivery is a duplicate.
    """
    event_id = recordable_id(event.get("id"))
    event_type = event.get("type")
    inserted = insert_or_ignore(
        StripeEvent,
        {
            "event_id": event_id,
            "type": event_type[:100] if isinstance(event_type, str) and event_type.isprintable() else "unknown",
            "livemode": event.get("livemode") is True,
            "outcome": "rejected",
            "reason": reason[:REASON_CHARS],
            "received_at": utcnow(),
        },
        ["event_id"],
    )
    if inserted is None:
        return EventOutcome("duplicate", duplicate=True)
    log.warning("Rejected Stripe event %s (%s): %s", event_id, str(event_type)[:100], reason)
    return EventOutcome("rejected", reason=reason[:REASON_CHARS])


def record_event(event: dict) -> EventOutcome:
    """Record one verified event once, and queue the application of its effects in the outbox (flushed;
    the caller commits). A duplicate event id changes nothing and returns ``duplicate=True``. An event
    that can never be applied (:func:`~advocacy_portal.services.stripe_events.rejection_reason`) is
    recorded as ``rejected`` with its reason instead, and nothing is queued.

    :param event: the verified event as plain JSON (``{"id", "type", "data": {"object": ...}}``).
    """
    reason = rejection_reason(event)
    if reason is not None:
        return reject_event(event, reason)
    event_id = event["id"]
    event_type = event["type"]
    inserted = insert_or_ignore(
        StripeEvent,
        {
            "event_id": event_id,
            "type": event_type[:100],
            "livemode": bool(event.get("livemode")),
            "outcome": "queued",
            "created_at": event_time(event),
            "received_at": utcnow(),
        },
        ["event_id"],
    )
    if inserted is None:
        return EventOutcome("duplicate", duplicate=True)
    outbox.enqueue(
        EVENT_TOPIC,
        {"event": event, "row": inserted},
        key=f"stripe-event:{event_id}"[:255],
        group=_event_group(event),
        subject_type="stripe_event",
        subject_id=event_id[:64],
    )
    return EventOutcome("queued")


def apply_effects(event: dict, row_id: int) -> EventOutcome:
    """Apply the effects of a recorded event (flushed; the caller commits): the payment's facts, the
    rewards they imply, and the event's outcome on its record."""
    event_id = event.get("id")
    event_type = event.get("type")
    handler = EVENT_HANDLERS.get(event_type)
    obj = event_object(event)
    conversion = None
    link = customer_link(event_type, obj)
    if link is not None:
        link_customer(*link)
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
            redemptions.record_code_use(conversion, facts.promotion_code_ids)
            outcome = "applied"
            if newly_paid:
                nps.after_payment(
                    conversion, referral,
                    first_friend_payment=referral is not None and referral.first_paid_at is None,
                )
            if newly_paid and conversion.referral_id is not None:
                if referral.first_paid_at is None or referral.first_paid_at > conversion.paid_at:
                    referral.first_paid_at = conversion.paid_at
                signals.send_after_commit(
                    signals.referral_converted, conversion=conversion, referral=referral
                )
                outgoing_webhooks.emit(
                    "conversion.created", lambda: webhook_events.conversion_data(conversion)
                )
    if outcome not in ("applied", "ignored", "subscription_checkout"):
        log.info("Stripe event %s (%s) changed nothing: %s", event_id, event_type, outcome)
    get_session().execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.__table__.c.id == row_id)
        .values(outcome=outcome, conversion_id=conversion.id if conversion else None)
    )
    return EventOutcome(outcome, conversion_id=conversion.id if conversion else None)


#: How often the application of one event tries again, within one run, after a deadlock or a lost race.
ATTEMPTS = 5


#: Errors of the database that a later run can cure: a lost race, a connection gone, a lock timeout.
_TRANSIENT = (OperationalError, InterfaceError, IntegrityError, ledger.IdempotencyConflict)


def _mark_failed(row_id: int, reason: str) -> None:
    """Record, in a transaction of its own, that an event's effects can never be applied."""
    session = get_session()
    session.rollback()
    session.execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.__table__.c.id == row_id)
        .values(outcome="failed", reason=reason[:REASON_CHARS])
    )
    session.commit()


@outbox.handler(EVENT_TOPIC, retry_seconds=1)
def _apply_recorded_event(task: outbox.Task) -> None:
    """The outbox handler of ``stripe.event``: apply the effects, retrying a few times at once when a
    concurrent event of the same payment wins a race (deadlock, serialization failure, unique conflict,
    ledger key clash); the relay retries later if every try loses. Any other error (an event the
    readers refuse, a value the database refuses) can never be cured by a retry: the event is marked
    ``failed`` with the reason and the task parked (:class:`~advocacy_portal.outbox.GiveUp`)."""
    session = get_session()
    event, row_id = task.payload["event"], task.payload["row"]
    for attempt in range(1, ATTEMPTS + 1):
        try:
            apply_effects(event, row_id)
            session.flush()
            return
        except _TRANSIENT:
            session.rollback()
            if attempt == ATTEMPTS:
                raise
            # A warning: with the one lock order (lock_referrals) a deadlock should not happen.
            log.warning("Stripe event %s lost a race (attempt %s); retrying", event.get("id"), attempt,
                        exc_info=True)
            time.sleep(0.01 * attempt)
        except PoisonEvent as poison:
            reason = f"The event has {poison.reason}."
            break
        except (DBAPIError, ValueError, TypeError, LookupError, ArithmeticError) as error:
            if isinstance(error, DBAPIError) and error.connection_invalidated:
                raise
            # DataError and the like: the database refuses this event's values, now and always.
            first_line = (str(error).splitlines() or [""])[0]
            reason = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
            break
    log.error("Stripe event %s can never be applied: %s", event.get("id"), reason)
    _mark_failed(row_id, reason)
    raise outbox.GiveUp(reason)


def apply_event(event: dict) -> EventOutcome:
    """Record one event and apply its effects in the current transaction (flushed; the caller commits),
    without the outbox: for scripts and tests that want it at once."""
    recorded = record_event(event)
    if recorded.duplicate or recorded.outcome == "rejected":
        return recorded
    row_id = get_session().scalar(select(StripeEvent.id).where(StripeEvent.event_id == event["id"]))
    key = f"stripe-event:{event['id']}"[:255]
    result = apply_effects(event, row_id)
    # Applied here: the task is done already.
    get_session().execute(
        OutboxTask.__table__.update()
        .where(OutboxTask.__table__.c.key == key)
        .values(state="done", done_at=utcnow(), attempts=1)
    )
    return result


def refused_events(limit: int = 20) -> list[StripeEvent]:
    """The latest events recorded as ``rejected`` or ``failed``, newest first: for the staff page."""
    return list(
        get_session().scalars(
            select(StripeEvent)
            .where(StripeEvent.outcome.in_(("rejected", "failed")))
            .order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
            .limit(limit)
        )
    )


def receive_rejection(event: dict, reason: str) -> EventOutcome:
    """What the webhook does with a signed delivery it cannot read as an event: record it as
    ``rejected`` with ``reason``, then commit."""
    session = get_session()
    try:
        result = reject_event(event, reason)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result


def receive_event(event: dict) -> EventOutcome:
    """What the webhook does with a verified event: record it once and queue its effects, then commit.

    With the ``inline`` executor the effects are applied right after that commit, before this returns,
    and the outcome says what they did; with a worker or the host's queue the outcome is ``queued``.
    Rolls back and re-raises when the event cannot be recorded.
    """
    session = get_session()
    try:
        recorded = record_event(event)
        session.commit()
    except Exception:
        session.rollback()
        raise
    if recorded.duplicate:
        return recorded
    if recorded.outcome == "rejected":
        return recorded
    if config_value("TASK_EXECUTOR") != "inline":
        # Queued for the worker or the host's queue: nothing ran yet, so there is nothing to read back.
        return recorded
    row = session.execute(
        select(StripeEvent.outcome, StripeEvent.conversion_id, StripeEvent.reason)
        .where(StripeEvent.event_id == event["id"])
    ).one()
    session.commit()
    return EventOutcome(row.outcome, conversion_id=row.conversion_id, reason=row.reason)
