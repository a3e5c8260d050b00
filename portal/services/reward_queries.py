"""Rewards, the reads of the rewards and admin pages: balances, an advocate's ledger lines with
why each happened, payments and revenue, and what the program owes.

The postings themselves are in :mod:`advocacy_portal.services.rewards`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import Redemption
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.services import fraud
from advocacy_portal.services import ledger
from advocacy_portal.services import offer_text
from advocacy_portal.services.money import format_money
from advocacy_portal.services.paging import Page
from advocacy_portal.services.paging import clamp_page
from advocacy_portal.services.referral_queries import mask_email


@dataclass(frozen=True)
class EntryLine:
    """One line of an advocate's ledger, with its explanation."""

    created_at: datetime
    account: str
    amount_minor: int
    currency: str
    reason: str
    memo: str | None
    #: The referred friend, masked (``j***@example.com``), for reward postings.
    friend: str | None
    payment_amount_minor: int | None
    payment_currency: str | None
    #: The rule, in words (``10% of the payment``, ``5.00 USD per payment``).
    rule: str | None
    transaction_id: int
    #: The payment's Stripe id (its PaymentIntent, invoice, charge or Checkout Session), for staff.
    payment_key: str | None = None
    #: Why a reward went down or up again: ``refunded``, ``partly_refunded``, ``disputed`` (open),
    #: ``dispute_lost``, ``dispute_won``; ``None`` for other lines.
    cause: str | None = None
    #: The redemption a ``redemption.*`` line belongs to.
    redemption_id: int | None = None


def _cause(reason: str, details: dict | None) -> str | None:
    if reason not in ("reward.void", "reward.clawback", "reward.restore") or not details:
        return None
    dispute = details.get("dispute")
    if reason == "reward.restore":
        return "dispute_won" if dispute in ("won", "closed") else ("refund_reversed" if not dispute else None)
    if dispute == "open":
        return "disputed"
    if dispute == "lost":
        return "dispute_lost"
    refunded, amount = details.get("refunded_minor") or 0, details.get("amount_minor") or 0
    if refunded and amount and refunded < amount:
        return "partly_refunded"
    return "refunded" if refunded else None


@dataclass(frozen=True)
class PendingReward:
    """A reward still on hold: how much, for whose payment, and when it becomes available."""

    amount_minor: int
    currency: str
    friend: str | None
    hold_until: datetime
    #: Why the reward waits beyond ``hold_until``: ``"disputed"`` (the friend's payment is disputed),
    #: ``"checking"`` (held for staff review, voided or blocked), or ``None`` (it is just the hold).
    waiting_for: str | None = None


def pending_rewards(advocate: Advocate, limit: int = 20) -> list[PendingReward]:
    """The advocate's rewards on hold, soonest available first."""
    rows = get_session().execute(
        select(Reward, Referral, Conversion.dispute_status, fraud.release_allowed().label("releasable"))
        .outerjoin(Referral, Referral.id == Reward.referral_id)
        .outerjoin(Conversion, Conversion.id == Reward.conversion_id)
        .where(Reward.advocate_id == advocate.id, Reward.released_at.is_(None), Reward.pending_minor > 0)
        .order_by(Reward.hold_until, Reward.id)
        .limit(limit)
    ).all()
    # A reward that release_due() will not release on its date must not promise that date.
    return [
        PendingReward(
            amount_minor=reward.pending_minor,
            currency=reward.currency,
            friend=mask_email(referral.friend_email_normalized) if referral is not None else None,
            hold_until=reward.hold_until,
            waiting_for="disputed" if dispute_status == "open" else (None if releasable else "checking"),
        )
        for reward, referral, dispute_status, releasable in rows
    ]


def balances(advocate: Advocate) -> dict[str, dict[str, int]]:
    """``{state: {currency: minor}}`` for ``pending``, ``available``, ``reserved``, ``redeemed``."""
    return ledger.balances(advocate)


def describe_rule(rule: dict[str, Any] | None) -> str | None:
    """A rule snapshot in words (:func:`advocacy_portal.services.offer_text.rule_in_words`)."""
    return offer_text.rule_in_words(rule)


def _page_args(page: int, per_page: int) -> tuple[int, int]:
    return clamp_page(page, per_page, default_per_page=25)


def entries_for(advocate: Advocate, page: int = 1, per_page: int = 25) -> Page:
    """An advocate's ledger lines, newest first, each with why it happened."""
    page, per_page = _page_args(page, per_page)
    session = get_session()
    owner = ledger.advocate_owner(advocate.id)
    base = (
        select(LedgerEntry, LedgerAccount.kind, LedgerTransaction, Conversion, Reward, Referral)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(Conversion, Conversion.id == LedgerTransaction.conversion_id)
        .outerjoin(Reward, Reward.id == LedgerTransaction.reward_id)
        .outerjoin(Referral, Referral.id == Reward.referral_id)
        .where(LedgerAccount.owner == owner)
    )
    total = session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.owner == owner)
    ) or 0
    rows = session.execute(
        base.order_by(LedgerEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    items = [
        EntryLine(
            created_at=entry.created_at,
            account=kind,
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            reason=transaction.reason,
            memo=transaction.memo,
            friend=mask_email(referral.friend_email_normalized) if referral is not None else None,
            payment_amount_minor=conversion.amount_minor if conversion is not None else None,
            payment_currency=conversion.currency if conversion is not None else None,
            rule=describe_rule(reward.rule) if reward is not None else None,
            transaction_id=transaction.id,
            payment_key=conversion.payment_key if conversion is not None else None,
            cause=_cause(transaction.reason, transaction.details),
            redemption_id=transaction.redemption_id,
        )
        for entry, kind, transaction, conversion, reward, referral in rows
    ]
    return Page(items, page, per_page, total)


def revenue_summary(start: datetime | None = None, end: datetime | None = None) -> dict[str, dict[str, int]]:
    """Revenue of paid payments in ``[start, end)`` per currency: ``{"usd": {"total_minor",
    "attributed_minor", "payments", "attributed_payments", "refunded_minor", "net_minor",
    "attributed_net_minor"}}``. Net excludes refunds and open or lost disputes. One grouped SQL
    statement (:func:`advocacy_portal.services.program_report.revenue_summary`)."""
    from advocacy_portal.services.program_report import revenue_summary as summary_in_sql

    return summary_in_sql(start, end)


def list_conversions(filters: dict[str, Any] | None = None, page: int = 1, per_page: int = 25) -> Page:
    """Payments, newest first. ``filters``: ``attributed`` (bool), ``advocate_id``, ``currency``,
    ``outcome`` (a ``reward_outcome``), ``start`` / ``end`` (paid_at), ``search`` (a Stripe id)."""
    filters = filters or {}
    page, per_page = _page_args(page, per_page)
    query = select(Conversion)
    if filters.get("attributed") is True:
        query = query.where(Conversion.referral_id.is_not(None))
    elif filters.get("attributed") is False:
        query = query.where(Conversion.referral_id.is_(None))
    if filters.get("advocate_id") is not None:
        query = query.where(Conversion.advocate_id == filters["advocate_id"])
    if filters.get("currency"):
        query = query.where(Conversion.currency == str(filters["currency"]).lower())
    if filters.get("outcome"):
        query = query.where(Conversion.reward_outcome == filters["outcome"])
    if filters.get("start") is not None:
        query = query.where(Conversion.paid_at >= filters["start"])
    if filters.get("end") is not None:
        query = query.where(Conversion.paid_at < filters["end"])
    if filters.get("search"):
        term = str(filters["search"]).strip()
        query = query.where(
            or_(
                Conversion.payment_key == term,
                Conversion.payment_intent_id == term,
                Conversion.charge_id == term,
                Conversion.invoice_id == term,
                Conversion.checkout_session_id == term,
                Conversion.stripe_customer_id == term,
            )
        )
    session = get_session()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        session.scalars(
            query.order_by(Conversion.created_at.desc(), Conversion.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(items, page, per_page, total)


def reward_cost_by_state() -> dict[str, dict[str, int]]:
    """What the program owes and has paid, per currency: ``{"usd": {"pending", "available",
    "reserved", "redeemed", "clawed_back", "adjustments", "expense", "total"}}``. ``expense`` is what
    rewards cost (less what was voided before release), ``clawed_back`` what refunds took back after
    release (negative), ``adjustments`` the staff adjustments, and ``total`` all three: what the program
    has given advocates, equal to pending + available + reserved + redeemed."""
    result: dict[str, dict[str, int]] = {}
    is_program = (LedgerAccount.owner == ledger.PROGRAM).label("is_program")
    rows = get_session().execute(
        select(is_program, LedgerAccount.kind, LedgerAccount.currency, func.sum(LedgerAccount.balance_minor))
        .group_by(is_program, LedgerAccount.kind, LedgerAccount.currency)
    ).all()
    for program, kind, currency, total in rows:
        row = result.setdefault(
            currency,
            {"pending": 0, "available": 0, "reserved": 0, "redeemed": 0, "clawed_back": 0,
             "adjustments": 0, "expense": 0, "total": 0},
        )
        total = int(total or 0)
        if program:
            # Program accounts hold the other side of the advocates' balances: show them positive.
            name = {"reward_expense": "expense", "clawbacks": "clawed_back", "adjustments": "adjustments"}[kind]
            row[name] += -total
            row["total"] += -total
        else:
            row[kind] += total
    return result


def advocate_overview(advocate: Advocate) -> dict[str, Any]:
    """Everything staff need about one advocate: balances, rewards, payments and redemptions."""
    session = get_session()
    rewards = list(
        session.scalars(
            select(Reward).where(Reward.advocate_id == advocate.id).order_by(Reward.id.desc()).limit(50)
        )
    )
    redemptions = list(
        session.scalars(
            select(Redemption)
            .where(Redemption.advocate_id == advocate.id)
            .order_by(Redemption.id.desc())
            .limit(50)
        )
    )
    conversions = list_conversions({"advocate_id": advocate.id}, per_page=50)
    referrals = session.scalar(
        select(func.count()).select_from(Referral).where(Referral.advocate_id == advocate.id)
    ) or 0
    return {
        "advocate": advocate,
        "balances": balances(advocate),
        "rewards": rewards,
        "redemptions": redemptions,
        "conversions": conversions.items,
        "conversion_count": conversions.total,
        "referral_count": referrals,
    }


@dataclass(frozen=True)
class People:
    """Who is behind payments: ``payers`` maps a host user id to an email, ``advocates`` an advocate
    id to their email (or user id)."""

    payers: dict[str, str]
    advocates: dict[int, str]

    def payer(self, conversion) -> str | None:
        return self.payers.get(conversion.customer_user_id) if conversion.customer_user_id else None

    def advocate(self, advocate_id) -> str | None:
        return self.advocates.get(advocate_id) if advocate_id is not None else None


def people_of(conversions=(), advocate_ids=()) -> People:
    """The emails of the payers and advocates of ``conversions`` (and of ``advocate_ids``), in three reads
    whatever their number: a payer is known by their referral (the friend's email) or as an advocate."""
    session = get_session()
    conversions = list(conversions)
    user_ids = {c.customer_user_id for c in conversions if c.customer_user_id}
    wanted = {c.advocate_id for c in conversions if c.advocate_id is not None} | set(advocate_ids)
    payers: dict[str, str] = {}
    if user_ids:
        for user_id, email in session.execute(
            select(Advocate.user_id, Advocate.email).where(Advocate.user_id.in_(user_ids), Advocate.email.is_not(None))
        ):
            payers[user_id] = email
        for user_id, email in session.execute(
            select(Referral.friend_user_id, Referral.friend_email_normalized)
            .where(Referral.friend_user_id.in_(user_ids), Referral.friend_email_normalized.is_not(None))
        ):
            payers.setdefault(user_id, email)
    advocates: dict[int, str] = {}
    if wanted:
        for advocate_id, email, user_id in session.execute(
            select(Advocate.id, Advocate.email, Advocate.user_id).where(Advocate.id.in_(wanted))
        ):
            advocates[advocate_id] = email or f"user {user_id}"
    return People(payers, advocates)
