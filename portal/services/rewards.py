"""Rewards: from the facts of a friend's payments to ledger postings, hold and release, and staff
adjustments. The read services of the rewards and admin pages are in
:mod:`advocacy_portal.services.reward_queries`.

The heart is :func:`reconcile`: it computes what each payment of a referral *should* have earned from
the facts stored on the :class:`~advocacy_portal.models.Conversion` rows (paid, refunded so far, dispute state)
and posts only the difference, each posting under a deterministic idempotency key. Whatever order
Stripe's events arrive in, and however often, the ledger ends the same.

Every function flushes; the caller commits (and rolls back on an exception).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import dialect_insert
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.models import utcnow
from advocacy_portal.services import audit
from advocacy_portal.services import fraud
from advocacy_portal.services import ledger
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import webhook_events
from advocacy_portal.services.rules import RewardRule
from advocacy_portal.services.rules import current_rules


log = logging.getLogger(__name__)


#: ``Conversion.reward_outcome`` values.
REWARDED = "rewarded"


UNATTRIBUTED = "unattributed"


NOT_PAID = "not_paid"


FLAGGED_REFERRAL = "flagged_referral"


CURRENCY_NOT_REWARDED = "currency_not_rewarded"


NO_AMOUNT = "no_amount"


BELOW_MINIMUM = "below_minimum"


NOT_REWARDED_PAYMENT = "not_rewarded_payment"


MONTHLY_CAP_REACHED = "monthly_cap_reached"


# -- reconciliation ---------------------------------------------------------------------------------


def reconcile(
    conversion: Conversion,
    now: datetime | None = None,
    *,
    ranking_changed: bool = True,
    referral: Referral | None = None,
) -> None:
    """Bring the ledger in line with the facts of ``conversion`` and of every other payment of the same
    referral (which one is "the first payment" can change when an earlier payment arrives late).

    Locks the referral's row (PostgreSQL) so reconciliations of one referral run one after the other.

    :param ranking_changed: ``False`` when the payment was paid before this call too (only its own
        refunds or dispute changed), so the other payments' rewards cannot have changed.
    :param referral: the conversion's referral when the caller has locked its row already in this
        transaction (the webhook does, before the conversion's row); otherwise it is locked here.
    """
    session = get_session()
    if conversion.referral_id is None:
        conversion.reward_outcome = UNATTRIBUTED if conversion.paid_at else NOT_PAID
        session.flush()
        return
    if referral is None or referral.id != conversion.referral_id:
        # The referral's row serialises every reconciliation of its payments (PostgreSQL).
        referral = session.scalar(
            select(Referral).where(Referral.id == conversion.referral_id).with_for_update(key_share=True)
        )
    rule = current_rules().for_campaign(referral.campaign)
    # Ranking needs only a few columns of every paid payment; full rows are loaded only for the
    # payments whose reward can change: this one, those with a reward, and the eligible ones.
    paid = session.execute(
        select(Conversion.id, Conversion.subscription_id)
        .where(Conversion.referral_id == referral.id, Conversion.paid_at.is_not(None))
        .order_by(Conversion.paid_at, Conversion.payment_key)
    ).all()
    eligible = _eligible_payments(paid, rule)
    # The referral's rewards and this payment's, in one read.
    known = {
        reward.conversion_id: reward
        for reward in session.scalars(
            select(Reward).where(
                or_(Reward.referral_id == referral.id, Reward.conversion_id == conversion.id)
            )
        )
    }
    rewarded = {payment_id for payment_id, reward in known.items() if reward.referral_id == referral.id}
    # A newly paid payment that earns nothing itself cannot have pushed another one out.
    others = (eligible | rewarded) if ranking_changed and conversion.id in eligible else set()
    for payment_id in sorted({conversion.id} | others):
        payment = conversion if payment_id == conversion.id else session.get(Conversion, payment_id)
        # The read above covered this payment and every reward of the referral.
        covered = payment_id in known or payment_id == conversion.id
        reward = known.get(payment_id) if covered else _reward_of(payment_id)
        _reconcile_payment(payment, referral, rule, payment_id in eligible, now or utcnow(), reward)
    session.flush()


def _eligible_payments(paid, rule: RewardRule) -> set[int]:
    """Ids of the payments that earn a reward: the friend's first payment, and with
    ``recurring_months`` = N the first N invoices of each subscription."""
    eligible = set()
    if paid:
        eligible.add(paid[0].id)
    if rule.recurring_months:
        per_subscription: dict[str, int] = {}
        for payment in paid:
            if payment.subscription_id:
                rank = per_subscription.get(payment.subscription_id, 0)
                if rank < rule.recurring_months:
                    eligible.add(payment.id)
                per_subscription[payment.subscription_id] = rank + 1
    return eligible


def _reward_of(conversion_id: int) -> Reward | None:
    return get_session().scalar(select(Reward).where(Reward.conversion_id == conversion_id))


def _reconcile_payment(
    conversion: Conversion,
    referral: Referral,
    rule: RewardRule,
    eligible: bool,
    now: datetime,
    reward: Reward | None,
) -> None:
    if reward is None:
        outcome = _why_not_rewarded(conversion, referral, rule, eligible)
        if outcome is None:
            reward = _create_reward(conversion, referral, rule)
            outcome = REWARDED if reward is not None else MONTHLY_CAP_REACHED
        conversion.reward_outcome = outcome
        if reward is None:
            if outcome != NOT_PAID:
                log.info(
                    "Payment %s (conversion %s) earns no reward: %s",
                    conversion.payment_key, conversion.id, outcome,
                )
            return
    target = _earned(reward, conversion) if eligible and referral.status == "signed_up" else 0
    if target == 0 and not eligible:
        conversion.reward_outcome = NOT_REWARDED_PAYMENT
    elif conversion.reward_outcome != REWARDED:
        conversion.reward_outcome = REWARDED
    if eligible:
        # Block and hold rules, and staff decisions (advocacy_portal.services.fraud).
        target = fraud.settle(reward, conversion, referral, target)
    _move_to(reward, conversion, target)


def _why_not_rewarded(
    conversion: Conversion, referral: Referral, rule: RewardRule, eligible: bool
) -> str | None:
    if conversion.paid_at is None:
        return NOT_PAID
    if referral.status != "signed_up":
        return FLAGGED_REFERRAL
    if (conversion.currency or "").lower() != rule.currency:
        return CURRENCY_NOT_REWARDED
    if not conversion.amount_minor or conversion.amount_minor <= 0:
        return NO_AMOUNT
    if conversion.amount_minor < rule.min_purchase_minor:
        return BELOW_MINIMUM
    if not eligible:
        return NOT_REWARDED_PAYMENT
    return None


def _create_reward(conversion: Conversion, referral: Referral, rule: RewardRule) -> Reward | None:
    """The reward of an eligible payment, within the advocate's monthly cap; ``None`` when the cap
    leaves nothing (or a percentage rounds down to nothing)."""
    session = get_session()
    amount = rule.reward_for(conversion.amount_minor)
    month = conversion.paid_at.strftime("%Y-%m")
    if rule.monthly_cap_minor is not None:
        # The advocate's row serialises cap checks of one advocate (PostgreSQL).
        session.scalar(
            select(Advocate.id).where(Advocate.id == referral.advocate_id).with_for_update(key_share=True)
        )
        earned = session.scalar(
            select(func.coalesce(func.sum(Reward.amount_minor), 0)).where(
                Reward.advocate_id == referral.advocate_id,
                Reward.earned_month == month,
                Reward.currency == rule.currency,
            )
        )
        amount = max(0, min(amount, rule.monthly_cap_minor - int(earned)))
    if amount <= 0:
        return None
    statement = dialect_insert(Reward).values(
        **{
            "conversion_id": conversion.id,
            "advocate_id": referral.advocate_id,
            "referral_id": referral.id,
            "rule": rule.snapshot(),
            "amount_minor": amount,
            "currency": rule.currency,
            "earned_month": month,
            "status": "pending",
            "pending_minor": 0,
            "available_minor": 0,
            "version": 0,
            "hold_until": conversion.paid_at + timedelta(days=config_value("REWARD_HOLD_DAYS")),
            "created_at": utcnow(),
        }
    )
    session.flush()
    # One statement returns the new reward as a loaded object.
    created = session.scalars(
        statement.on_conflict_do_nothing(index_elements=["conversion_id"]).returning(Reward)
    ).one_or_none()
    if created is not None:
        return created
    return session.scalar(select(Reward).where(Reward.conversion_id == conversion.id).with_for_update())


def _earned(reward: Reward, conversion: Conversion) -> int:
    """What the reward is worth given the payment's refunds and dispute: all of it, less the refunded
    share (rounded so the advocate never keeps more than their share), nothing while a dispute is open
    or once it is lost."""
    if conversion.paid_at is None or conversion.dispute_status in ("open", "lost"):
        return 0
    amount = conversion.amount_minor or 0
    if amount <= 0:
        return 0
    kept = max(0, amount - min(conversion.refunded_minor, amount))
    return reward.amount_minor * kept // amount


def _move_to(reward: Reward, conversion: Conversion, target: int) -> None:
    """Post the difference between what the reward holds now and ``target``."""
    currency = reward.currency
    advocate_id = reward.advocate_id
    if reward.released_at is None:
        delta = target - reward.pending_minor
        if delta == 0:
            return
        pending = ledger.advocate_account(advocate_id, "pending", currency)
        expense = ledger.program_account("reward_expense", currency)
        if delta > 0:
            reason = "reward.accrue" if reward.version == 0 else "reward.restore"
        else:
            reason = "reward.void"
        # The reward's new state is set before the posting, so the posting's flush writes the reward
        # row once (version, balance and status in one UPDATE, still before the accounts' locks).
        reward.pending_minor = target
        reward.status = "pending" if target > 0 else "void"
        _post_reward(reward, conversion, reason, [(expense, -delta, currency), (pending, delta, currency)])
    else:
        delta = target - reward.available_minor
        if delta == 0:
            return
        available = ledger.advocate_account(advocate_id, "available", currency)
        clawbacks = ledger.program_account("clawbacks", currency)
        reason = "reward.restore" if delta > 0 else "reward.clawback"
        reward.available_minor = target
        _post_reward(
            reward, conversion, reason, [(clawbacks, -delta, currency), (available, delta, currency)]
        )
    get_session().flush()


def _post_reward(reward: Reward, conversion: Conversion, reason: str, entries, key: str | None = None):
    reward.version += 1
    posting = ledger.post(
        key or f"reward:{reward.id}:v{reward.version}",
        reason,
        entries,
        memo=_memo(reason, conversion),
        conversion_id=conversion.id,
        reward_id=reward.id,
        details={
            "amount_minor": conversion.amount_minor,
            "refunded_minor": conversion.refunded_minor,
            "dispute": conversion.dispute_status,
        },
    )
    if posting.created:
        signals.send_after_commit(
            signals.reward_posted, reward=reward, transaction=posting.transaction, reason=reason
        )
        if reason in webhook_events.REWARD_POSTING_EVENTS:
            outgoing_webhooks.emit(
                webhook_events.REWARD_POSTING_EVENTS[reason],
                lambda: webhook_events.reward_data(
                    reward, reason, entries[-1][1], posting.transaction.created_at
                ),
            )
    return posting


def _memo(reason: str, conversion: Conversion) -> str:
    what = {
        "reward.accrue": "Reward for a friend's payment",
        "reward.void": "Reward reduced: payment refunded or disputed",
        "reward.restore": "Reward restored",
        "reward.clawback": "Reward taken back: payment refunded or disputed",
        "reward.release": "Reward released after the hold period",
    }.get(reason, reason)
    return f"{what} ({conversion.payment_key})"


# -- hold and release -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseSummary:
    """What :func:`release_due` did."""

    released: int
    skipped: int
    failed: int
    amounts: dict[str, int]


def due_reward_ids(now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of the pending rewards whose hold has ended."""
    query = (
        select(Reward.id)
        .where(Reward.status == "pending", Reward.hold_until <= (now or utcnow()), Reward.pending_minor > 0,
               fraud.release_allowed())
        .order_by(Reward.hold_until, Reward.id)
    )
    if limit:
        query = query.limit(limit)
    return list(get_session().scalars(query))


def release(reward_id: int, now: datetime | None = None) -> bool:
    """Move one reward from pending to available once its hold has ended; ``False`` when there is
    nothing to do (released already, voided, disputed, or still on hold). Safe to run concurrently:
    the reward's row is locked and the posting's key is fixed per reward."""
    session = get_session()
    now = now or utcnow()
    # The one lock order (see conversions.lock_referrals): the referral's row before the reward's
    # and the ledger accounts', so a release racing a refund or a dispute of the same referral waits
    # instead of deadlocking.
    referral_id = session.scalar(select(Reward.referral_id).where(Reward.id == reward_id))
    if referral_id is not None:
        session.scalar(
            select(Referral.id).where(Referral.id == referral_id).with_for_update(key_share=True)
        )
    reward = session.scalar(select(Reward).where(Reward.id == reward_id).with_for_update())
    if reward is None or reward.status != "pending" or reward.released_at is not None:
        return False
    if reward.hold_until > now or reward.pending_minor <= 0:
        return False
    if fraud.release_refused(reward.id):
        return False  # held for review, voided or blocked
    conversion = session.get(Conversion, reward.conversion_id)
    if conversion.dispute_status == "open":
        return False
    amount = reward.pending_minor
    pending = ledger.advocate_account(reward.advocate_id, "pending", reward.currency)
    available = ledger.advocate_account(reward.advocate_id, "available", reward.currency)
    _post_reward(
        reward,
        conversion,
        "reward.release",
        [(pending, -amount, reward.currency), (available, amount, reward.currency)],
        key=f"reward:{reward.id}:release",
    )
    reward.pending_minor = 0
    reward.available_minor = amount
    reward.status = "available"
    reward.released_at = now
    session.flush()
    return True


def release_due(now: datetime | None = None) -> ReleaseSummary:
    """Release every reward whose hold has ended, committing each on its own (for cron: a failure of
    one reward is logged and counted, the others go on)."""
    session = get_session()
    released = skipped = failed = 0
    amounts: dict[str, int] = {}
    for reward_id in due_reward_ids(now):
        try:
            if release(reward_id, now):
                reward = session.get(Reward, reward_id)
                amounts[reward.currency] = amounts.get(reward.currency, 0) + reward.available_minor
                released += 1
            else:
                skipped += 1
            session.commit()
        except Exception:
            session.rollback()
            log.exception("Could not release reward %s", reward_id)
            failed += 1
    return ReleaseSummary(released, skipped, failed, amounts)


# -- staff adjustments --------------------------------------------------------------------------------


def post_adjustment(
    advocate: Advocate,
    amount_minor: int,
    currency: str,
    reason: str,
    actor: Any,
    idempotency_key: str | None = None,
) -> LedgerTransaction:
    """A manual correction of an advocate's available balance by staff (positive: credit, negative:
    debit; a debit may take the balance below zero, to be netted against later rewards), recorded in
    the audit log in the same transaction.

    :param reason: why, in the staff member's words (required).
    :param actor: the staff member (a :class:`advocacy_portal.extension.Customer`).
    :param idempotency_key: a key from the form (e.g. a random token rendered into it), so a double
        submit posts once.
    :raises ValueError: on a zero amount, an empty reason or a malformed currency.
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor == 0:
        raise ValueError("the amount must be a whole, non-zero number of minor units")
    if not reason or not reason.strip():
        raise ValueError("an adjustment needs a reason")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError("the currency must be a three-letter ISO code")
    currency = currency.lower()
    available = ledger.advocate_account(advocate.id, "available", currency)
    adjustments = ledger.program_account("adjustments", currency)
    key = f"adjustment:{idempotency_key or uuid.uuid4().hex}"
    posting = ledger.post(
        key,
        "adjustment",
        [(adjustments, -amount_minor, currency), (available, amount_minor, currency)],
        memo=reason.strip(),
        actor_user_id=None if actor is None else str(actor.id),
    )
    if posting.created:
        audit.record_action(
            actor,
            "ledger.adjust",
            "advocate",
            advocate.id,
            after={"amount_minor": amount_minor, "currency": currency, "transaction_id": posting.transaction.id},
            reason=reason.strip(),
        )
    return posting.transaction
