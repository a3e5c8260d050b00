"""The reads of the back-office JSON API: advocates, referrals, payments, rewards and ledger entries,
one page at a time, in a stable order (newest first, then by id).

Advocates and payments come from the staff pages' own queries
(:func:`advocacy_portal.services.analytics.advocate_rows`,
:func:`advocacy_portal.services.reward_queries.list_conversions`); the rest are here. Filters are
plain values the view has already checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from advocacy_portal.db import get_session
from advocacy_portal.models import ADVOCATE_ACCOUNT_KINDS
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import LedgerEntry
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.models import Testimonial
from advocacy_portal.services import analytics
from advocacy_portal.services import ledger
from advocacy_portal.services import reward_queries
from advocacy_portal.services.paging import Page


@dataclass(frozen=True)
class EntryRow:
    """One ledger entry with its account and transaction."""

    entry: LedgerEntry
    account: LedgerAccount
    transaction: LedgerTransaction


def _page(query, count_query, page: int, per_page: int, order) -> tuple[list, int]:
    session = get_session()
    total = session.scalar(count_query) or 0
    rows = session.execute(query.order_by(*order).offset((page - 1) * per_page).limit(per_page)).all()
    return rows, total


def _period(query, column, start: datetime | None, end: datetime | None):
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


def advocates(search: str | None, page: int, per_page: int) -> Page:
    """Advocates, newest first, with their results (:class:`analytics.AdvocateRow`)."""
    return analytics.advocate_rows(search=search, order="newest", page=page, per_page=per_page)


def balances_of(advocate_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """``{advocate_id: {kind: {currency: minor}}}`` for many advocates in one read; every kind is
    present for every advocate asked for."""
    result = {advocate_id: {kind: {} for kind in ADVOCATE_ACCOUNT_KINDS} for advocate_id in advocate_ids}
    if not advocate_ids:
        return result
    rows = get_session().execute(
        sa.select(LedgerAccount.advocate_id, LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance_minor)
        .where(LedgerAccount.owner.in_([ledger.advocate_owner(advocate_id) for advocate_id in advocate_ids]))
    )
    for advocate_id, kind, currency, amount in rows:
        if advocate_id in result and kind in result[advocate_id]:
            result[advocate_id][kind][currency] = amount
    return result


def referrals(filters: dict[str, Any], page: int, per_page: int) -> Page[Referral]:
    """Referred friends. ``filters``: ``advocate_id``, ``state`` (``signed_up`` or ``flagged``),
    ``campaign``, ``start`` / ``end`` (when the friend signed up)."""
    query = sa.select(Referral)
    if filters.get("advocate_id") is not None:
        query = query.where(Referral.advocate_id == filters["advocate_id"])
    if filters.get("state"):
        query = query.where(Referral.status == filters["state"])
    if filters.get("campaign"):
        query = query.where(Referral.campaign == filters["campaign"])
    query = _period(query, Referral.created_at, filters.get("start"), filters.get("end"))
    rows, total = _page(
        query, sa.select(sa.func.count()).select_from(query.subquery()), page, per_page,
        [Referral.created_at.desc(), Referral.id.desc()],
    )
    return Page([row[0] for row in rows], page, per_page, total)


def conversions(filters: dict[str, Any], page: int, per_page: int) -> Page:
    """Payments, newest first: :func:`reward_queries.list_conversions` (``start`` / ``end`` are the
    time paid)."""
    return reward_queries.list_conversions(filters, page=page, per_page=per_page)


def rewards(filters: dict[str, Any], page: int, per_page: int) -> Page[Reward]:
    """Rewards. ``filters``: ``advocate_id``, ``state`` (a reward state), ``currency``, ``start`` /
    ``end`` (when the reward was earned)."""
    query = sa.select(Reward)
    if filters.get("advocate_id") is not None:
        query = query.where(Reward.advocate_id == filters["advocate_id"])
    if filters.get("state"):
        query = query.where(Reward.status == filters["state"])
    if filters.get("currency"):
        query = query.where(Reward.currency == filters["currency"].lower())
    query = _period(query, Reward.created_at, filters.get("start"), filters.get("end"))
    rows, total = _page(
        query, sa.select(sa.func.count()).select_from(query.subquery()), page, per_page,
        [Reward.created_at.desc(), Reward.id.desc()],
    )
    return Page([row[0] for row in rows], page, per_page, total)


def ledger_entries(filters: dict[str, Any], page: int, per_page: int) -> Page[EntryRow]:
    """Ledger entries of advocates' and the program's accounts, newest first. ``filters``:
    ``advocate_id``, ``account`` (an account kind), ``currency``, ``reason`` (a transaction reason),
    ``start`` / ``end``."""
    query = (
        sa.select(LedgerEntry, LedgerAccount, LedgerTransaction)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
    )
    if filters.get("advocate_id") is not None:
        query = query.where(LedgerAccount.owner == ledger.advocate_owner(filters["advocate_id"]))
    if filters.get("account"):
        query = query.where(LedgerAccount.kind == filters["account"])
    if filters.get("currency"):
        query = query.where(LedgerEntry.currency == filters["currency"].lower())
    if filters.get("reason"):
        query = query.where(LedgerTransaction.reason == filters["reason"])
    query = _period(query, LedgerEntry.created_at, filters.get("start"), filters.get("end"))
    count = sa.select(sa.func.count()).select_from(query.with_only_columns(LedgerEntry.id).subquery())
    rows, total = _page(query, count, page, per_page, [LedgerEntry.id.desc()])
    return Page([EntryRow(entry, account, transaction) for entry, account, transaction in rows],
                page, per_page, total)


def testimonials(filters: dict[str, Any], page: int, per_page: int) -> Page[Testimonial]:
    """Testimonials and reviews in every state, as staff see them. ``filters``: ``state``, ``kind``,
    ``start`` / ``end`` (when submitted)."""
    query = sa.select(Testimonial)
    if filters.get("state"):
        query = query.where(Testimonial.state == filters["state"])
    if filters.get("kind"):
        query = query.where(Testimonial.kind == filters["kind"])
    query = _period(query, Testimonial.submitted_at, filters.get("start"), filters.get("end"))
    rows, total = _page(
        query, sa.select(sa.func.count()).select_from(query.subquery()), page, per_page,
        [Testimonial.submitted_at.desc(), Testimonial.id.desc()],
    )
    return Page([row[0] for row in rows], page, per_page, total)
