"""Click rollups: kept up to date from the raw clicks by watermark, read with a live count above it.

The rollup tables (:mod:`advocacy_portal.models.rollups`) count the clicks with ``id <= last_id`` of the
``clicks`` mark; a reader adds, *in the same SQL statement* (one snapshot), the clicks above the mark.
So every figure equals a recount of the raw table whatever the fold has reached, and the raw click
insert path (ORM, Core, a batching flusher) needs no hook at all.

Why an id watermark is safe here: a fold first finds a *safe high-water mark*, an id below which no
transaction can still add a click. On PostgreSQL it takes ``LOCK TABLE ... IN SHARE MODE`` for an
instant (``ADVOCACY_ROLLUP_LOCK_TIMEOUT_MS``): that waits for every transaction that has inserted a
click and not yet committed (the insert holds ``ROW EXCLUSIVE`` from before its id is drawn from the
sequence until commit), then reads ``max(id)``, and releases the lock. Any click committed later draws a
larger id (the sequence is not cached per session), so it lands above the mark and is counted live,
then by the next fold: never lost, never counted twice. On SQLite there is one writer at a time, so
``max(id)`` of the committed rows is already safe. When the lock cannot be had in time (a long
transaction holds clicks), the fold skips its turn: the live count keeps figures exact meanwhile.

Two folds exclude each other by locking the mark's row (``SELECT ... FOR UPDATE``); each fold moves
the rollups and the mark in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from advocacy_portal.config import config_value
from advocacy_portal.db import get_engine
from advocacy_portal.db import get_session
from advocacy_portal.models import AdvocateClickDay
from advocacy_portal.models import AdvocateClickTotal
from advocacy_portal.models import ClickDay
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import RollupMark
from advocacy_portal.models import utcnow
from advocacy_portal.models.base import UTCDateTime

log = logging.getLogger(__name__)

#: Name of the clicks' row in ``advocacy_rollup_marks``.
CLICKS = "clicks"

_clicks = ReferralClick.__table__
_marks = RollupMark.__table__


def dialect_name(bind=None) -> str:
    bind = bind if bind is not None else get_session().get_bind()
    return bind.dialect.name


def day_of(column, dialect: str):
    """The UTC calendar day of a timestamp column, as SQL."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def as_date(value) -> date:
    """A day read back from SQL (SQLite answers ``'YYYY-MM-DD'`` for computed days)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def fixed(value, type_=None):
    """A value written into the SQL text instead of sent as a parameter. PostgreSQL switches a statement
    the driver has prepared to a generic plan after a few runs; planned without the dates, the live
    part of a read picks the timestamp index and scans every click (measured: 3 ms became 150-220 ms
    from the eleventh request on). With the values in the text every plan knows them."""
    return sa.bindparam(None, value, type_=type_, literal_execute=True)


def small_reads() -> None:
    """Tell PostgreSQL that this transaction's reads are small: no parallel workers. The live part of a
    read above the watermark is usually empty, but the planner cannot know the mark and plans a
    parallel scan whose workers take longer to start (15-20 ms) than the read itself."""
    session = get_session()
    if dialect_name() == "postgresql":
        session.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))


def read_mark() -> int:
    """The clicks' watermark now (a separate statement): a hint for the planner, see :func:`live_above`."""
    return int(get_session().scalar(sa.select(mark_subquery())) or 0)


def live_above(floor: int):
    """The condition of the live clicks: above the watermark (read in the statement, so exact), and
    above ``floor``, the mark read just before, written into the SQL so the planner knows the live part
    is small (unknown, it estimates a third of the table and scans millions of clicks at 10M). The mark
    only grows except during a rebuild; a reader that sees a mark below its floor reads again with
    floor 0 (:func:`mark_subquery` in the same statement tells it)."""
    return sa.and_(_clicks.c.id > fixed(int(floor)), _clicks.c.id > mark_subquery())


def mark_subquery():
    """The clicks' watermark as a scalar subquery (0 before the first fold)."""
    return (
        sa.select(sa.func.coalesce(sa.func.max(_marks.c.last_id), 0))
        .where(_marks.c.name == CLICKS)
        .scalar_subquery()
    )


# -- the fold --------------------------------------------------------------------------------------


def safe_high_water(connection: Connection, timeout_ms: int | None = None) -> int | None:
    """The largest click id below which no transaction can still add a click, or ``None`` when
    PostgreSQL's short lock could not be had within ``timeout_ms``. Runs and ends a transaction of
    its own on ``connection``."""
    if connection.dialect.name != "postgresql":
        with connection.begin():
            return connection.execute(sa.select(sa.func.coalesce(sa.func.max(_clicks.c.id), 0))).scalar()
    if timeout_ms is None:
        timeout_ms = config_value("ROLLUP_LOCK_TIMEOUT_MS")
    try:
        with connection.begin():
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(timeout_ms)}ms'")
            connection.exec_driver_sql(f"LOCK TABLE {_clicks.name} IN SHARE MODE")
            return connection.execute(sa.select(sa.func.coalesce(sa.func.max(_clicks.c.id), 0))).scalar()
    except OperationalError as error:  # lock_timeout: clicks held by a long transaction
        log.info("Click rollup fold skipped: %s", error.orig)
        return None


def _locked_mark(connection: Connection) -> int:
    """The clicks' mark, its row locked until the end of the transaction (created when missing)."""
    statement = sa.select(_marks.c.last_id).where(_marks.c.name == CLICKS)
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update()
    found = connection.execute(statement).scalar()
    if found is None:
        insert = _dialect_insert(connection, _marks).values(name=CLICKS, last_id=0, folded_at=None)
        connection.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        found = connection.execute(statement).scalar()
    return int(found or 0)


def _dialect_insert(connection: Connection, table):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _add_range(connection: Connection, low: int, high: int) -> None:
    """Add the clicks with ``low < id <= high`` to the three rollups (the caller holds the mark)."""
    dialect = connection.dialect.name
    in_range = sa.and_(_clicks.c.id > low, _clicks.c.id <= high)
    day = day_of(_clicks.c.clicked_at, dialect)
    targets = (
        (AdvocateClickDay.__table__, [_clicks.c.advocate_id, day], ["advocate_id", "day"]),
        (AdvocateClickTotal.__table__, [_clicks.c.advocate_id], ["advocate_id"]),
        (ClickDay.__table__, [day], ["day"]),
    )
    for table, keys, names in targets:
        counted = sa.select(*keys, sa.func.count()).where(in_range).group_by(*keys)
        insert = _dialect_insert(connection, table).from_select([*names, "clicks"], counted)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=names, set_={"clicks": table.c.clicks + insert.excluded.clicks}
            )
        )


def fold(engine=None, *, timeout_ms: int | None = None) -> int:
    """Fold the clicks above the watermark into the rollups, up to the safe high-water mark.

    :returns: the number of clicks folded in (0 when there was nothing to do or the fold was skipped).
    """
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        high = safe_high_water(connection, timeout_ms)
        if high is None:
            return 0
        with connection.begin():
            low = _locked_mark(connection)
            if high <= low:
                return 0
            _add_range(connection, low, high)
            connection.execute(
                _marks.update().where(_marks.c.name == CLICKS).values(last_id=high, folded_at=utcnow())
            )
            folded = connection.execute(
                sa.select(sa.func.count()).select_from(_clicks).where(_clicks.c.id > low, _clicks.c.id <= high)
            ).scalar()
    return int(folded or 0)


def fold_if_due(engine=None) -> int:
    """Fold when the last fold is older than ``ADVOCACY_ROLLUP_FOLD_SECONDS`` (staff pages call this, so
    the live part of a count stays small without a scheduler); 0 otherwise or when folding failed."""
    seconds = config_value("ROLLUP_FOLD_SECONDS")
    if seconds is None:
        return 0
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        folded_at = connection.execute(
            sa.select(_marks.c.folded_at).where(_marks.c.name == CLICKS)
        ).scalar()
        connection.rollback()
    if folded_at is not None:
        if folded_at.tzinfo is None:
            from datetime import timezone

            folded_at = folded_at.replace(tzinfo=timezone.utc)
        if utcnow() - folded_at < timedelta(seconds=seconds):
            return 0
    try:
        return fold(engine)
    except Exception:  # a staff page must render even when the fold cannot run
        log.exception("Click rollup fold failed")
        return 0


def rebuild(engine=None, *, chunk: int = 500_000, progress: Callable[[int], None] | None = None) -> int:
    """Empty the rollups and fold every click again, ``chunk`` ids per transaction.

    Each chunk commits the rollups and the mark together, so figures stay exact while it runs (the
    clicks not yet folded are counted live).

    :param progress: called with the number of ids covered after each chunk.
    :returns: the number of clicks folded in.
    """
    engine = engine if engine is not None else get_engine()
    total = 0
    with engine.connect() as connection:
        with connection.begin():
            _locked_mark(connection)
            for model in (AdvocateClickDay, AdvocateClickTotal, ClickDay):
                connection.execute(model.__table__.delete())
            connection.execute(
                _marks.update().where(_marks.c.name == CLICKS).values(last_id=0, folded_at=utcnow())
            )
        high = safe_high_water(connection, timeout_ms=max(config_value("ROLLUP_LOCK_TIMEOUT_MS"), 5000))
        if high is None:
            high = 0
        low = 0
        while low < high:
            upper = min(low + chunk, high)
            with connection.begin():
                start = _locked_mark(connection)
                if start < upper:
                    _add_range(connection, start, upper)
                    connection.execute(
                        _marks.update().where(_marks.c.name == CLICKS).values(last_id=upper, folded_at=utcnow())
                    )
            if progress is not None:
                progress(upper - low)
            low = upper
        total = connection.execute(
            sa.select(sa.func.count()).select_from(_clicks).where(_clicks.c.id <= high)
        ).scalar()
        connection.rollback()
    # Clicks that arrived while it ran.
    return int(total or 0) + fold(engine)


def max_click_id(engine=None) -> int:
    engine = engine if engine is not None else get_engine()
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(_clicks.c.id), 0))).scalar())


@dataclass(frozen=True)
class Mismatch:
    """A rollup that differs from a recount of the raw clicks."""

    rollup: str
    rows: int


def verify(engine=None) -> list[Mismatch]:
    """Compare every rollup with a recount of the raw clicks up to the watermark (each comparison is
    one statement, one snapshot, so a fold running meanwhile cannot cause a false alarm).

    :returns: the rollups that differ, with the number of differing rows; empty when all agree.
    """
    engine = engine if engine is not None else get_engine()
    dialect = dialect_name(engine)
    counted = _clicks.c.id <= mark_subquery()
    day = day_of(_clicks.c.clicked_at, dialect)
    checks = {
        AdvocateClickDay.__tablename__: (
            sa.select(AdvocateClickDay.advocate_id, AdvocateClickDay.day, AdvocateClickDay.clicks),
            sa.select(_clicks.c.advocate_id, day, sa.func.count()).where(counted).group_by(_clicks.c.advocate_id, day),
        ),
        AdvocateClickTotal.__tablename__: (
            sa.select(AdvocateClickTotal.advocate_id, AdvocateClickTotal.clicks),
            sa.select(_clicks.c.advocate_id, sa.func.count()).where(counted).group_by(_clicks.c.advocate_id),
        ),
        ClickDay.__tablename__: (
            sa.select(ClickDay.day, ClickDay.clicks),
            sa.select(day, sa.func.count()).where(counted).group_by(day),
        ),
    }
    mismatches = []
    with engine.connect() as connection:
        for name, (rolled, recount) in checks.items():
            if dialect == "sqlite":  # SQLite's computed day is text: compare text with text
                rolled = _days_as_text(rolled)
            differing = sa.union_all(
                sa.select(sa.literal(1)).select_from(sa.except_(rolled, recount).subquery()),
                sa.select(sa.literal(1)).select_from(sa.except_(recount, rolled).subquery()),
            ).subquery()
            rows = connection.execute(sa.select(sa.func.count()).select_from(differing)).scalar()
            if rows:
                mismatches.append(Mismatch(name, int(rows)))
        connection.rollback()
    return mismatches


def _days_as_text(select):
    columns = [sa.func.date(c).label("day") if c.name == "day" else c for c in select.selected_columns]
    return select.with_only_columns(*columns)


# -- reads -----------------------------------------------------------------------------------------


def _day_bounds(first: date, last: date):
    from datetime import time
    from datetime import timezone

    start = datetime.combine(first, time.min, tzinfo=timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc)
    return start, end


def clicks_by_day(first: date, last: date, advocate_id: int | None = None) -> dict[date, int]:
    """Counted clicks per UTC day from ``first`` to ``last`` (both included): the rollup plus the live
    clicks above the watermark, in one statement. Days without clicks are absent."""
    floor = read_mark()
    found, mark = _clicks_by_day(first, last, advocate_id, floor)
    if mark < floor:  # a rebuild lowered the mark meanwhile: count above the real one
        found, mark = _clicks_by_day(first, last, advocate_id, 0)
    return found


def _clicks_by_day(first: date, last: date, advocate_id: int | None, floor: int) -> tuple[dict[date, int], int]:
    session = get_session()
    dialect = dialect_name()
    start, end = _day_bounds(first, last)
    start, end = fixed(start, UTCDateTime()), fixed(end, UTCDateTime())
    first_day, last_day = fixed(first, sa.Date()), fixed(last, sa.Date())
    if advocate_id is None:
        rolled = sa.select(ClickDay.day.label("day"), ClickDay.clicks.label("clicks")).where(
            ClickDay.day >= first_day, ClickDay.day <= last_day
        )
    else:
        rolled = sa.select(AdvocateClickDay.day.label("day"), AdvocateClickDay.clicks.label("clicks")).where(
            AdvocateClickDay.advocate_id == fixed(int(advocate_id)), AdvocateClickDay.day >= first_day,
            AdvocateClickDay.day <= last_day,
        )
    day = day_of(_clicks.c.clicked_at, dialect)
    live = sa.select(day.label("day"), sa.func.count().label("clicks")).where(
        live_above(floor), _clicks.c.clicked_at >= start, _clicks.c.clicked_at < end
    )
    if advocate_id is not None:
        live = live.where(_clicks.c.advocate_id == fixed(int(advocate_id)))
    live = live.group_by(day)
    if dialect == "sqlite":
        rolled = _days_as_text(rolled)
    both = sa.union_all(rolled, live).subquery()
    grouped = sa.select(both.c.day.label("day"), sa.func.sum(both.c.clicks).label("clicks"),
                        mark_subquery().label("mark")).group_by(both.c.day)
    # One more row that always comes back with the statement's own mark, even without clicks.
    marker = sa.select(sa.null().label("day"), sa.literal(0).label("clicks"), mark_subquery().label("mark"))
    rows = session.execute(sa.union_all(grouped, marker)).all()
    mark = min(int(row[2] or 0) for row in rows)
    return {as_date(day_value): int(count or 0) for day_value, count, _ in rows if day_value is not None}, mark


def clicks_between(first: date, last: date, advocate_id: int | None = None) -> int:
    """Counted clicks from ``first`` to ``last`` (both included)."""
    return sum(clicks_by_day(first, last, advocate_id).values())


def advocate_clicks_column(floor: int = 0):
    """``advocate_id, clicks`` of every advocate with a click: rolled up plus live, as a subquery.
    ``floor``: see :func:`live_above` (the caller checks the statement's mark against it)."""
    rolled = sa.select(AdvocateClickTotal.advocate_id.label("advocate_id"), AdvocateClickTotal.clicks.label("clicks"))
    live = (
        sa.select(_clicks.c.advocate_id.label("advocate_id"), sa.func.count().label("clicks"))
        .where(live_above(floor))
        .group_by(_clicks.c.advocate_id)
    )
    both = sa.union_all(rolled, live).subquery()
    return (
        sa.select(both.c.advocate_id, sa.func.sum(both.c.clicks).label("clicks"))
        .group_by(both.c.advocate_id)
        .subquery("advocate_clicks")
    )


def clicks_of_advocate(advocate_id: int) -> int:
    """One advocate's counted clicks of all time."""
    floor = read_mark()
    clicks, mark = _clicks_of_advocate(advocate_id, floor)
    if mark < floor:  # a rebuild lowered the mark meanwhile
        clicks, mark = _clicks_of_advocate(advocate_id, 0)
    return clicks


def _clicks_of_advocate(advocate_id: int, floor: int) -> tuple[int, int]:
    rolled = sa.select(sa.func.coalesce(sa.func.sum(AdvocateClickTotal.clicks), 0)).where(
        AdvocateClickTotal.advocate_id == fixed(int(advocate_id))
    ).scalar_subquery()
    live = sa.select(sa.func.count()).select_from(_clicks).where(
        _clicks.c.advocate_id == fixed(int(advocate_id)), live_above(floor)
    ).scalar_subquery()
    total, mark = get_session().execute(sa.select(rolled + live, mark_subquery())).one()
    return int(total or 0), int(mark or 0)
