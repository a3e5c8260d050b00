"""The program's figures for the staff overview and the advocates pages, aggregated in SQL.

Clicks come from the rollups (:mod:`advocacy_portal.services.rollups`, rolled-up days plus the live
clicks above the watermark); signups, payments and reward cost from the report rollups
(:mod:`advocacy_portal.services.report_rollups`: days per advocate and in total, with the days changed
since the last fold counted live). Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import utcnow
from advocacy_portal.services import report_rollups
from advocacy_portal.services import rollups
from advocacy_portal.services.paging import Page
from advocacy_portal.services.paging import clamp_page

#: How the overview groups days (``?by=``).
GRANULARITIES = ("day", "week", "month")

#: Orders of the advocates leaderboard (``?order=``), best first.
LEADERBOARD_ORDERS = ("revenue", "friends", "paying", "conversion", "cost", "clicks", "newest")

#: Days after a customer's first payment over which lifetime value and retention are measured.
LIFETIME_WINDOWS = (30, 90, 365)


def report_currency() -> str:
    """The currency the leaderboard ranks revenue and cost in: the default reward rule's."""
    rules = config_value("REWARD_RULES") or {}
    return str((rules.get("default") or {}).get("currency") or "usd").lower()


def _dialect() -> str:
    return rollups.dialect_name()


def _day(column):
    return rollups.day_of(column, _dialect())


def bucket_of(day: date, by: str) -> date:
    """The first day of the bucket ``day`` falls in: itself, its week's Monday, its month's 1st."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def bucket_starts(first: date, last: date, by: str) -> list[date]:
    starts: list[date] = []
    current = bucket_of(first, by)
    while current <= last:
        starts.append(current)
        if by == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        elif by == "week":
            current += timedelta(days=7)
        else:
            current += timedelta(days=1)
    return starts


@dataclass
class Totals:
    """The figures of one period or one bucket. Money is ``{currency: minor}``."""

    clicks: int = 0
    signups: int = 0
    flagged: int = 0
    first_payments: int = 0
    repeat_payments: int = 0
    revenue: dict[str, int] = field(default_factory=dict)
    referral_revenue: dict[str, int] = field(default_factory=dict)
    net_revenue: dict[str, int] = field(default_factory=dict)
    referral_net_revenue: dict[str, int] = field(default_factory=dict)

    @property
    def signup_rate(self) -> float | None:
        return self.signups / self.clicks if self.clicks else None

    @property
    def first_payment_rate(self) -> float | None:
        return self.first_payments / self.signups if self.signups else None

    @property
    def repeat_rate(self) -> float | None:
        return self.repeat_payments / self.first_payments if self.first_payments else None


@dataclass
class RewardCost:
    """What the rewards earned in a period cost, in one currency: what is still pending, what is
    available (or spent) and what refunds and disputes took back."""

    pending: int = 0
    available: int = 0
    clawed_back: int = 0
    rewards: int = 0

    @property
    def cost(self) -> int:
        return self.pending + self.available


@dataclass
class Report:
    """The overview of one period: totals, the same totals of the period before, a series by bucket."""

    first: date
    last: date
    by: str
    totals: Totals
    previous: Totals
    previous_first: date
    previous_last: date
    buckets: list[tuple[date, Totals]]
    cost: dict[str, RewardCost]
    previous_cost: dict[str, RewardCost]
    #: The period's payments per currency, with the keys of :func:`revenue_summary` but
    #: ``refunded_minor`` (the same figures, from the rollups rather than a scan of the payments).
    payments: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def currencies(self) -> list[str]:
        found = set(self.totals.revenue) | set(self.cost) | set(self.previous.revenue)
        return sorted(found)

    def roi(self, currency: str, previous: bool = False) -> float | None:
        """(referral net revenue − reward cost) / reward cost; ``None`` without any cost."""
        totals = self.previous if previous else self.totals
        cost = (self.previous_cost if previous else self.cost).get(currency)
        if cost is None or cost.cost <= 0:
            return None
        return (totals.referral_net_revenue.get(currency, 0) - cost.cost) / cost.cost

    def cost_per_customer(self, currency: str, previous: bool = False) -> float | None:
        """Reward cost per referred friend who paid for the first time in the period (minor units)."""
        totals = self.previous if previous else self.totals
        cost = (self.previous_cost if previous else self.cost).get(currency)
        if cost is None or not totals.first_payments:
            return None
        return cost.cost / totals.first_payments


def change(current: float | int | None, previous: float | int | None) -> float | None:
    """The relative change from ``previous`` to ``current`` (``0.25`` = 25 % up); ``None`` when the
    previous value is zero or missing."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return rollups._day_bounds(first, last)


def _add_row(totals: Totals, currency: str, figures: dict[str, int]) -> None:
    """Add one report row (:mod:`advocacy_portal.services.report_rollups`) to ``totals``."""
    totals.signups += figures["signups"]
    totals.flagged += figures["flagged"]
    totals.first_payments += figures["first_payments"]
    # A referred friend's payments less their first payments are the repeat ones; fixed up per day.
    totals.repeat_payments += figures["referred_payments"]
    if currency:
        for target, name in (
            (totals.revenue, "revenue"), (totals.referral_revenue, "referral_revenue"),
            (totals.net_revenue, "net_revenue"), (totals.referral_net_revenue, "referral_net_revenue"),
        ):
            if figures["payments"] or figures[name]:
                target[currency] = target.get(currency, 0) + figures[name]


def _cost_of(rows: dict, currency: str, figures: dict[str, int]) -> None:
    if not currency or not figures["rewards"]:
        return
    cost = rows.setdefault(currency, RewardCost())
    cost.pending += figures["reward_pending"]
    cost.available += figures["reward_available"]
    cost.clawed_back += max(0, figures["reward_clawed_back"])
    cost.rewards += figures["rewards"]


#: :func:`revenue_summary`'s keys for the report's figures.
_PAYMENT_KEYS = (
    ("total_minor", "revenue"), ("attributed_minor", "referral_revenue"), ("payments", "payments"),
    ("attributed_payments", "referred_payments"), ("net_minor", "net_revenue"),
    ("attributed_net_minor", "referral_net_revenue"),
)


def _add_payments(into: dict[str, dict[str, int]], currency: str, figures: dict[str, int]) -> None:
    if not currency or not figures["payments"]:
        return
    row = into.setdefault(currency, dict.fromkeys((key for key, _ in _PAYMENT_KEYS), 0))
    for key, name in _PAYMENT_KEYS:
        row[key] += figures[name]


def _per_day(first: date, last: date, advocate_id: int = report_rollups.PROGRAM,
             cost: dict[str, RewardCost] | None = None,
             payments: dict[str, dict[str, int]] | None = None) -> dict[date, Totals]:
    """Every figure of the days from ``first`` to ``last``, by day (days with nothing are absent), from
    the rollups; the reward cost of those days is added to ``cost`` and their payments per currency to
    ``payments`` when given."""
    days: dict[date, Totals] = {}

    def at(value) -> Totals:
        return days.setdefault(rollups.as_date(value), Totals())

    for day, clicks in rollups.clicks_by_day(
        first, last, None if advocate_id == report_rollups.PROGRAM else advocate_id
    ).items():
        at(day).clicks = clicks
    for (day, currency), figures in report_rollups.report_rows(first, last, advocate_id).items():
        _add_row(at(day), currency, figures)
        if cost is not None:
            _cost_of(cost, currency, figures)
        if payments is not None:
            _add_payments(payments, currency, figures)
    for totals in days.values():
        totals.repeat_payments = max(0, totals.repeat_payments - totals.first_payments)
    return days


def _add(into: Totals, other: Totals) -> None:
    for name in ("clicks", "signups", "flagged", "first_payments", "repeat_payments"):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    for name in ("revenue", "referral_revenue", "net_revenue", "referral_net_revenue"):
        target = getattr(into, name)
        for currency, value in getattr(other, name).items():
            target[currency] = target.get(currency, 0) + value


def reward_cost(first: date, last: date) -> dict[str, RewardCost]:
    """What the rewards of the payments paid from ``first`` to ``last`` cost, per currency."""
    result: dict[str, RewardCost] = {}
    for currency, figures in report_rollups.report_rows(first, last, by_day=False).items():
        _cost_of(result, currency, figures)
    return result


def overview(first: date, last: date, by: str = "day") -> Report:
    """The overview of the days ``first`` to ``last``, grouped ``by`` day, week or month, with the
    totals of the period of the same length just before."""
    if by not in GRANULARITIES:
        by = "day"
    length = (last - first).days + 1
    previous_last = first - timedelta(days=1)
    previous_first = previous_last - timedelta(days=length - 1)
    cost: dict[str, RewardCost] = {}
    previous_cost: dict[str, RewardCost] = {}
    payments: dict[str, dict[str, int]] = {}
    current_days = _per_day(first, last, cost=cost, payments=payments)
    previous_days = _per_day(previous_first, previous_last, cost=previous_cost)
    series = {start: Totals() for start in bucket_starts(first, last, by)}
    totals = Totals()
    for day, figures in current_days.items():
        if by == "day":  # the day's own figures are its bucket
            series[day] = figures
        else:
            _add(series.setdefault(bucket_of(day, by), Totals()), figures)
        _add(totals, figures)
    previous = Totals()
    for figures in previous_days.values():
        _add(previous, figures)
    return Report(
        first=first, last=last, by=by, totals=totals, previous=previous,
        previous_first=previous_first, previous_last=previous_last,
        buckets=sorted(series.items()),
        cost=cost, previous_cost=previous_cost, payments=payments,
    )


def revenue_summary(start: datetime | None, end: datetime | None) -> dict[str, dict[str, int]]:
    """Revenue of paid payments in ``[start, end)`` per currency, in one grouped SQL statement (the keys
    of :func:`advocacy_portal.services.reward_queries.revenue_summary`)."""
    referred = Conversion.referral_id.is_not(None)
    net = report_rollups.net_minor_sql()
    amount = sa.func.coalesce(Conversion.amount_minor, 0)
    query = sa.select(
        Conversion.currency,
        sa.func.sum(amount),
        sa.func.sum(sa.case((referred, amount), else_=0)),
        sa.func.count(),
        sa.func.sum(sa.case((referred, 1), else_=0)),
        sa.func.sum(Conversion.refunded_minor),
        sa.func.sum(net),
        sa.func.sum(sa.case((referred, net), else_=0)),
    ).where(Conversion.paid_at.is_not(None))
    if start is not None:
        query = query.where(Conversion.paid_at >= start)
    if end is not None:
        query = query.where(Conversion.paid_at < end)
    keys = ("total_minor", "attributed_minor", "payments", "attributed_payments", "refunded_minor",
            "net_minor", "attributed_net_minor")
    summary = {}
    for currency, *values in get_session().execute(query.group_by(Conversion.currency)):
        summary[currency or "???"] = {key: int(value or 0) for key, value in zip(keys, values)}
    return summary


# -- the advocates leaderboard ---------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderboardRow:
    """One advocate with what their friends brought and what their rewards cost (in ``currency``)."""

    advocate_id: int
    email: str | None
    user_id: str
    created_at: datetime
    clicks: int
    friends: int
    flagged: int
    paying_friends: int
    revenue_minor: int
    cost_minor: int
    currency: str

    @property
    def conversion_rate(self) -> float | None:
        return self.paying_friends / self.friends if self.friends else None

    @property
    def label(self) -> str:
        return self.email or self.user_id


def leaderboard(
    order: str = "revenue", search: str | None = None, page: int = 1, per_page: int = 50
) -> Page[LeaderboardRow]:
    """Advocates ranked by ``order`` (one of :data:`LEADERBOARD_ORDERS`), all time.

    Each figure comes from the rollups (clicks, and the report's days per advocate), each one grouped
    subquery joined once.
    """
    page, per_page = clamp_page(page, per_page)
    floor = rollups.read_mark()
    result, mark = _leaderboard(order, search, page, per_page, floor)
    if mark < floor:  # a click rollup rebuild lowered the mark meanwhile: count above the real one
        result, mark = _leaderboard(order, search, page, per_page, 0)
    return result


def _leaderboard(order, search, page, per_page, floor) -> tuple[Page[LeaderboardRow], int]:
    currency = report_currency()
    rollups.small_reads()
    clicks = rollups.advocate_clicks_column(floor)
    totals = report_rollups.advocate_totals_subquery(currency)
    c_clicks = sa.func.coalesce(clicks.c.clicks, 0)
    c_friends = sa.func.coalesce(totals.c.friends, 0)
    c_flagged = sa.func.coalesce(totals.c.flagged, 0)
    c_paying = sa.func.coalesce(totals.c.paying, 0)
    c_revenue = sa.func.coalesce(totals.c.revenue, 0)
    c_cost = sa.func.coalesce(totals.c.cost, 0)
    rate = sa.case((c_friends > 0, sa.cast(c_paying, sa.Float) / c_friends), else_=-1.0)
    query = (
        sa.select(Advocate.id, Advocate.email, Advocate.user_id, Advocate.created_at,
                  c_clicks, c_friends, c_flagged, c_paying, c_revenue, c_cost, rollups.mark_subquery())
        .select_from(Advocate)
        .outerjoin(clicks, clicks.c.advocate_id == Advocate.id)
        .outerjoin(totals, totals.c.advocate_id == Advocate.id)
    )
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
        "revenue": [c_revenue.desc(), c_paying.desc()],
        "friends": [c_friends.desc(), c_paying.desc()],
        "paying": [c_paying.desc(), c_friends.desc()],
        "conversion": [rate.desc(), c_friends.desc()],
        "cost": [c_cost.desc()],
        "clicks": [c_clicks.desc()],
        "newest": [Advocate.created_at.desc()],
    }.get(order, [c_revenue.desc(), c_paying.desc()])
    session = get_session()
    rows = session.execute(query.order_by(*ordering, Advocate.id).limit(per_page).offset((page - 1) * per_page)).all()
    items = [
        LeaderboardRow(
            advocate_id=row[0], email=row[1], user_id=row[2], created_at=row[3], clicks=int(row[4]),
            friends=int(row[5]), flagged=int(row[6]), paying_friends=int(row[7]), revenue_minor=int(row[8]),
            cost_minor=int(row[9]), currency=currency,
        )
        for row in rows
    ]
    mark = min((int(row[10] or 0) for row in rows), default=floor)
    return Page(items=items, page=page, per_page=per_page, total=session.scalar(count) or 0), mark


# -- lifetime value and retention ------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """Customers of one group whose first payment is at least ``days`` old."""

    days: int
    customers: int
    revenue_minor: int
    retained: int

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue_minor / self.customers if self.customers else None

    @property
    def retention(self) -> float | None:
        return self.retained / self.customers if self.customers else None


def _plus_days(column, days: int):
    if _dialect() == "postgresql":
        return column + sa.text(f"interval '{int(days)} days'")
    return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{int(days)} days")


def lifetime_value(now: datetime | None = None) -> dict[str, Any]:
    """:func:`lifetime_value_at` now (the current hour), computed again only when a payment changed
    (:func:`~advocacy_portal.services.report_rollups.data_version`) or the hour turned; otherwise the
    figures of the last computation, which are the same."""
    if now is not None:
        return lifetime_value_at(now)
    from advocacy_portal.proxies import current_portal

    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    key = (report_currency(), hour, report_rollups.data_version())
    cache = current_portal.state().cache
    cached = cache.get("lifetime_value")
    if cached is not None and cached[0] == key:
        return cached[1]
    result = lifetime_value_at(hour)
    cache["lifetime_value"] = (key, result)
    return result


def lifetime_value_at(now: datetime) -> dict[str, Any]:
    """Revenue per customer within 30/90/365 days of their first payment, and retention (a payment
    at least that many days after the first), for referred customers and all others, in the report
    currency. A customer is the paying host user (else their Stripe customer); referred when any of
    their payments came through a referral. Only customers whose first payment is old enough count.

    :returns: ``{"currency": ..., "referred": [Cohort...], "others": [Cohort...]}``.
    """
    currency = report_currency()
    session = get_session()
    customer = sa.func.coalesce(Conversion.customer_user_id, Conversion.stripe_customer_id)
    # One pass: each payment with its customer's first payment time and referred flag (window
    # functions), then per customer, then per group and window.
    paid = (
        sa.select(
            customer.label("customer"),
            Conversion.paid_at.label("paid_at"),
            report_rollups.net_minor_sql().label("net"),
            sa.func.min(Conversion.paid_at).over(partition_by=customer).label("first_at"),
            sa.func.max(sa.case((Conversion.referral_id.is_not(None), 1), else_=0))
            .over(partition_by=customer).label("referred"),
        )
        .where(Conversion.paid_at.is_not(None), Conversion.currency == currency, customer.is_not(None))
        .subquery("paid")
    )
    columns = [paid.c.customer, paid.c.referred, paid.c.first_at]
    for days in LIFETIME_WINDOWS:
        horizon = _plus_days(paid.c.first_at, days)
        columns.append(sa.func.sum(sa.case((paid.c.paid_at < horizon, paid.c.net), else_=0)).label(f"revenue_{days}"))
        columns.append(sa.func.max(sa.case((paid.c.paid_at >= horizon, 1), else_=0)).label(f"retained_{days}"))
    per_customer = sa.select(*columns).group_by(paid.c.customer, paid.c.referred, paid.c.first_at).subquery("per_customer")
    figures = [per_customer.c.referred]
    for days in LIFETIME_WINDOWS:
        old_enough = per_customer.c.first_at <= now - timedelta(days=days)
        figures += [
            sa.func.sum(sa.case((old_enough, 1), else_=0)),
            sa.func.sum(sa.case((old_enough, getattr(per_customer.c, f"revenue_{days}")), else_=0)),
            sa.func.sum(sa.case((old_enough, getattr(per_customer.c, f"retained_{days}")), else_=0)),
        ]
    rows = {int(row[0]): row[1:] for row in session.execute(sa.select(*figures).group_by(per_customer.c.referred))}
    result: dict[str, Any] = {"currency": currency, "referred": [], "others": []}
    for key, flag in (("referred", 1), ("others", 0)):
        values = rows.get(flag) or (0,) * (3 * len(LIFETIME_WINDOWS))
        for index, days in enumerate(LIFETIME_WINDOWS):
            count, revenue, retained = values[3 * index : 3 * index + 3]
            result[key].append(Cohort(days, int(count or 0), int(revenue or 0), int(retained or 0)))
    return result


# -- one advocate ----------------------------------------------------------------------------------


def advocate_funnel(advocate_id: int, months: int = 12, today: date | None = None) -> list[tuple[date, Totals]]:
    """One advocate's clicks, friends, first and repeat payments and revenue by month, for the last
    ``months`` months (the current one included)."""
    today = today or utcnow().date()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    series = {month: Totals() for month in bucket_starts(first, today, "month")}
    for day, figures in _per_day(first, today, advocate_id).items():
        month = series.setdefault(bucket_of(day, "month"), Totals())
        for name in ("clicks", "signups", "flagged", "first_payments", "repeat_payments"):
            setattr(month, name, getattr(month, name) + getattr(figures, name))
        for currency, value in figures.referral_net_revenue.items():
            month.referral_net_revenue[currency] = month.referral_net_revenue.get(currency, 0) + value
    return sorted(series.items())


# -- NPS -------------------------------------------------------------------------------------------


def nps_trend(report: Report) -> list[tuple[date, Any]]:
    """The NPS answers of the report's period by its buckets: ``[(bucket start, Summary)]``, every bucket
    present (an empty Summary has no score)."""
    from advocacy_portal.services import nps_queries

    series = {start: nps_queries.Summary() for start, _ in report.buckets}
    for day, counts in nps_queries.score_counts_by_day(report.first, report.last).items():
        bucket = series.setdefault(bucket_of(day, report.by), nps_queries.Summary())
        bucket.promoters += counts.promoters
        bucket.passives += counts.passives
        bucket.detractors += counts.detractors
    return sorted(series.items())


def nps_chart(report: Report, trend: list[tuple[date, Any]]):
    """Promoters, passives and detractors by bucket (the NPS itself, which may be negative, is in the
    table beside it)."""
    from advocacy_portal.services import charts
    from advocacy_portal.services.formatting import format_number

    labels = [bucket_label(start, report.by) for start, _ in trend]
    return charts.column_chart(
        labels,
        [
            ("Promoters (9–10)", "advocacy-bar-promoters", [s.promoters for _, s in trend]),
            ("Passives (7–8)", "advocacy-bar-passives", [s.passives for _, s in trend]),
            ("Detractors (0–6)", "advocacy-bar-detractors", [s.detractors for _, s in trend]),
        ],
        lambda value: format_number(round(value, 1)),
    )


# -- charts ----------------------------------------------------------------------------------------


def bucket_label(start: date, by: str) -> str:
    from advocacy_portal.services.formatting import format_date

    if by == "month":
        return format_date(start, "MMM yyyy")
    return format_date(start, "MMM d")


def overview_charts(report: Report) -> dict[str, Any]:
    """The overview's charts: revenue by bucket per currency (referral vs all), the funnel, and reward
    cost by state per currency."""
    from advocacy_portal.services import charts
    from advocacy_portal.services.formatting import format_number
    from advocacy_portal.services.money import format_money

    labels = [bucket_label(start, report.by) for start, _ in report.buckets]
    revenue = {}
    for currency in sorted(set(report.totals.revenue) | {c for _, t in report.buckets for c in t.revenue}):
        revenue[currency] = charts.column_chart(
            labels,
            [
                ("All revenue", "advocacy-bar-all", [t.revenue.get(currency, 0) for _, t in report.buckets]),
                ("Referral revenue", "advocacy-bar-referral",
                 [t.referral_revenue.get(currency, 0) for _, t in report.buckets]),
            ],
            lambda value, currency=currency: format_money(int(value), currency),
        )
    totals = report.totals
    funnel = charts.bar_chart(
        [
            ("Clicks", "advocacy-bar-clicks", totals.clicks),
            ("Signups", "advocacy-bar-signups", totals.signups),
            ("First payments", "advocacy-bar-first", totals.first_payments),
            ("Repeat payments", "advocacy-bar-repeat", totals.repeat_payments),
        ],
        lambda value: format_number(int(value)),
    )
    trend = charts.column_chart(
        labels,
        [
            ("Signups", "advocacy-bar-signups", [t.signups for _, t in report.buckets]),
            ("First payments", "advocacy-bar-first", [t.first_payments for _, t in report.buckets]),
        ],
        lambda value: format_number(round(value, 1)),
    )
    cost = {}
    for currency, figures in sorted(report.cost.items()):
        cost[currency] = charts.bar_chart(
            [
                ("Pending", "advocacy-bar-pending", figures.pending),
                ("Available or spent", "advocacy-bar-available", figures.available),
                ("Clawed back", "advocacy-bar-clawed", figures.clawed_back),
            ],
            lambda value, currency=currency: format_money(int(value), currency),
        )
    return {"labels": labels, "revenue": revenue, "funnel": funnel, "trend": trend, "cost": cost}


def advocate_funnel_chart(series: list[tuple[date, Totals]]):
    from advocacy_portal.services import charts
    from advocacy_portal.services.formatting import format_number

    labels = [bucket_label(start, "month") for start, _ in series]
    return charts.column_chart(
        labels,
        [
            ("Clicks", "advocacy-bar-clicks", [t.clicks for _, t in series]),
            ("Signups", "advocacy-bar-signups", [t.signups for _, t in series]),
            ("First payments", "advocacy-bar-first", [t.first_payments for _, t in series]),
        ],
        lambda value: format_number(round(value, 1)),
        max_x_labels=6,
    )
