"""Figures for the staff pages and the API: periods, advocates and their results, pagination.

The overview's funnel, revenue and charts are in :mod:`advocacy_portal.services.program_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Referral
from advocacy_portal.models import utcnow
from advocacy_portal.services import rollups
from advocacy_portal.services.paging import MAX_PER_PAGE  # noqa: F401  (re-exported)
from advocacy_portal.services.paging import Page
from advocacy_portal.services.paging import clamp_page

@dataclass(frozen=True)
class Period:
    """A half-open time range ``[start, end)`` in UTC, chosen on a staff page."""

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).date()


#: Years a period may start or end in: any later and extending it by a day would overflow.
FIRST_YEAR = 2000
LAST_YEAR = 2100


def _day(value: date | str | None) -> date | None:
    if isinstance(value, str):
        if not value.isascii():
            return None
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, date) or not FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return value


def period_from(start: date | str | None, end: date | str | None, *, default_days: int = 30) -> Period:
    """The period between two ISO dates (both days included); the last ``default_days`` days when
    either is missing, unreadable or outside :data:`FIRST_YEAR`..:data:`LAST_YEAR`, and the two
    swapped when given in the wrong order.
    """
    today = utcnow().date()
    first, last = _day(start), _day(end)
    if first is None or last is None:
        last = today
        first = today - timedelta(days=default_days - 1)
    if first > last:
        first, last = last, first
    return Period(
        start=datetime.combine(first, time.min, tzinfo=timezone.utc),
        end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc),
    )


@dataclass(frozen=True)
class AdvocateRow:
    """One advocate in the staff list, with their results so far."""

    advocate: Advocate
    clicks: int
    signups: int
    flagged: int
    paying_friends: int


#: Orders the advocates list accepts (``?order=``).
ADVOCATE_ORDERS = ("signups", "paying", "clicks", "newest")


def advocate_rows(
    search: str | None = None, order: str = "signups", page: int = 1, per_page: int = 50
) -> Page[AdvocateRow]:
    """Advocates with their clicks, signups and paying friends, best first.

    :param search: part of an email address or a user id.
    :param order: one of :data:`ADVOCATE_ORDERS`; anything else orders by signups.
    """
    page, per_page = clamp_page(page, per_page)
    session = get_session()
    # The live clicks above the watermark read just before (so the planner knows they are few); when a
    # rebuild lowered the mark meanwhile, the statement's own mark says so and it is read again.
    floor = rollups.read_mark()
    while True:
        query, count = _advocate_query(search, order, floor)
        rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
        if floor == 0 or not rows or rows[0].mark >= floor:
            break
        floor = 0
    return Page(
        items=[AdvocateRow(row[0], row[1] or 0, row[2] or 0, row[3] or 0, row[4] or 0) for row in rows],
        page=page,
        per_page=per_page,
        total=session.scalar(count) or 0,
    )


def _advocate_query(search: str | None, order: str, floor: int):
    click_counts = rollups.advocate_clicks_column(floor)
    clicks = sa.func.coalesce(click_counts.c.clicks, 0)
    signups = (
        sa.select(sa.func.count())
        .where(Referral.advocate_id == Advocate.id, Referral.status == "signed_up")
        .scalar_subquery()
    )
    flagged = (
        sa.select(sa.func.count())
        .where(Referral.advocate_id == Advocate.id, Referral.status == "flagged")
        .scalar_subquery()
    )
    paying = (
        sa.select(sa.func.count())
        .where(Referral.advocate_id == Advocate.id, Referral.first_paid_at.is_not(None))
        .scalar_subquery()
    )
    query = sa.select(
        Advocate, clicks, signups, flagged, paying, rollups.mark_subquery().label("mark")
    ).outerjoin(click_counts, click_counts.c.advocate_id == Advocate.id)
    count = sa.select(sa.func.count()).select_from(Advocate)
    if search:
        needle = search.strip()
        condition = sa.or_(
            sa.func.lower(Advocate.email).contains(needle.lower(), autoescape=True),
            Advocate.user_id == needle,
        )
        query = query.where(condition)
        count = count.where(condition)
    ordering = {
        "clicks": [clicks.desc()],
        "paying": [paying.desc(), signups.desc()],
        "newest": [Advocate.created_at.desc()],
    }.get(order, [signups.desc(), paying.desc()])
    return query.order_by(*ordering, Advocate.id), count


def referrals_of(advocate: Advocate, page: int = 1, per_page: int = 50) -> Page[Referral]:
    """An advocate's referred friends, newest first, flagged ones included."""
    page, per_page = clamp_page(page, per_page)
    session = get_session()
    items = list(
        session.scalars(
            sa.select(Referral)
            .where(Referral.advocate_id == advocate.id)
            .order_by(Referral.created_at.desc(), Referral.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    total = session.scalar(
        sa.select(sa.func.count()).where(Referral.advocate_id == advocate.id)
    )
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
