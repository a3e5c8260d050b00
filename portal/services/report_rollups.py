"""Report rollups: signups, first and repeat payments, revenue and reward cost per day, in total and per
advocate, kept up to date by marking stale days and refolding them; read exact at any moment.

Database triggers (migration ``5d9a3f7c1e20``) insert a row in ``advocacy_report_dirty_days`` for every
day a change to a referral (signup, flag, first payment), a payment (paid, refund, dispute) or a reward
(state, amounts) touches, *in the transaction of the change*. So a change and its mark become visible
together: while a transaction is in flight neither is, once it commits both are.

A reader (:func:`report_rows`) takes, in one SQL statement (one snapshot), the rolled-up rows of the
days not marked and a live count from the raw tables of the days marked. A fold (:func:`fold`) recounts
the marked days from the raw tables and deletes the marks it saw, in one transaction: on PostgreSQL a
REPEATABLE READ snapshot, so a mark committed after that snapshot (its change not counted) is not
deleted, and the day stays live until the next fold. Folds and rebuilds exclude each other with an
advisory lock (PostgreSQL) or SQLite's single writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from advocacy_portal.config import config_value
from advocacy_portal.db import get_engine
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import ReportAdvocateTotal
from advocacy_portal.models import ReportDay
from advocacy_portal.models import ReportDirtyDay
from advocacy_portal.models import Reward
from advocacy_portal.models import RollupMark
from advocacy_portal.models import utcnow
from advocacy_portal.services.rollups import as_date
from advocacy_portal.services.rollups import day_of
from advocacy_portal.services.rollups import fixed

log = logging.getLogger(__name__)

#: Name of the report's row in ``advocacy_rollup_marks`` (when it was last folded).
REPORT = "report"

#: The figures of a :class:`ReportDay` row, in order.
FIGURES = (
    "signups", "flagged", "paying_signups", "first_payments", "payments", "referred_payments", "revenue",
    "referral_revenue", "net_revenue", "referral_net_revenue", "rewards", "reward_pending",
    "reward_available", "reward_clawed_back",
)

#: ``advocate_id`` of the whole program's rows.
PROGRAM = 0

#: Days recounted per transaction by a fold or a rebuild.
DAYS_PER_FOLD = 31

_days = ReportDay.__table__
_totals = ReportAdvocateTotal.__table__
_dirty = ReportDirtyDay.__table__
_marks = RollupMark.__table__
_LOCK_KEY = 0x6164765F72707431  # "adv_rpt1"


def _zero():
    return sa.cast(sa.literal(0), sa.BigInteger)


def net_minor_sql():
    """What the business kept of a paid payment, as SQL (see :attr:`Conversion.net_minor`): the
    rollups' net revenue and the report's lifetime value use this one expression."""
    kept = sa.func.coalesce(Conversion.amount_minor, 0) - Conversion.refunded_minor
    return sa.case(
        (Conversion.paid_at.is_(None), 0),
        (Conversion.dispute_status.in_(("open", "lost")), 0),
        (kept < 0, 0),
        else_=kept,
    )


def _part(day, advocate, currency, values: dict, where, select_from=None):
    keys = [day, advocate] + ([currency] if currency is not None else [])
    currency = currency if currency is not None else sa.literal("")
    columns = [day.label("day"), advocate.label("advocate_id"), currency.label("currency")]
    columns += [sa.cast(values[name], sa.BigInteger).label(name) if name in values else _zero().label(name)
                for name in FIGURES]
    query = sa.select(*columns)
    if select_from is not None:
        query = query.select_from(select_from)
    return query.where(*where).group_by(*keys)


def facts(window: Callable, dialect: str):
    """The report rows recounted from the raw tables, for the rows whose timestamp passes
    ``window(timestamp_column)``: ``day, advocate_id, currency, *FIGURES`` (per advocate, and
    :data:`PROGRAM` for the whole program), as a selectable."""
    none = None
    referrals = Referral.__table__.c
    conversions = Conversion.__table__.c
    created = day_of(referrals.created_at, dialect)
    first_paid = day_of(referrals.first_paid_at, dialect)
    paid = day_of(conversions.paid_at, dialect)
    signed_up = referrals.status != "flagged"
    referred = conversions.referral_id.is_not(None)
    amount = sa.func.coalesce(conversions.amount_minor, 0)
    currency = sa.func.coalesce(conversions.currency, "???")
    net = net_minor_sql()
    count_if = lambda condition: sa.func.sum(sa.case((condition, 1), else_=0))  # noqa: E731
    sum_if = lambda condition, value: sa.func.sum(sa.case((condition, value), else_=0))  # noqa: E731
    parts = [
        _part(created, referrals.advocate_id, none, {
            "signups": count_if(signed_up),
            "flagged": count_if(sa.not_(signed_up)),
            "paying_signups": count_if(sa.and_(signed_up, referrals.first_paid_at.is_not(None))),
        }, [window(referrals.created_at)]),
        _part(first_paid, referrals.advocate_id, none, {"first_payments": sa.func.count()},
              [window(referrals.first_paid_at)]),
        _part(paid, conversions.advocate_id, currency, {
            "payments": sa.func.count(),
            "referred_payments": count_if(referred),
            "revenue": sa.func.sum(amount),
            "referral_revenue": sum_if(referred, amount),
            "net_revenue": sa.func.sum(net),
            "referral_net_revenue": sum_if(referred, net),
        }, [window(conversions.paid_at)]),
        _part(paid, Reward.advocate_id, Reward.currency, {
            "rewards": sa.func.count(),
            "reward_pending": sa.func.sum(Reward.pending_minor),
            "reward_available": sa.func.sum(Reward.available_minor),
            "reward_clawed_back": sa.func.sum(Reward.amount_minor - Reward.pending_minor - Reward.available_minor),
        }, [window(conversions.paid_at)],
            select_from=Reward.__table__.join(Conversion.__table__, conversions.id == Reward.conversion_id)),
    ]
    raw = sa.union_all(*parts).subquery("raw")
    per_advocate = (
        sa.select(raw.c.day, raw.c.advocate_id, raw.c.currency,
                  *[sa.func.sum(getattr(raw.c, name)).label(name) for name in FIGURES])
        .group_by(raw.c.day, raw.c.advocate_id, raw.c.currency)
        .cte("per_advocate")
    )
    return sa.union_all(
        sa.select(per_advocate.c.day, per_advocate.c.advocate_id, per_advocate.c.currency,
                  *[getattr(per_advocate.c, name) for name in FIGURES])
        .where(per_advocate.c.advocate_id.is_not(None)),
        sa.select(per_advocate.c.day, sa.literal(PROGRAM).label("advocate_id"), per_advocate.c.currency,
                  *[sa.func.sum(getattr(per_advocate.c, name)).label(name) for name in FIGURES])
        .group_by(per_advocate.c.day, per_advocate.c.currency),
    )


def _utc_midnight(day_value, dialect: str):
    """The start of a UTC day given as SQL, comparable with a timestamp column through its index."""
    if dialect == "postgresql":
        return sa.func.timezone("UTC", sa.cast(day_value, sa.DateTime))
    return sa.func.datetime(day_value)


def _dirty_days():
    return sa.select(_dirty.c.day).distinct()


def _in_days(days: list[date], dialect: str) -> Callable:
    """Rows on one of ``days``: bounded by the first and last (the timestamp indexes), then by day."""
    from advocacy_portal.services.rollups import _day_bounds

    start, end = _day_bounds(min(days), max(days))

    def window(column):
        if dialect == "postgresql":
            matched = day_of(column, dialect).in_(days)
        else:
            matched = sa.func.date(column).in_([d.isoformat() for d in days])
        return sa.and_(column >= start, column < end, matched)
    return window


def _range_window(first: date, last: date, dialect: str, extra: Callable | None = None) -> Callable:
    from advocacy_portal.services.rollups import _day_bounds

    start, end = _day_bounds(first, last)

    def window(column):
        condition = sa.and_(column >= start, column < end)
        return condition if extra is None else sa.and_(condition, extra(column))
    return window


def _live_window(dialect: str, first: date | None = None, last: date | None = None) -> Callable:
    """Rows of the marked days (within ``first``..``last`` when given), through the timestamp indexes:
    bounded by the first and last marked day, then matched by day."""
    lowest = sa.select(sa.func.min(_dirty.c.day)).scalar_subquery()
    highest = sa.select(sa.func.max(_dirty.c.day)).scalar_subquery()
    if dialect == "postgresql":
        upper = _utc_midnight(highest, dialect) + sa.text("interval '1 day'")
    else:
        upper = sa.func.datetime(highest, "+1 day")

    def window(column):
        day = day_of(column, dialect)
        condition = [column >= _utc_midnight(lowest, dialect), column < upper, day.in_(_dirty_days())]
        if first is not None:
            bounds = (first, last) if dialect == "postgresql" else (first.isoformat(), last.isoformat())
            condition += [day >= fixed(bounds[0]), day <= fixed(bounds[1])]
        return sa.and_(*condition)
    return window


# -- reads -----------------------------------------------------------------------------------------


def report_rows(first: date | None, last: date | None, advocate_id: int = PROGRAM, *, by_day: bool = True):
    """The report's figures from ``first`` to ``last`` (both included; ``None``: all time) of one advocate
    or the whole program: ``{(day, currency): {figure: value}}`` when ``by_day``, else
    ``{currency: {figure: value}}``. Exact: rolled-up days plus a live recount of the marked days, in
    one statement."""
    session = get_session()
    statement = _report_statement(session.get_bind().dialect.name, first, last, int(advocate_id), by_day)
    result: dict = {}
    if not by_day:
        for currency, *values in session.execute(statement).all():
            result[currency] = {name: int(value or 0) for name, value in zip(FIGURES, values)}
        return result
    for row in session.execute(statement).all():  # one fetch, not a call per row
        key = (as_date(row[0]), row[1])
        values = [int(value or 0) for value in row[2:]]
        known = result.get(key)
        if known is None:
            result[key] = dict(zip(FIGURES, values))
        else:  # pragma: no cover - not expected (see _report_statement), but a sum is right either way
            for name, value in zip(FIGURES, values):
                known[name] += value
    return result


@lru_cache(maxsize=16)
def _report_statement(dialect: str, first: date | None, last: date | None, advocate_id: int, by_day: bool):
    """The statement of :func:`report_rows`, built once per period, advocate and dialect: it holds no
    data (the marked days are read by the statement itself), and building it, some 2,000 SQL elements,
    was a third of the overview's time and most of its garbage. Kept for the last 16 (an overview
    reads two periods): each is ~1,900 objects the collector walks in every full collection."""
    rolled = sa.select(_days.c.day, _days.c.currency, *[getattr(_days.c, name) for name in FIGURES]).where(
        _days.c.advocate_id == fixed(advocate_id), _days.c.day.not_in(_dirty_days())
    )
    if first is not None:
        rolled = rolled.where(_days.c.day >= fixed(first, sa.Date()), _days.c.day <= fixed(last, sa.Date()))
    live_rows = facts(_live_window(dialect, first, last), dialect).subquery("live_rows")
    live = sa.select(live_rows.c.day, live_rows.c.currency, *[getattr(live_rows.c, name) for name in FIGURES]).where(
        live_rows.c.advocate_id == fixed(advocate_id)
    )
    if dialect == "sqlite":
        rolled = rolled.with_only_columns(sa.func.date(_days.c.day).label("day"), *list(rolled.selected_columns)[1:])
    if by_day:
        # The rolled-up days leave out the marked days, which the live part recounts: no (day,
        # currency) is in both, so their rows are read as they are, without summing a year of days
        # again (an aggregate of 14 numeric sums over 730 rows took most of the statement's time).
        return sa.union_all(rolled, live)
    both = sa.union_all(rolled, live).subquery("both_rows")
    return sa.select(both.c.currency, *[sa.func.sum(getattr(both.c, name)) for name in FIGURES]).group_by(
        both.c.currency
    )


def advocate_totals_subquery(currency: str):
    """``advocate_id, friends, flagged, paying, revenue, cost`` of every advocate, all time (revenue and
    cost in ``currency``): rolled up plus live, as a subquery for the leaderboard.

    Each advocate's totals are two rows of ``advocacy_report_advocate_totals`` (their friends in the
    row without a currency, their money in ``currency``'s), joined rather than grouped: summing the
    rows of 5,000 advocates was 15-20 ms of the leaderboard's 28. Only the marked days' correction
    (their rolled-up rows taken away, their recount added; usually nothing) is grouped."""
    dialect = get_session().get_bind().dialect.name
    wanted = fixed(currency)
    names = ("friends", "flagged", "paying", "revenue", "cost")

    def figures(table, sign=1):
        """Only the five figures the leaderboard sums (narrow rows keep the grouping in memory)."""
        in_currency = table.c.currency == wanted
        return [
            (sign * table.c.signups).label("friends"),
            (sign * table.c.flagged).label("flagged"),
            (sign * table.c.paying_signups).label("paying"),
            (sign * sa.case((in_currency, table.c.referral_net_revenue), else_=0)).label("revenue"),
            (sign * sa.case((in_currency, table.c.reward_pending + table.c.reward_available), else_=0)).label("cost"),
        ]

    stale = sa.select(_days.c.advocate_id, *figures(_days, -1)).where(
        _days.c.advocate_id != PROGRAM, _days.c.day.in_(_dirty_days())
    )
    live_rows = facts(_live_window(dialect), dialect).subquery("live_rows")
    live = sa.select(live_rows.c.advocate_id, *figures(live_rows)).where(live_rows.c.advocate_id != PROGRAM)
    both = sa.union_all(stale, live).subquery("corrections")
    correction = (
        sa.select(both.c.advocate_id, *[sa.func.sum(getattr(both.c, name)).label(name) for name in names])
        .group_by(both.c.advocate_id)
        .subquery("correction")
    )
    people = _totals.alias("people_totals")
    money = _totals.alias("money_totals")
    advocates = Advocate.__table__

    def plus(rolled, name):
        return (sa.func.coalesce(rolled, 0) + sa.func.coalesce(getattr(correction.c, name), 0)).label(name)

    return (
        sa.select(
            advocates.c.id.label("advocate_id"),
            plus(people.c.signups, "friends"),
            plus(people.c.flagged, "flagged"),
            plus(people.c.paying_signups, "paying"),
            plus(money.c.referral_net_revenue, "revenue"),
            plus(money.c.reward_pending + money.c.reward_available, "cost"),
        )
        .select_from(
            advocates.outerjoin(people, sa.and_(people.c.advocate_id == advocates.c.id, people.c.currency == ""))
            .outerjoin(money, sa.and_(money.c.advocate_id == advocates.c.id, money.c.currency == wanted))
            .outerjoin(correction, correction.c.advocate_id == advocates.c.id)
        )
        .subquery("report_totals")
    )


def data_version():
    """A value that changes whenever a referral, a payment or a reward changes (a mark committed, or a
    fold): the key of caches of figures computed from those tables. One statement."""
    return tuple(get_session().execute(sa.select(
        sa.select(_marks.c.folded_at).where(_marks.c.name == REPORT).scalar_subquery(),
        sa.select(sa.func.max(_dirty.c.id)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(_dirty).scalar_subquery(),
    )).one())


# -- the fold --------------------------------------------------------------------------------------


def _begin_locked(connection: Connection, wait: bool = True):
    """Serialise folds: PostgreSQL's session advisory lock (taken before the snapshot), then a REPEATABLE
    READ transaction; SQLite's write lock, taken by the first statement. ``None`` when ``wait`` is false
    and another fold holds the lock."""
    if connection.dialect.name == "postgresql":
        if wait:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        else:
            taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY}).scalar()
            connection.commit()
            if not taken:
                return None
        connection.commit()
        connection.execution_options(isolation_level="REPEATABLE READ")
    transaction = connection.begin()
    _touch_mark(connection)
    return transaction


def _unlock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execution_options(isolation_level="READ COMMITTED")
        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        connection.commit()


def _touch_mark(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_marks).values(name=REPORT, last_id=0, folded_at=utcnow())
    connection.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"folded_at": utcnow()}))


def _refold(connection: Connection, days: list[date]) -> None:
    """Replace the rows of ``days`` with a recount (the caller holds the fold's transaction)."""
    dialect = connection.dialect.name
    _move_totals(connection, days, -1)
    connection.execute(_days.delete().where(_days.c.day.in_(days)))
    recount = facts(_in_days(days, dialect), dialect)
    connection.execute(_days.insert().from_select(["day", "advocate_id", "currency", *FIGURES], recount))
    _move_totals(connection, days, 1)


def _move_totals(connection: Connection, days: list[date], sign: int) -> None:
    """Add (``sign=1``) or take away (``-1``) the advocates' rows of ``days`` to their totals."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    summed = (
        sa.select(_days.c.advocate_id, _days.c.currency,
                  *[(sign * sa.func.sum(getattr(_days.c, name))).label(name) for name in FIGURES])
        .where(_days.c.day.in_(days), _days.c.advocate_id != PROGRAM)
        .group_by(_days.c.advocate_id, _days.c.currency)
    )
    statement = insert(_totals).from_select(["advocate_id", "currency", *FIGURES], summed)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["advocate_id", "currency"],
        set_={name: getattr(_totals.c, name) + getattr(statement.excluded, name) for name in FIGURES},
    ))


def fold(engine=None, *, days_per_transaction: int = DAYS_PER_FOLD,
         progress: Callable[[int], None] | None = None, wait: bool = True) -> int:
    """Recount the marked days, ``days_per_transaction`` at a time, oldest first.

    :param wait: wait for a fold or rebuild that is running; when false, stop instead (a staff page
        never waits on a rebuild: its figures are exact without the fold).

    :returns: the number of days recounted.
    """
    engine = engine if engine is not None else get_engine()
    done = 0
    with engine.connect() as connection:
        with connection.begin():
            ceiling = connection.execute(sa.select(sa.func.max(_dirty.c.id))).scalar()
        if ceiling is None:
            return 0
        try:
            while True:
                transaction = _begin_locked(connection, wait)
                if transaction is None:
                    break
                try:
                    days = [as_date(value) for value in connection.execute(
                        sa.select(_dirty.c.day).where(_dirty.c.id <= ceiling).distinct()
                        .order_by(_dirty.c.day).limit(days_per_transaction)
                    ).scalars()]
                    if days:
                        _refold(connection, days)
                        # Only the marks this snapshot sees: one committed later stays, its day live.
                        seen = connection.execute(sa.select(sa.func.max(_dirty.c.id))).scalar()
                        connection.execute(_dirty.delete().where(_dirty.c.day.in_(days), _dirty.c.id <= seen))
                    transaction.commit()
                except BaseException:
                    transaction.rollback()
                    raise
                finally:
                    _unlock(connection)
                if not days:
                    break
                done += len(days)
                if progress is not None:
                    progress(len(days))
        finally:
            connection.rollback()
    return done


def fold_if_due(engine=None) -> int:
    """Fold when the last fold is older than ``ADVOCACY_ROLLUP_FOLD_SECONDS`` and a day is marked; 0
    otherwise or when folding failed (a staff page renders regardless: readers are exact anyway)."""
    seconds = config_value("ROLLUP_FOLD_SECONDS")
    if seconds is None:
        return 0
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        folded_at, marked = connection.execute(sa.select(
            sa.select(_marks.c.folded_at).where(_marks.c.name == REPORT).scalar_subquery(),
            sa.select(_dirty.c.id).limit(1).scalar_subquery(),
        )).one()
        connection.rollback()
    if marked is None:
        return 0
    if folded_at is not None:
        from datetime import timezone

        if folded_at.tzinfo is None:
            folded_at = folded_at.replace(tzinfo=timezone.utc)
        if utcnow() - folded_at < timedelta(seconds=seconds):
            return 0
    try:
        return fold(engine, wait=False)
    except Exception:
        log.exception("Report rollup fold failed")
        return 0


def _raw_span(connection: Connection) -> tuple[date, date] | None:
    lows, highs = [], []
    for column in (Referral.created_at, Referral.first_paid_at, Conversion.paid_at):
        low, high = connection.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
        if low is not None:
            lows.append(low)
            highs.append(high)
    if not lows:
        return None
    from datetime import timezone

    return min(lows).astimezone(timezone.utc).date(), max(highs).astimezone(timezone.utc).date()


def rebuild(engine=None, *, progress: Callable[[int], None] | None = None) -> int:
    """Empty the report rollups and recount every day, a month per transaction. Figures stay exact while
    it runs: the first transaction marks every day with data, so each is counted live until refolded.

    :returns: the number of days recounted.
    """
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        transaction = _begin_locked(connection)
        try:
            connection.execute(_days.delete())
            connection.execute(_totals.delete())
            span = _raw_span(connection)
            if span is not None:
                first, last = span
                connection.execute(_dirty.insert(), [
                    {"day": first + timedelta(days=offset)} for offset in range((last - first).days + 1)
                ])
            transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            _unlock(connection)
    return fold(engine, progress=progress)


def days_to_rebuild(engine=None) -> int:
    """How many days a rebuild recounts (for its progress bar)."""
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        span = _raw_span(connection)
        connection.rollback()
    return 0 if span is None else (span[1] - span[0]).days + 1


@dataclass(frozen=True)
class Mismatch:
    """Report rows that differ from a recount of the raw tables."""

    rollup: str
    rows: int


def verify(engine=None) -> list[Mismatch]:
    """Compare the rolled-up rows of every day not marked with a recount of the raw tables, in one
    statement (one snapshot: a fold running meanwhile cannot cause a false alarm).

    :returns: a :class:`Mismatch` when rows differ; empty when all agree.
    """
    engine = engine if engine is not None else get_engine()
    dialect = engine.dialect.name
    columns = ["day", "advocate_id", "currency", *FIGURES]
    rolled = sa.select(*[getattr(_days.c, name) for name in columns]).where(_days.c.day.not_in(_dirty_days()))
    if dialect == "sqlite":
        rolled = rolled.with_only_columns(sa.func.date(_days.c.day), *list(rolled.selected_columns)[1:])
        marked = lambda column: sa.and_(column.is_not(None), sa.func.date(column).not_in(_dirty_days()))  # noqa: E731
    else:
        marked = lambda column: sa.and_(column.is_not(None), day_of(column, dialect).not_in(_dirty_days()))  # noqa: E731
    recount_rows = facts(marked, dialect).subquery("recount")
    # A recount of zeros (e.g. a day whose only reward was voided) and no row at all are the same.
    recount = sa.select(*[getattr(recount_rows.c, name) for name in columns])
    differing = sa.union_all(
        sa.select(sa.literal(1)).select_from(sa.except_(rolled, recount).subquery()),
        sa.select(sa.literal(1)).select_from(sa.except_(recount, rolled).subquery()),
    ).subquery()
    summed = (
        sa.select(_days.c.advocate_id, _days.c.currency, *[sa.func.sum(getattr(_days.c, name)) for name in FIGURES])
        .where(_days.c.advocate_id != PROGRAM)
        .group_by(_days.c.advocate_id, _days.c.currency)
    )
    # A total taken back to zeros (every row of it refolded away) and no total are the same.
    kept = sa.select(_totals.c.advocate_id, _totals.c.currency, *[getattr(_totals.c, name) for name in FIGURES]).where(
        sa.or_(*[getattr(_totals.c, name) != 0 for name in FIGURES])
    )
    totals_differing = sa.union_all(
        sa.select(sa.literal(1)).select_from(sa.except_(kept, summed).subquery()),
        sa.select(sa.literal(1)).select_from(sa.except_(summed, kept).subquery()),
    ).subquery()
    mismatches = []
    with engine.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(differing)).scalar()
        if rows:
            mismatches.append(Mismatch(_days.name, int(rows)))
        rows = connection.execute(sa.select(sa.func.count()).select_from(totals_differing)).scalar()
        if rows:
            mismatches.append(Mismatch(_totals.name, int(rows)))
        connection.rollback()
    return mismatches
