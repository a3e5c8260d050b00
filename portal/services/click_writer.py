"""Click rows written in batches, off the request path.

The referral redirect is the plugin's hottest path; writing one row and committing per request is most
of its cost. With ``ADVOCACY_CLICK_FLUSH_MS`` above 0 the redirect hands its click to this process's
:class:`ClickWriter` and answers at once; a thread of the process inserts what has gathered every
``ADVOCACY_CLICK_FLUSH_MS`` milliseconds, in one transaction per flush, into the same
``advocacy_referral_clicks`` table (so whatever reads clicks sees real rows, at most one interval late).

* Each click gets its id in the request, so the attribution cookie still names it: on PostgreSQL from
  the table's own sequence, on SQLite from ``advocacy_id_blocks``, a few ids reserved at a time per
  process (a block is dropped after :data:`BLOCK_SECONDS`, so ids are committed at most that much out of
  their order; readers going by id watermarks should fold with that much lag).
* De-duplication (``ADVOCACY_CLICK_DEDUPE_SECONDS``) asks this process's clicks not yet written and the
  database in the request, and the database again in the flush, so two processes counting the same
  visitor in one interval store one click.
* A graceful stop (``atexit``: gunicorn's ``SIGTERM``, Ctrl-C) flushes what is left; a hard kill
  (``SIGKILL``, a crash) loses at most one interval of clicks. The visitor never notices either.
* In tests (``app.testing``) the writer flushes at the end of each request, so a test sees its click;
  :func:`flush` (``portal.flush_clicks()``) does so at any time.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from datetime import timedelta

from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal import signals
from advocacy_portal.db import get_db
from advocacy_portal.models import IdBlock
from advocacy_portal.models import ReferralClick

log = logging.getLogger(__name__)

#: A reserved block of ids is used for at most this long, then dropped (bounds how far out of order
#: click ids are committed).
BLOCK_SECONDS = 1.0
#: Largest number of ids one process reserves at a time.
MAX_BLOCK = 512
#: Most clicks kept in memory when the database refuses them; older ones are dropped (and logged).
MAX_PENDING = 50_000
#: Cache key of the writer in :attr:`advocacy_portal.AppState.cache`.
CACHE_KEY = "click_writer"

_clicks = ReferralClick.__table__
_blocks = IdBlock.__table__

#: The columns a batch writes, and their PostgreSQL array types for :data:`_PG_INSERT_CLICKS`.
_ROW_COLUMNS = (
    ("id", "integer"), ("advocate_id", "integer"), ("campaign", "varchar"),
    ("clicked_at", "timestamptz"), ("referrer_host", "varchar"), ("device_class", "varchar"),
    ("ip_hash", "varchar"), ("device_hash", "varchar"), ("source", "varchar"),
)

#: PostgreSQL: a whole batch in one statement, each column sent as one array (``unnest``), instead of
#: one INSERT per row: a third less Python per click in the flusher, and less work for the server.
_PG_INSERT_CLICKS = text(
    f"INSERT INTO {_clicks.name} ({', '.join(name for name, _type in _ROW_COLUMNS)}) "
    f"SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {type_}[])" for name, type_ in _ROW_COLUMNS)
    + ")"
)

#: A counted click of this advocate from this IP hash and device class since ``since`` (dedupe).
REPEAT_CLICK = (
    select(_clicks.c.id)
    .where(
        _clicks.c.advocate_id == bindparam("advocate_id"),
        _clicks.c.ip_hash == bindparam("ip_hash"),
        _clicks.c.device_class == bindparam("device_class"),
        _clicks.c.clicked_at >= bindparam("since", type_=_clicks.c.clicked_at.type),
    )
    .limit(1)
)


class ClickWriter:
    """The batched click writer of one app in one process (see the module's documentation)."""

    def __init__(self, app, interval_seconds: float):
        self._app = weakref.ref(app)
        self.interval = interval_seconds
        self._reset()

    def _reset(self) -> None:
        # Also after a fork: a child never writes (nor reuses the ids of) its parent's clicks.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: list[dict] = []
        #: (advocate_id, ip_hash, device_class) -> clicked_at of the clicks not written yet.
        self._unwritten: dict[tuple, object] = {}
        self._ids: collections.deque = collections.deque()
        #: A block reserved ahead by the flusher thread, so a request rarely waits for one.
        self._spare: tuple[float, list[int]] | None = None
        self._last_click = 0.0
        self._block_size = 8
        self._block_at = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- the request side ------------------------------------------------------------------------------

    def add(self, values: dict) -> int:
        """Queue one click row (the columns of ``advocacy_referral_clicks`` but ``id``); returns its id."""
        if os.getpid() != self._pid:
            self._reset()
        key = (values["advocate_id"], values["ip_hash"], values["device_class"])
        with self._lock:
            click_id = self._take_id()
            self._pending.append({**values, "id": click_id})
            self._unwritten[key] = values["clicked_at"]
            if len(self._pending) > MAX_PENDING:
                dropped = self._pending.pop(0)
                log.error("Dropped click %s: %s clicks wait for a database that refuses them",
                          dropped["id"], MAX_PENDING)
        if self._thread is None:
            self._start()
        return click_id

    def unwritten_repeat(self, advocate_id: int, ip_hash: str, device: str, since) -> bool:
        """Whether this process holds an unwritten click of the same visitor since ``since``."""
        clicked_at = self._unwritten.get((advocate_id, ip_hash, device))
        return clicked_at is not None and clicked_at >= since

    def _take_id(self) -> int:
        now = time.monotonic()
        if not self._ids or now - self._block_at > BLOCK_SECONDS:
            if self._ids:  # the block went stale half unused: ask for fewer next time
                self._block_size = max(8, self._block_size // 2)
            elif now - self._block_at < BLOCK_SECONDS:  # used up quickly: ask for more
                self._block_size = min(MAX_BLOCK, self._block_size * 2)
            spare, self._spare = self._spare, None
            if spare is not None and now - spare[0] <= BLOCK_SECONDS:
                self._block_at, self._ids = spare[0], collections.deque(spare[1])
            else:
                self._ids = collections.deque(self._reserve(self._block_size))
                self._block_at = now
        self._last_click = now
        return self._ids.popleft()

    def _reserve_ahead(self) -> None:
        """In the flusher thread: while clicks flow, keep a fresh block ready for the requests."""
        now = time.monotonic()
        if now - self._last_click > BLOCK_SECONDS:
            return
        spare = self._spare
        if spare is not None and now - spare[0] < BLOCK_SECONDS / 2:
            return
        if len(self._ids) > self._block_size // 2 and now - self._block_at < BLOCK_SECONDS / 2:
            return  # the block at hand lasts a while yet: reserve no ids that may go to waste
        ids = self._reserve(self._block_size)
        with self._lock:
            self._spare = (time.monotonic(), ids)

    def _reserve(self, count: int) -> list[int]:
        """``count`` ids no one else will use, reserved in a short transaction of its own."""
        engine = self._engine()
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                return list(connection.execute(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('advocacy_referral_clicks', 'id')) "
                        "FROM generate_series(1, :count)"
                    ),
                    {"count": count},
                ).scalars())
            # SQLite: one writer at a time, so reading the table's highest id and moving the counter
            # past it is atomic. Rows added without this writer (the ORM, fixtures) stay below it.
            connection.execute(
                text("INSERT INTO advocacy_id_blocks (name, next_id) VALUES (:name, 1) "
                     "ON CONFLICT (name) DO NOTHING"),
                {"name": _clicks.name},
            )
            end = connection.execute(
                text(
                    "UPDATE advocacy_id_blocks SET next_id = max(next_id, "
                    "(SELECT coalesce(max(id), 0) + 1 FROM advocacy_referral_clicks)) + :count "
                    "WHERE name = :name RETURNING next_id"
                ),
                {"name": _clicks.name, "count": count},
            ).scalar_one()
            return list(range(end - count, end))

    # -- the flusher -----------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="advocacy-click-writer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """End the flusher thread after its current wait (an app that is done, e.g. a test's at its
        teardown); call :meth:`flush` first to keep what is queued."""
        self._stopped = True

    def _run(self) -> None:
        pid = self._pid
        while os.getpid() == pid and not self._stopped:
            time.sleep(self.interval)
            if self._stopped or self._app() is None:
                # The app was garbage-collected (an app factory's throwaway app, a test's): nothing
                # can be written for it any more, and a thread left polling would log forever.
                return
            try:
                self.flush()
                self._reserve_ahead()
            except Exception:  # pragma: no cover - flush logs its own failures; never stop the thread
                log.exception("The click writer failed")

    def flush(self) -> int:
        """Write every queued click in one transaction; returns how many rows were stored. A
        database that refuses them keeps them queued for the next flush."""
        if os.getpid() != self._pid:
            self._reset()
            return 0
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            app = self._app()
            if app is None:
                return 0
            with app.app_context():
                try:
                    stored = self._write(app, rows)
                except SQLAlchemyError:
                    log.exception("Could not write %s clicks; trying again at the next flush", len(rows))
                    with self._lock:
                        self._pending[:0] = rows
                    return 0
                with self._lock:
                    for row in rows:
                        key = (row["advocate_id"], row["ip_hash"], row["device_class"])
                        if self._unwritten.get(key) == row["clicked_at"]:
                            del self._unwritten[key]
                if stored and signals.link_clicked.receivers:
                    self._send_signals(app, stored)
            return len(stored)

    def _write(self, app, rows: list[dict]) -> list[int]:
        window = app.config["ADVOCACY_CLICK_DEDUPE_SECONDS"]
        engine = self._engine()
        try:
            with engine.begin() as connection:
                if window:
                    rows = _without_repeats(connection, rows, window)
                if rows and engine.dialect.name == "postgresql":
                    columns = {name: [row.get(name) for row in rows] for name, _type in _ROW_COLUMNS}
                    connection.execute(_PG_INSERT_CLICKS, columns)
                elif rows:
                    connection.execute(_clicks.insert(), rows)
            return [row["id"] for row in rows]
        except IntegrityError:
            pass
        # A row the database refuses (an id taken by a row written without this writer, an advocate
        # deleted since): write the rest one by one, each in its own transaction.
        stored = []
        for row in rows:
            for values in (row, {k: v for k, v in row.items() if k != "id"}):
                try:
                    with engine.begin() as connection:
                        click_id = connection.execute(
                            _clicks.insert().returning(_clicks.c.id), values
                        ).scalar_one()
                    stored.append(click_id)
                    break
                except IntegrityError:
                    continue
            else:
                log.warning("Dropped a click on advocate %s's link: the database refuses it",
                            row["advocate_id"])
        return stored

    def _send_signals(self, app, click_ids: list[int]) -> None:
        session = get_db(app).session
        try:
            for click_id in click_ids:
                click = session.get(ReferralClick, click_id)
                if click is not None:
                    signals.link_clicked.send(app, click=click)
            session.commit()
        except Exception:
            log.exception("A link_clicked receiver failed")
            session.rollback()
        finally:
            session.remove()

    def _engine(self):
        app = self._app()
        if app is None:
            raise RuntimeError("the app of this click writer is gone")
        with app.app_context():
            return get_db(app).engine


#: IP hashes one de-duplication query of a flush asks about at most.
_REPEAT_CHUNK = 400


def _without_repeats(connection, rows: list[dict], window: int) -> list[dict]:
    """``rows`` less the clicks another process already stored for the same visitor (advocate, IP
    hash, device class) within ``window`` seconds before each: one query per advocate in the batch
    (and per 400 of their visitors), reading each visitor's newest stored click off the
    de-duplication index, instead of one query per click."""
    window_delta = timedelta(seconds=window)
    earliest = min(row["clicked_at"] for row in rows) - window_delta
    by_advocate: dict[int, set[str]] = {}
    for row in rows:
        by_advocate.setdefault(row["advocate_id"], set()).add(row["ip_hash"])
    newest: dict[tuple, object] = {}
    for advocate_id, ip_hashes in by_advocate.items():
        ip_hashes = sorted(ip_hashes)
        for start in range(0, len(ip_hashes), _REPEAT_CHUNK):
            found = connection.execute(
                select(_clicks.c.ip_hash, _clicks.c.device_class, func.max(_clicks.c.clicked_at))
                .where(_clicks.c.advocate_id == advocate_id,
                       _clicks.c.ip_hash.in_(ip_hashes[start:start + _REPEAT_CHUNK]),
                       _clicks.c.clicked_at >= earliest)
                .group_by(_clicks.c.ip_hash, _clicks.c.device_class)
            )
            for ip_hash, device_class, clicked_at in found:
                newest[(advocate_id, ip_hash, device_class)] = clicked_at
    kept = []
    for row in rows:
        stored = newest.get((row["advocate_id"], row["ip_hash"], row["device_class"]))
        if stored is None or stored < row["clicked_at"] - window_delta:
            kept.append(row)
        else:
            log.debug("Click %s not stored: another process counted the same visitor first", row["id"])
    return kept


_writers: "weakref.WeakSet[ClickWriter]" = weakref.WeakSet()


def writer_for(app) -> ClickWriter | None:
    """The app's click writer in this process, made on first use; ``None`` when
    ``ADVOCACY_CLICK_FLUSH_MS`` is 0 (each click is written in its request)."""
    from advocacy_portal.proxies import get_portal

    interval_ms = app.config["ADVOCACY_CLICK_FLUSH_MS"]
    if not interval_ms:
        return None
    cache = get_portal(app).state(app).cache
    writer = cache.get(CACHE_KEY)
    if writer is None:
        writer = cache.setdefault(CACHE_KEY, ClickWriter(app, interval_ms / 1000))
        _writers.add(writer)
    return writer


def flush(app) -> int:
    """Write the app's queued clicks now (in this process); returns how many were stored."""
    writer = get_portal_writer(app)
    return writer.flush() if writer is not None else 0


def get_portal_writer(app) -> ClickWriter | None:
    """The app's click writer if one was made in this process, else ``None``."""
    from advocacy_portal.proxies import get_portal

    return get_portal(app).state(app).cache.get(CACHE_KEY)


@atexit.register
def _flush_at_exit() -> None:
    # A graceful stop (gunicorn's SIGTERM, Ctrl-C, the end of a script): nothing queued is lost.
    for writer in list(_writers):
        try:
            writer.flush()
        except Exception:  # pragma: no cover
            log.exception("Could not write the last clicks at exit")
