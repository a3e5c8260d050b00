"""Redemptions: an advocate turns available rewards into a credit on their Stripe customer balance.

Three steps, each committed on its own, so a crash or a timeout never loses or doubles money:

1. **reserve** -- move the amount from *available* to *reserved* (refused below the minimum or beyond
   the balance; the guarded ``UPDATE`` makes parallel requests unable to overdraw) and commit;
2. **ask Stripe** -- ``customers.balance_transactions.create`` with an Idempotency-Key fixed by the
   redemption, so every retry is the same request;
3. **settle** -- success: *reserved* → *redeemed*; a definite refusal (4xx): *reserved* → *available*;
   no answer (timeout, connection error, 5xx, 429): the money stays reserved, state ``unknown``, and
   ``flask advocacy rewards retry-redemptions`` asks again with the same key.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import stripe
from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Redemption
from advocacy_portal.models import utcnow
from advocacy_portal.services import ledger
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import payments
from advocacy_portal.services import webhook_events

log = logging.getLogger(__name__)


class RedemptionRefused(ValueError):
    """A redemption that cannot be made; ``code`` says why (``below_minimum``, ``insufficient_funds``,
    ``invalid_amount``, ``invalid_currency``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def reserve(
    advocate: Advocate, amount_minor: int | None, currency: str, requested_by=None
) -> Redemption:
    """Set money aside for a redemption (flushed; commit before calling Stripe).

    :param amount_minor: how much, or ``None`` for the whole available balance.
    :raises RedemptionRefused: below ``ADVOCACY_REDEMPTION_MINIMUM_MINOR``, above the available
        balance, or not a positive whole number.
    """
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise RedemptionRefused("invalid_currency", "The currency must be a three-letter ISO code.")
    currency = currency.lower()
    if amount_minor is not None and (
        isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0
    ):
        raise RedemptionRefused("invalid_amount", "The amount must be a positive whole number.")
    session = get_session()
    available = ledger.advocate_account(advocate.id, "available", currency)
    reserved = ledger.advocate_account(advocate.id, "reserved", currency)
    balance = ledger.balance_for_update(available)
    amount = balance if amount_minor is None else amount_minor
    minimum = config_value("REDEMPTION_MINIMUM_MINOR")
    if amount < max(minimum, 1):
        raise RedemptionRefused(
            "below_minimum",
            f"The smallest redemption is {minimum} (minor units); you asked for {max(amount, 0)}.",
        )
    if amount > balance:
        raise RedemptionRefused(
            "insufficient_funds", f"Only {max(balance, 0)} (minor units) are available."
        )
    now = utcnow()
    redemption = Redemption(
        advocate_id=advocate.id,
        amount_minor=amount,
        currency=currency,
        state="reserved",
        idempotency_key=f"advocacy-redemption-{uuid.uuid4().hex}",
        requested_by_user_id=None if requested_by is None else str(requested_by.id),
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    session.flush()
    try:
        ledger.transfer(
            f"redemption:{redemption.id}:reserve",
            "redemption.reserve",
            available,
            reserved,
            amount,
            currency,
            memo="Redemption requested: credit on your account balance",
            redemption_id=redemption.id,
            guarded=[available],
        )
    except ledger.InsufficientFunds:
        raise RedemptionRefused(
            "insufficient_funds", "The available balance changed; not enough is left."
        ) from None
    return redemption


#: Stripe errors that mean "this request was refused and will never succeed as sent".
_DEFINITE = (
    stripe.InvalidRequestError,
    stripe.AuthenticationError,
    stripe.PermissionError,
    stripe.CardError,
)


def settle(redemption: Redemption) -> Redemption:
    """Ask Stripe for the balance credit of a reserved (or ``unknown``) redemption and post the
    outcome; commits. Safe to call again and concurrently: the Stripe request and every posting
    carry keys fixed by the redemption."""
    session = get_session()
    redemption = session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if redemption.state not in ("reserved", "unknown"):
        session.commit()
        return redemption
    advocate = session.get(Advocate, redemption.advocate_id)
    redemption.attempts += 1
    try:
        customer_id = redemption.stripe_customer_id or payments.ensure_stripe_customer(
            advocate.user_id, advocate.email
        )
        redemption.stripe_customer_id = customer_id
        credit = payments.stripe_client().v1.customers.balance_transactions.create(
            customer_id,
            {
                "amount": -redemption.amount_minor,  # negative: a credit the customer's invoices use
                "currency": redemption.currency,
                "description": "Referral rewards",
                "metadata": {"advocacy_redemption_id": str(redemption.id)},
            },
            {"idempotency_key": redemption.idempotency_key},
        )
    except _DEFINITE as error:
        _finish(redemption, "failed", error=_describe(error))
    except payments.StripeNotConfigured as error:
        # Nothing was sent: say so, keep the money reserved for a retry once it is configured.
        _mark_unknown(redemption, str(error))
    except stripe.StripeError as error:
        # Timeout, connection error, 5xx, rate limit: Stripe may or may not have applied it.
        _mark_unknown(redemption, _describe(error))
    else:
        _finish(redemption, "completed", balance_transaction=credit.id)
    session.commit()
    return redemption


def _describe(error: Exception) -> str:
    status = getattr(error, "http_status", None)
    message = getattr(error, "user_message", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}{f' ({status})' if status else ''}: {message}"[:1000]


def _mark_unknown(redemption: Redemption, error: str) -> None:
    log.warning("Redemption %s: no definite answer from Stripe (%s); kept reserved", redemption.id, error)
    redemption.state = "unknown"
    redemption.last_error = error
    redemption.updated_at = utcnow()
    get_session().flush()


def _finish(redemption: Redemption, state: str, *, balance_transaction: str | None = None,
            error: str | None = None) -> None:
    reserved = ledger.advocate_account(redemption.advocate_id, "reserved", redemption.currency)
    if state == "completed":
        target = ledger.advocate_account(redemption.advocate_id, "redeemed", redemption.currency)
        key, reason, memo = "confirm", "redemption.confirm", "Redeemed as a credit on your account balance"
    else:
        target = ledger.advocate_account(redemption.advocate_id, "available", redemption.currency)
        key, reason, memo = "release", "redemption.release", "Redemption refused by the payment provider; returned"
        log.warning("Redemption %s refused by Stripe: %s", redemption.id, error)
    ledger.transfer(
        f"redemption:{redemption.id}:{key}",
        reason,
        reserved,
        target,
        redemption.amount_minor,
        redemption.currency,
        memo=memo,
        redemption_id=redemption.id,
        guarded=[reserved],
    )
    redemption.state = state
    redemption.stripe_balance_transaction_id = balance_transaction
    redemption.last_error = error
    redemption.updated_at = redemption.completed_at = utcnow()
    get_session().flush()
    if state == "completed":
        outgoing_webhooks.emit("reward.redeemed", webhook_events.redemption_data(redemption))


def request_redemption(
    advocate: Advocate, amount_minor: int | None, currency: str, requested_by=None
) -> Redemption:
    """Reserve, commit, then ask Stripe and settle (commits). The returned redemption's ``state``
    is ``completed``, ``failed`` (funds returned) or ``unknown`` (kept reserved, retried later).

    :raises RedemptionRefused: when nothing could be reserved (the session is rolled back).
    """
    session = get_session()
    try:
        redemption = reserve(advocate, amount_minor, currency, requested_by)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return settle(redemption)


redeem = request_redemption


@dataclass(frozen=True)
class RetrySummary:
    completed: int
    failed: int
    unknown: int


def retry_pending(older_than: timedelta = timedelta(seconds=0), now: datetime | None = None) -> RetrySummary:
    """Settle every redemption still ``reserved`` or ``unknown`` (for cron), with the same keys."""
    session = get_session()
    cutoff = (now or utcnow()) - older_than
    ids = list(
        session.scalars(
            select(Redemption.id)
            .where(Redemption.state.in_(("reserved", "unknown")), Redemption.updated_at <= cutoff)
            .order_by(Redemption.id)
        )
    )
    session.commit()
    counts = {"completed": 0, "failed": 0, "unknown": 0, "reserved": 0}
    for redemption_id in ids:
        redemption = settle(session.get(Redemption, redemption_id))
        counts[redemption.state] += 1
    return RetrySummary(counts["completed"], counts["failed"], counts["unknown"] + counts["reserved"])


def redemptions_of(advocate: Advocate, limit: int = 50) -> list[Redemption]:
    """An advocate's redemptions, newest first."""
    return list(
        get_session().scalars(
            select(Redemption)
            .where(Redemption.advocate_id == advocate.id)
            .order_by(Redemption.id.desc())
            .limit(limit)
        )
    )
