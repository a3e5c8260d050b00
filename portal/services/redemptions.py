"""Redemptions: an advocate turns available rewards into a credit on their Stripe customer balance
(``balance_credit``: used by invoices, so subscriptions) or into a single-use Stripe promotion code
(``promotion_code``: for one-off ``mode="payment"`` Checkouts, which never use the balance), as
``ADVOCACY_REDEMPTION_METHOD`` says for the currency.

Three steps, each committed on its own, so a crash or a timeout never loses or doubles money:

1. **reserve** -- move the amount from *available* to *reserved* (refused below the minimum or beyond
   the balance; the guarded ``UPDATE`` makes parallel requests unable to overdraw) and commit;
2. **settle** -- ask Stripe (:func:`settle`): ``customers.balance_transactions.create``, or
   ``coupons.create`` (``amount_off``, ``max_redemptions=1``, ``redeem_by``) then
   ``promotion_codes.create`` (restricted to the customer, ``max_redemptions=1``, ``expires_at``), each
   with an Idempotency-Key fixed by the redemption, so every retry is the same request; the coupon id
   and the code are fixed by it too, so a retry after Stripe forgot the key finds them instead of
   making a second one. Then post the outcome: success: *reserved* → *redeemed*; a definite refusal
   (4xx): *reserved* → *available*; no answer (timeout, connection error, 5xx, 429): the money stays
   reserved, state ``unknown``, and ``flask advocacy rewards retry-redemptions`` settles it again.

A promotion code lives on: :func:`record_code_use` ties it to the payment that used it (from the
Checkout Session's ``discounts``), a refund of that payment returns the refunded share of the code's
amount to *available* (the ledger's refund rule, turned around: a dispute returns nothing), and
:func:`expire_codes` returns the whole amount of a code that expired unused.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import stripe
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
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


#: ``Redemption.method`` values.
BALANCE_CREDIT = "balance_credit"
PROMOTION_CODE = "promotion_code"


def method_for(currency: str) -> str:
    """How a redemption in ``currency`` is paid out: ``ADVOCACY_REDEMPTION_METHOD``, by currency when
    it is a dict (``"*"`` for the others; ``balance_credit`` without one)."""
    setting = config_value("REDEMPTION_METHOD")
    if isinstance(setting, dict):
        by_currency = {key.lower(): value for key, value in setting.items()}
        return by_currency.get(currency.lower(), by_currency.get("*", BALANCE_CREDIT))
    return setting


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
    # The one lock order (see conversions.lock_referrals): the advocate's row first, then the
    # accounts (created here on first use), then the balance.
    # FOR NO KEY UPDATE: redemptions of one advocate queue up, while rows that merely reference the
    # advocate (a release's ledger rows, a reward) are not held up by it.
    session.scalar(select(Advocate.id).where(Advocate.id == advocate.id).with_for_update(key_share=True))
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
    method = method_for(currency)
    redemption = Redemption(
        advocate_id=advocate.id,
        amount_minor=amount,
        currency=currency,
        state="reserved",
        method=method,
        idempotency_key=f"advocacy-redemption-{uuid.uuid4().hex}",
        requested_by_user_id=None if requested_by is None else str(requested_by.id),
        # Whole seconds, fixed now: every retry sends Stripe the same expiry.
        expires_at=(now + timedelta(days=config_value("PROMOTION_CODE_DAYS"))).replace(microsecond=0)
        if method == PROMOTION_CODE else None,
        returned_minor=0,
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
            memo="Redemption requested: " + (
                "a promotion code" if method == PROMOTION_CODE else "credit on your account balance"
            ),
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
    """Ask Stripe for the balance credit or the promotion code of a reserved (or ``unknown``)
    redemption and post the outcome; commits. The one function that calls Stripe for a redemption.
    Safe to call again and concurrently: the Stripe requests and every posting carry keys fixed by
    the redemption."""
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
        client = payments.stripe_client()
        if redemption.method == PROMOTION_CODE:
            _create_promotion_code(client, redemption)
            credit = None
        else:
            # A retry: an earlier attempt may have been applied without an answer, and after 24 hours
            # Stripe no longer recognises the Idempotency-Key. The credit's metadata tells.
            credit = _credit_already_made(client, customer_id, redemption) if redemption.attempts > 1 else None
        if redemption.method != PROMOTION_CODE and credit is None:
            credit = client.v1.customers.balance_transactions.create(
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
        _finish(redemption, "completed", balance_transaction=credit.id if credit is not None else None)
    session.commit()
    return redemption


#: Most balance transactions read when looking for an earlier attempt's credit (100 per page).
CREDIT_LOOKUP_PAGES = 10


def _credit_already_made(client: stripe.StripeClient, customer_id: str, redemption: Redemption):
    """The balance transaction an earlier attempt of ``redemption`` made, found by its metadata, or ``None``."""
    params = {"limit": 100}
    for _page in range(CREDIT_LOOKUP_PAGES):
        listing = client.v1.customers.balance_transactions.list(customer_id, params)
        for transaction in listing.data:
            metadata = transaction.to_dict().get("metadata") or {}
            if metadata.get("advocacy_redemption_id") == str(redemption.id):
                log.info("Redemption %s: found the credit %s of an earlier attempt", redemption.id, transaction.id)
                return transaction
        if not listing.has_more or not listing.data:
            return None
        params = {"limit": 100, "starting_after": listing.data[-1].id}
    log.warning("Redemption %s: looked at %d balance transactions without finding an earlier credit",
                redemption.id, CREDIT_LOOKUP_PAGES * 100)
    return None


def code_text(redemption: Redemption) -> str:
    """The code the customer types, fixed by the redemption's key (``REWARD-`` and 10 letters and digits)."""
    digest = hashlib.sha256(redemption.idempotency_key.encode()).hexdigest().upper()
    return f"REWARD-{digest[:10]}"


def _already_exists(error: stripe.InvalidRequestError) -> bool:
    return getattr(error, "code", None) == "resource_already_exists"


def _create_promotion_code(client: stripe.StripeClient, redemption: Redemption) -> None:
    """The coupon (``amount_off`` in the currency, used once, until the expiry) and the single-use
    promotion code restricted to the customer; both found again, not made twice, on a retry."""
    key = redemption.idempotency_key
    expires = int(_aware(redemption.expires_at).timestamp())
    metadata = {"advocacy_redemption_id": str(redemption.id)}
    coupon_params = {
        "id": key,
        "amount_off": redemption.amount_minor,
        "currency": redemption.currency,
        "duration": "once",
        "max_redemptions": 1,
        "redeem_by": expires,
        "name": "Referral rewards",
        "metadata": metadata,
    }
    try:
        coupon = client.v1.coupons.create(coupon_params, {"idempotency_key": f"{key}-coupon"})
    except stripe.InvalidRequestError as error:
        if not _already_exists(error):
            raise
        coupon = client.v1.coupons.retrieve(key)  # made by an earlier attempt Stripe no longer remembers
    code = code_text(redemption)
    try:
        promotion = client.v1.promotion_codes.create(
            {
                "promotion": {"type": "coupon", "coupon": coupon.id},
                "code": code,
                "customer": redemption.stripe_customer_id,
                "max_redemptions": 1,
                "expires_at": expires,
                "metadata": metadata,
            },
            {"idempotency_key": f"{key}-promotion"},
        )
    except stripe.InvalidRequestError as error:
        if not _already_exists(error):
            raise
        found = client.v1.promotion_codes.list(
            {"code": code, "customer": redemption.stripe_customer_id, "limit": 1}
        )
        if not found.data or found.data[0].promotion.coupon != coupon.id:
            raise
        promotion = found.data[0]
    redemption.stripe_coupon_id = coupon.id
    redemption.stripe_promotion_code_id = promotion.id
    redemption.promotion_code = promotion.code


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they are UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
    if state == "completed" and redemption.method == PROMOTION_CODE:
        target = ledger.advocate_account(redemption.advocate_id, "redeemed", redemption.currency)
        key, reason, memo = "confirm", "redemption.code", f"Redeemed as promotion code {redemption.promotion_code}"
        redemption.code_state = "issued"
    elif state == "completed":
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

    This is reserve + commit + :func:`settle`, the settling being an outbox task (``stripe.redemption``)
    written with the reservation: with the ``inline`` executor it has run when this returns; with a
    worker or the host's queue the redemption is returned ``reserved`` and settles shortly after.

    :raises RedemptionRefused: when nothing could be reserved (the session is rolled back).
    """
    session = get_session()
    try:
        redemption = reserve(advocate, amount_minor, currency, requested_by)
        # The Stripe call is a task of the outbox, written with the reservation: it exists if and only
        # if the money was set aside, and runs once committed (before this returns with `inline`).
        outbox.enqueue(
            SETTLE_TOPIC,
            {"redemption_id": redemption.id},
            key=f"redemption:{redemption.id}",
            # No group: settling locks the redemption, then the advocate's accounts in one order, so
            # parallel redemptions of one advocate settle side by side without deadlock or waiting.
            subject_type="redemption",
            subject_id=redemption.id,
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return session.scalar(
        select(Redemption).where(Redemption.id == redemption.id).execution_options(populate_existing=True)
    )


#: The outbox topic that asks Stripe for a reserved redemption.
SETTLE_TOPIC = "stripe.redemption"


@outbox.handler(SETTLE_TOPIC)
def _settle_task(task: outbox.Task) -> None:
    """The outbox handler of ``stripe.redemption``: :func:`settle`, then a retry with the same
    Idempotency-Key while Stripe has given no definite answer (the money stays reserved meanwhile)."""
    redemption = get_session().get(Redemption, task.payload["redemption_id"])
    if redemption is None:
        raise outbox.GiveUp(f"Redemption {task.payload['redemption_id']} does not exist")
    redemption = settle(redemption)
    if redemption.state in ("reserved", "unknown"):
        raise outbox.Retry(f"No definite answer from Stripe yet: {redemption.last_error or 'no answer'}")


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


# -- promotion codes after they are issued ------------------------------------------------------------


def record_code_use(conversion: Conversion, promotion_code_ids=()) -> None:
    """Tie the redemptions whose codes a payment used (its Checkout Session's ``discounts``) to it, and
    return to *available* the share of each code's amount that the payment's refunds give back
    (flushed; the webhook's unit of work commits). Called for every applied Stripe event, so a refund
    arriving later finds the link; idempotent.

    The rule is the ledger's refund rule turned around: a refund of a fraction of the payment returns
    that fraction of the code (rounded down), a full refund all of it; a dispute returns nothing (the
    customer took the money back themselves).
    """
    session = get_session()
    ids = [value for value in promotion_code_ids if value]
    if ids:
        for redemption in session.scalars(
            select(Redemption)
            .where(Redemption.stripe_promotion_code_id.in_(ids), Redemption.used_conversion_id.is_(None))
            .with_for_update()
        ):
            if redemption.code_state == "expired":
                log.error("Promotion code %s was used after its amount was returned (redemption %s)",
                          redemption.promotion_code, redemption.id)
            redemption.used_conversion_id = conversion.id
            redemption.code_state = "used"
            redemption.updated_at = utcnow()
        session.flush()
    amount = conversion.amount_minor or 0
    if amount <= 0 or not conversion.refunded_minor:
        return
    for redemption in session.scalars(
        select(Redemption).where(Redemption.used_conversion_id == conversion.id).with_for_update()
    ):
        target = redemption.amount_minor * min(conversion.refunded_minor, amount) // amount
        delta = target - redemption.returned_minor
        if delta <= 0:
            continue
        ledger.transfer(
            f"redemption:{redemption.id}:return:{target}",
            "redemption.return",
            ledger.advocate_account(redemption.advocate_id, "redeemed", redemption.currency),
            ledger.advocate_account(redemption.advocate_id, "available", redemption.currency),
            delta,
            redemption.currency,
            memo=f"The order paid with promotion code {redemption.promotion_code} was refunded; returned",
            redemption_id=redemption.id,
            conversion_id=conversion.id,
        )
        redemption.returned_minor = target
        redemption.updated_at = utcnow()
    session.flush()


@dataclass(frozen=True)
class ExpirySummary:
    """What :func:`expire_codes` did: codes whose amount went back, codes found used, codes Stripe
    could not be asked about (tried again on the next run)."""

    returned: int
    used: int
    failed: int


def expire_codes(now: datetime | None = None) -> ExpirySummary:
    """Return the amount of every promotion code that expired unused to *available* (commits each).

    Stripe is asked first: a code it counts as redeemed (the webhook may not have come yet) is marked
    used, and an unused one is deactivated before its amount goes back, so it can never be used after.
    """
    session = get_session()
    cutoff = now or utcnow()
    ids = list(
        session.scalars(
            select(Redemption.id)
            .where(Redemption.code_state == "issued", Redemption.expires_at <= cutoff)
            .order_by(Redemption.id)
        )
    )
    session.commit()
    returned = used = failed = 0
    for redemption_id in ids:
        redemption = session.scalar(
            select(Redemption).where(Redemption.id == redemption_id).with_for_update()
            .execution_options(populate_existing=True)
        )
        if redemption.code_state != "issued":
            session.commit()
            continue
        try:
            client = payments.stripe_client()
            promotion = client.v1.promotion_codes.retrieve(redemption.stripe_promotion_code_id)
            if not promotion.times_redeemed and promotion.active:
                client.v1.promotion_codes.update(redemption.stripe_promotion_code_id, {"active": False})
        except (stripe.StripeError, payments.StripeNotConfigured) as error:
            session.rollback()
            failed += 1
            log.warning("Promotion code of redemption %s: could not ask Stripe (%s); tried again later",
                        redemption_id, _describe(error))
            continue
        if promotion.times_redeemed:
            redemption.code_state = "used"
            used += 1
        else:
            ledger.transfer(
                f"redemption:{redemption.id}:expire",
                "redemption.expire",
                ledger.advocate_account(redemption.advocate_id, "redeemed", redemption.currency),
                ledger.advocate_account(redemption.advocate_id, "available", redemption.currency),
                redemption.amount_minor,
                redemption.currency,
                memo=f"Promotion code {redemption.promotion_code} expired unused; returned",
                redemption_id=redemption.id,
            )
            redemption.code_state = "expired"
            redemption.returned_minor = redemption.amount_minor
            returned += 1
        redemption.updated_at = utcnow()
        session.commit()
    return ExpirySummary(returned, used, failed)


def open_codes(advocate: Advocate, now: datetime | None = None) -> list[Redemption]:
    """The advocate's promotion codes that can still be used, soonest expiry first."""
    return list(
        get_session().scalars(
            select(Redemption)
            .where(
                Redemption.advocate_id == advocate.id,
                Redemption.code_state == "issued",
                Redemption.expires_at > (now or utcnow()),
            )
            .order_by(Redemption.expires_at, Redemption.id)
        )
    )
