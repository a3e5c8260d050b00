"""The transactional outbox: every side effect of a change, written in the change's own transaction, run
by one relay once committed.

A service calls :func:`enqueue` in the session that holds its change (a testimonial approved, a
redemption reserved, a Stripe event recorded): the task is a row of ``advocacy_outbox``, so it exists
if and only if the change was committed. The relay then runs it through the handler registered for its
topic (:func:`handler`):

- **claim**: a run takes due tasks with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded
  ``UPDATE`` on SQLite), counting the attempt, so two runs never hold one task, and a run that died is
  taken over once its lease has passed;
- **run**: the handler works in the app's session; the task is marked done in that same transaction,
  and only by the run that holds the lease, so the database effects of a task happen exactly once;
- **fail**: the transaction is rolled back and the task retried with exponential backoff and jitter (or
  the handler's own schedule, or a ``Retry-After``), then parked as ``dead`` after its last attempt,
  with its error, for staff to see and replay.

Effects outside the database (SMTP, Stripe, HTTP) can be repeated if a run dies between the call and
its commit; each handler makes that repetition harmless (Stripe's Idempotency-Key, a webhook's stable
``webhook-id``, an email's stable Message-ID).

Who runs the relay is ``ADVOCACY_TASK_EXECUTOR``: ``inline`` (right after the commit, in-process),
``worker`` (``flask advocacy worker``) or the host's queue (a function called after commit with
``enqueue(topic, payload, key)``, whose job calls :func:`run_task`).
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import secrets
from signal import SIGINT
from signal import SIGTERM
from signal import signal as install_signal_handler
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Callable

from flask import Flask
from flask import current_app
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import aliased

from advocacy_portal.config import config_value
from advocacy_portal.db import after_commit
from advocacy_portal.db import get_session
from advocacy_portal.db import insert_or_ignore
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import utcnow

log = logging.getLogger(__name__)

#: ``'queued'`` written into the SQL, not bound: the planner then sees that the partial indexes of the
#: waiting tasks (``WHERE state = 'queued'``) answer the query, with any number of done tasks beside them.
QUEUED = literal_column("'queued'")

#: The prefix of the keys handed to the host's queue (``advocacy-outbox:<task id>``).
KEY_PREFIX = "advocacy-outbox:"


class Retry(Exception):
    """Raised by a handler: not now, try again later.

    :param after_seconds: when (a ``Retry-After``); ``None`` for the topic's backoff.
    :param counts: ``False`` if this was not a real attempt (the service is switched off, say), so
        it does not bring the task nearer to being parked.
    """

    def __init__(self, reason: str, after_seconds: float | None = None, *, counts: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.after_seconds = after_seconds
        self.counts = counts


class GiveUp(Exception):
    """Raised by a handler: this task can never succeed as it is; park it as dead now."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Task:
    """What a handler gets: a snapshot of its task."""

    id: int
    topic: str
    key: str | None
    group: str | None
    payload: dict
    #: Runs started so far, this one included (1 on the first run).
    attempts: int
    subject_type: str | None = None
    subject_id: str | None = None


@dataclass(frozen=True)
class Handler:
    topic: str
    function: Callable[[Task], Any]
    #: An int, or a callable returning one (read per run, e.g. from a setting).
    max_attempts: int | Callable[[], int] | None = None
    #: Seconds before attempt 2, 3, ...; the last value repeats. ``None``: exponential backoff.
    schedule: tuple[float, ...] | None = None
    #: First backoff step in seconds (a callable is read per run); ``None``: ``OUTBOX_RETRY_SECONDS``.
    retry_seconds: float | Callable[[], float] | None = None

    def attempts_allowed(self) -> int:
        value = self.max_attempts() if callable(self.max_attempts) else self.max_attempts
        return int(value or config_value("OUTBOX_MAX_ATTEMPTS"))

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th run failed, jitter included."""
        if self.schedule:
            step = self.schedule[min(attempts - 1, len(self.schedule) - 1)]
            return step * random.uniform(0.9, 1.1)
        base = self.retry_seconds() if callable(self.retry_seconds) else self.retry_seconds
        base = float(base if base is not None else config_value("OUTBOX_RETRY_SECONDS"))
        delay = min(base * 2 ** (attempts - 1), float(config_value("OUTBOX_RETRY_MAX_SECONDS")))
        # Jitter of +-20 %, so the retries of many tasks failing together spread out.
        return delay * random.uniform(0.8, 1.2)


#: Every topic's handler, by topic.
HANDLERS: dict[str, Handler] = {}


def handler(topic: str, *, max_attempts=None, schedule=None, retry_seconds=None):
    """Register the function that runs the tasks of ``topic`` (a decorator).

    The function is called with a :class:`Task` in an app context; what it does in the app's session
    is committed together with the task's "done" mark. It raises :class:`Retry` or :class:`GiveUp`
    to say why it did not finish; any other exception is a failed attempt, retried.
    """

    def register(function):
        if topic in HANDLERS and HANDLERS[topic].function is not function:
            raise ValueError(f"The outbox topic {topic!r} has a handler already")
        HANDLERS[topic] = Handler(
            topic, function, max_attempts, tuple(schedule) if schedule else None, retry_seconds
        )
        return function

    return register


# -- writing tasks --------------------------------------------------------------------------------------


def enqueue(
    topic: str,
    payload: dict,
    *,
    key: str | None = None,
    group: str | None = None,
    delay: timedelta | None = None,
    subject_type: str | None = None,
    subject_id=None,
) -> int | None:
    """Write a task into the current session (flushed, not committed): it runs once the session commits.

    :param payload: the handler's input; JSON (checked here, not at run time).
    :param key: dedupe key: when a task with this key exists already, nothing is written.
    :param group: tasks of one group run one at a time, in the order they were written.
    :param delay: do not run before this much time has passed.
    :returns: the task's id, or ``None`` when ``key`` had been used already.
    :raises ValueError: for a topic without a handler, or a payload that is not JSON.
    """
    if topic not in HANDLERS:
        raise ValueError(f"No outbox handler for the topic {topic!r}")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"The payload of an outbox task must be JSON: {error}") from None
    now = utcnow()
    task_id = insert_or_ignore(
        OutboxTask,
        {
            "topic": topic,
            "key": key,
            "group_key": group,
            "payload": payload,
            "subject_type": subject_type,
            "subject_id": None if subject_id is None else str(subject_id),
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": now + delay if delay else now,
            "created_at": now,
        },
        ["key"],
    )
    if task_id is None:
        log.debug("Outbox task with key %s exists already; not written again", key)
        return None
    _dispatch_after_commit(task_id, topic, payload, delayed=bool(delay))
    return task_id


def _dispatch_after_commit(task_id: int, topic: str, payload: dict, delayed: bool) -> None:
    executor = config_value("TASK_EXECUTOR")
    app = current_app._get_current_object()
    if executor == "worker":
        return
    if executor == "inline":
        # The sweep of older due tasks (retries) goes first, so a task that fails now is not retried at
        # once by the same commit; the new task then runs, unless the sweep ran it already.
        after_commit(lambda: _sweep_inline(app), key=("advocacy-outbox-sweep", id(app)), app_context=False)
        if not delayed:
            after_commit(lambda: _run_inline(app, task_id), key=("advocacy-outbox", id(app), task_id),
                         app_context=False)
        return
    host_enqueue = resolve_executor(executor)

    def hand_over():
        try:
            host_enqueue(topic, payload, f"{KEY_PREFIX}{task_id}")
        except Exception:  # the task is committed: `flask advocacy outbox run` (or the worker) runs it
            log.exception("The host's queue refused outbox task %s (%s); it stays queued", task_id, topic)

    after_commit(hand_over, key=("advocacy-outbox", id(app), task_id))


def resolve_executor(executor) -> Callable[[str, dict, str], Any]:
    """The host's ``enqueue(topic, payload, key)``, from a callable or ``"module:function"``.

    :raises ValueError: when the setting names nothing callable.
    """
    if callable(executor):
        return executor
    if isinstance(executor, str) and ":" in executor:
        module_name, _, attribute = executor.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"ADVOCACY_TASK_EXECUTOR {executor!r} cannot be imported: {error}") from None
        if callable(found):
            return found
    raise ValueError(
        f"ADVOCACY_TASK_EXECUTOR must be 'inline', 'worker', a callable or 'module:function', not {executor!r}"
    )


def check_executor(app: Flask) -> None:
    """Refuse an executor setting that names nothing (at start, not at the first commit)."""
    executor = app.config["ADVOCACY_TASK_EXECUTOR"]
    if executor not in ("inline", "worker"):
        resolve_executor(executor)


# -- running tasks --------------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What one pass of the relay did."""

    done: int = 0
    retried: int = 0
    dead: int = 0
    #: Tasks whose lease another run took over (never counted twice).
    lost: int = 0

    @property
    def ran(self) -> int:
        return self.done + self.retried + self.dead + self.lost

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def add_report(self, other: "RunReport") -> None:
        """Count another pass's tasks in this report."""
        for name in ("done", "retried", "dead", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _due_condition(now: datetime, table=None):
    """Tasks that may run now: queued, their time come, not held by a live run, and first of their group."""
    table = table if table is not None else OutboxTask.__table__
    earlier = aliased(OutboxTask.__table__)
    return and_(
        table.c.state == QUEUED,
        table.c.next_attempt_at <= now,
        or_(table.c.locked_until.is_(None), table.c.locked_until < now),
        or_(
            table.c.group_key.is_(None),
            ~exists(
                select(earlier.c.id).where(
                    earlier.c.group_key == table.c.group_key,
                    earlier.c.state == QUEUED,
                    earlier.c.group_key.is_not(None),
                    earlier.c.id < table.c.id,
                )
            ),
        ),
    )


#: The columns of a :class:`Task`, in its fields' order.
_TASK_COLUMNS = ("id", "topic", "key", "group_key", "payload", "attempts", "subject_type", "subject_id")


def claim(limit: int, ids: list[int] | None = None, now: datetime | None = None, *,
          fresh_only: bool = False) -> tuple[str, list[int]]:
    """Take up to ``limit`` due tasks (of ``ids`` if given; never run before if ``fresh_only``) for this
    run: ``(lease, ids in the order written)``; commits."""
    lease, tasks = claim_tasks(limit, ids, now, fresh_only=fresh_only)
    return lease, [task.id for task in tasks]


def claim_tasks(limit: int, ids: list[int] | None = None, now: datetime | None = None, *,
                fresh_only: bool = False) -> tuple[str, list[Task]]:
    """:func:`claim`, returning the claimed tasks themselves (as the handlers get them).

    One statement, ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING id``: on PostgreSQL the inner
    select locks with ``FOR UPDATE SKIP LOCKED`` (concurrent runs take different tasks, never wait), on
    SQLite the statement runs under the database's single write lock, so no two runs claim one task.
    """
    session = get_session()
    table = OutboxTask.__table__
    candidate = aliased(OutboxTask.__table__)
    now = now or utcnow()
    lease = secrets.token_hex(16)
    condition = _due_condition(now, candidate)
    if ids is not None:
        condition = and_(condition, candidate.c.id.in_(ids))
    if fresh_only:
        condition = and_(condition, candidate.c.attempts == 0)
    due = select(candidate.c.id).where(condition).order_by(candidate.c.next_attempt_at, candidate.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(table)
        .where(table.c.id.in_(due))
        .values(
            locked_until=now + timedelta(seconds=config_value("OUTBOX_LEASE_SECONDS")),
            lease=lease,
            attempts=table.c.attempts + 1,
        )
        .returning(*(table.c[name] for name in _TASK_COLUMNS))
    )
    try:
        claimed = sorted((Task(*row) for row in session.execute(statement)), key=lambda task: task.id)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return lease, claimed


def _snapshot(row: OutboxTask) -> Task:
    return Task(row.id, row.topic, row.key, row.group_key, dict(row.payload or {}), row.attempts,
                row.subject_type, row.subject_id)


def run_claimed(app: Flask, task_id: int, lease: str) -> str:
    """Run one claimed task in an app context of its own: ``done``, ``retried``, ``dead`` or ``lost``."""
    with app.app_context():
        session = get_session()
        row = session.get(OutboxTask, task_id)
        if row is None or row.lease != lease or row.state != "queued":
            session.rollback()
            return "lost"
        task = _snapshot(row)
        session.rollback()
    return run_task_snapshot(app, task, lease)


def run_task_snapshot(app: Flask, task: Task, lease: str) -> str:
    """Run a task claimed with ``lease`` (as :func:`claim_tasks` returned it), in an app context of its
    own. Only the run holding the lease can mark it done: a run whose lease was taken over is undone."""
    task_id = task.id
    with app.app_context():
        session = get_session()
        registered = HANDLERS.get(task.topic)
        started = time.perf_counter()
        try:
            if registered is None:
                raise GiveUp(f"No handler for the topic {task.topic!r} in this version of the plugin")
            if task.attempts > registered.attempts_allowed():
                raise GiveUp(f"{task.attempts - 1} runs started and none finished (did the process die?)")
            registered.function(task)
            session.flush()
            marked = session.execute(
                update(OutboxTask.__table__)
                .where(OutboxTask.__table__.c.id == task_id, OutboxTask.__table__.c.lease == lease)
                .values(state="done", done_at=utcnow(), locked_until=None, lease=None, last_error=None)
            )
            if marked.rowcount != 1:
                session.rollback()
                log.warning("Outbox task %s (%s): another run took it over; this run's work is undone",
                            task_id, task.topic)
                return "lost"
            session.commit()
        except GiveUp as error:
            session.rollback()
            return _failed(app, registered, task, lease, error.reason, dead=True)
        except Retry as error:
            session.rollback()
            return _failed(app, registered, task, lease, error.reason, after=error.after_seconds,
                           counts=error.counts)
        except Exception as error:
            session.rollback()
            log.warning("Outbox task %s (%s) failed on attempt %d", task_id, task.topic, task.attempts,
                        exc_info=True)
            return _failed(app, registered, task, lease, f"{type(error).__name__}: {error}")
        log.debug("Outbox task %s (%s) done in %.1f ms", task_id, task.topic,
                  (time.perf_counter() - started) * 1000)
        return "done"


def _failed(app, registered: Handler | None, task: Task, lease: str, reason: str, *, dead: bool = False,
            after: float | None = None, counts: bool = True) -> str:
    with app.app_context():
        session = get_session()
        row = session.get(OutboxTask, task.id, with_for_update=True)
        if row is None or row.lease != lease:
            session.rollback()
            return "lost"
        attempts = row.attempts if counts else max(row.attempts - 1, 0)
        row.attempts = attempts
        row.last_error = reason[:4000]
        row.locked_until = None
        row.lease = None
        if dead or registered is None or (counts and attempts >= registered.attempts_allowed()):
            row.state = "dead"
            outcome = "dead"
            log.error("Outbox task %s (%s) parked as dead after %d attempt(s): %s", task.id, task.topic,
                      attempts, reason)
        else:
            wait = after if after is not None else registered.delay(max(attempts, 1))
            row.next_attempt_at = utcnow() + timedelta(seconds=max(float(wait), 0.0))
            outcome = "retried"
            log.info("Outbox task %s (%s) will be retried in %.0f s: %s", task.id, task.topic, wait, reason)
        session.commit()
        return outcome


def run_due(app: Flask | None = None, limit: int | None = None, *, ids: list[int] | None = None,
            fresh_only: bool = False, should_stop: Callable[[], bool] | None = None) -> RunReport:
    """One pass of the relay: claim the due tasks (of ``ids`` if given) and run them one by one."""
    app = app or current_app._get_current_object()
    report = RunReport()
    with app.app_context():
        lease, claimed = claim_tasks(limit or config_value("OUTBOX_BATCH"), ids, fresh_only=fresh_only)
    for position, task in enumerate(claimed):
        if should_stop is not None and should_stop():
            _release(app, [left.id for left in claimed[position:]], lease)
            break
        report.add(run_task_snapshot(app, task, lease))
    return report


def _release(app: Flask, task_ids: list[int], lease: str) -> None:
    """Give back claimed tasks not started (a worker stopping), without counting the attempt."""
    with app.app_context():
        session = get_session()
        table = OutboxTask.__table__
        session.execute(
            update(table)
            .where(table.c.id.in_(task_ids), table.c.lease == lease)
            .values(locked_until=None, lease=None, attempts=table.c.attempts - 1)
        )
        session.commit()


def run_task(key: str | int, app: Flask | None = None) -> str:
    """Run one task now, if it is due (the job of a host's queue): its outcome, or ``skipped`` when it
    is done, dead, waiting for a retry time or held by another run.

    :param key: what the executor was handed (``advocacy-outbox:<id>``), or the task id.
    """
    task_id = _task_id(key)
    app = app or current_app._get_current_object()
    with app.app_context():
        lease, claimed = claim_tasks(1, [task_id])
    if not claimed:
        return "skipped"
    return run_task_snapshot(app, claimed[0], lease)


def run_for_queue(key: str | int, app: Flask | None = None) -> tuple[str, float | None]:
    """A host queue's job: :func:`run_task`, then when the job should come back, in seconds, while the
    task is still queued (to retry, not due yet, or held by another run): ``(outcome, seconds or None)``."""
    app = app or current_app._get_current_object()
    outcome = run_task(key, app=app)
    if outcome in ("done", "dead"):
        return outcome, None
    return outcome, seconds_until_due(key, app=app)


def seconds_until_due(key: str | int, app: Flask | None = None) -> float | None:
    """For a host queue's retries: seconds until a queued task's next attempt (``0`` when due now), or
    ``None`` when it needs no further run (done, dead, gone)."""
    app = app or current_app._get_current_object()
    with app.app_context():
        session = get_session()
        row = session.get(OutboxTask, _task_id(key))
        if row is None or row.state != "queued":
            session.rollback()
            return None
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        if row.locked_until is not None:
            wait = max(wait, (row.locked_until - utcnow()).total_seconds())
        session.rollback()
        return max(wait, 0.0)


def _task_id(key: str | int) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str):
        text = key[len(KEY_PREFIX):] if key.startswith(KEY_PREFIX) else key
        if text.isdigit():
            return int(text)
    raise ValueError(f"Not an outbox task key: {key!r}")


# -- the inline executor ----------------------------------------------------------------------------

_last_sweep: dict[int, float] = {}
_sweep_lock = threading.Lock()


#: ``inline``: how long a task waits for an earlier task of its group (run by a concurrent request)
#: before it is left to the next pass of the relay.
INLINE_GROUP_WAIT_SECONDS = 10.0


def _run_inline(app: Flask, task_id: int) -> None:
    deadline = time.monotonic() + INLINE_GROUP_WAIT_SECONDS
    try:
        while True:
            if run_due(app, 1, ids=[task_id], fresh_only=True).ran:
                return
            if time.monotonic() > deadline or not _waits_for_its_group(app, task_id):
                return
            time.sleep(0.02)
    except Exception:  # the change is committed; the task waits for the next pass
        log.exception("Running outbox task %s after its commit failed; it stays queued", task_id)


def _waits_for_its_group(app: Flask, task_id: int) -> bool:
    """Whether a new task is held back by an earlier task of its group that is running or about to run."""
    with app.app_context():
        session = get_session()
        table = OutboxTask.__table__
        earlier = aliased(OutboxTask.__table__)
        now = utcnow()
        found = session.scalar(
            select(func.count())
            .select_from(table)
            .where(
                table.c.id == task_id,
                table.c.state == "queued",
                table.c.attempts == 0,
                exists(
                    select(earlier.c.id).where(
                        earlier.c.group_key == table.c.group_key,
                        earlier.c.state == "queued",
                        earlier.c.id < table.c.id,
                        # Running now, or about to run (its own commit's run has not claimed it yet);
                        # not one waiting for a retry later.
                        or_(earlier.c.locked_until >= now, earlier.c.next_attempt_at <= now),
                    )
                ),
            )
        )
        session.rollback()
        return bool(found)


def _sweep_inline(app: Flask) -> None:
    """Run a few older due tasks (retries), at most once every ``OUTBOX_INLINE_SWEEP_SECONDS``."""
    limit = app.config["ADVOCACY_OUTBOX_INLINE_SWEEP"]
    if not limit:
        return
    now = time.monotonic()
    with _sweep_lock:
        if now - _last_sweep.get(id(app), float("-inf")) < app.config["ADVOCACY_OUTBOX_INLINE_SWEEP_SECONDS"]:
            return
        _last_sweep[id(app)] = now
    try:
        run_due(app, limit)
    except Exception:
        log.exception("The outbox sweep after a commit failed")


# -- the worker -------------------------------------------------------------------------------------


@dataclass
class Worker:
    """``flask advocacy worker``: runs the relay until SIGTERM or SIGINT, finishing the task at hand."""

    app: Flask
    poll_seconds: float = 1.0
    health_seconds: float = 60.0
    echo: Callable[[str], Any] = print
    totals: RunReport = field(default_factory=RunReport)
    _stop: threading.Event = field(default_factory=threading.Event)

    def stop(self, *_args) -> None:
        if not self._stop.is_set():
            self.echo("advocacy worker: stopping after the task at hand")
        self._stop.set()

    def run(self, *, once: bool = False, max_seconds: float | None = None) -> RunReport:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (SIGTERM, SIGINT):
                previous[signum] = install_signal_handler(signum, self.stop)
        started = time.monotonic()
        last_health = float("-inf")
        self.echo(f"advocacy worker: started (poll {self.poll_seconds:g} s)")
        try:
            while not self._stop.is_set():
                if time.monotonic() - last_health >= self.health_seconds:
                    self.echo(self.health_line())
                    last_health = time.monotonic()
                try:
                    report = run_due(self.app, should_stop=self._stop.is_set)
                except Exception as error:  # the database went away, say: wait and try again
                    log.warning("advocacy worker: the relay failed (%s); trying again", error, exc_info=True)
                    self.echo(f"advocacy worker: the relay failed ({type(error).__name__}); retrying")
                    report = RunReport()
                    self._stop.wait(min(self.poll_seconds * 5, 10))
                self.totals.add_report(report)
                if once or (max_seconds is not None and time.monotonic() - started >= max_seconds):
                    break
                if not report.ran:
                    self._stop.wait(self.poll_seconds)
        finally:
            for signum, handler_before in previous.items():
                install_signal_handler(signum, handler_before)
        self.echo(f"advocacy worker: stopped; {self._summary()}")
        return self.totals

    def _summary(self) -> str:
        t = self.totals
        return f"ran {t.ran} task(s): {t.done} done, {t.retried} to retry, {t.dead} dead, {t.lost} taken over"

    def health_line(self) -> str:
        with self.app.app_context():
            counts = state_counts()
            due = due_count()
        return (f"advocacy worker: alive; {self._summary()}; outbox: {due} due, {counts['queued']} queued, "
                f"{counts['dead']} dead")


# -- reading and replaying (staff page, CLI) ----------------------------------------------------------


def state_counts(topic: str | None = None) -> dict[str, int]:
    """Tasks (of ``topic`` if given) per state, every state present, zeros included."""
    counts = {state: 0 for state in ("queued", "done", "dead")}
    query = select(OutboxTask.state, func.count()).group_by(OutboxTask.state)
    if topic is not None:
        query = query.where(OutboxTask.topic == topic)
    for state, count in get_session().execute(query):
        counts[state] = count
    return counts


def due_count(now: datetime | None = None) -> int:
    """Tasks that could run now."""
    return get_session().scalar(select(func.count()).select_from(OutboxTask).where(_due_condition(now or utcnow())))


def topic_counts() -> list[tuple[str, dict[str, int]]]:
    """Per topic, tasks per state, topics in name order."""
    found: dict[str, dict[str, int]] = {}
    rows = get_session().execute(
        select(OutboxTask.topic, OutboxTask.state, func.count()).group_by(OutboxTask.topic, OutboxTask.state)
    )
    for topic, state, count in rows:
        found.setdefault(topic, {"queued": 0, "done": 0, "dead": 0})[state] = count
    return sorted(found.items())


def tasks(state: str, *, topic: str | None = None, retrying_only: bool = False, limit: int = 50,
          offset: int = 0) -> list[OutboxTask]:
    """Tasks in a state, the oldest first (dead: the most recently parked first)."""
    query = select(OutboxTask).where(OutboxTask.state == state)
    if topic:
        query = query.where(OutboxTask.topic == topic)
    if retrying_only:
        query = query.where(OutboxTask.attempts > 0)
    order = (OutboxTask.id.desc(),) if state == "dead" else (OutboxTask.next_attempt_at, OutboxTask.id)
    return list(get_session().scalars(query.order_by(*order).limit(limit).offset(offset)))


def replay(task_id: int) -> bool:
    """Queue a dead task again, with its attempts reset (flushed; runs after the caller's commit).

    :returns: ``False`` when there is no such task or it is not dead.
    """
    session = get_session()
    row = session.get(OutboxTask, task_id, with_for_update=True)
    if row is None or row.state != "dead":
        return False
    row.state = "queued"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.locked_until = None
    row.lease = None
    session.flush()
    _dispatch_after_commit(row.id, row.topic, dict(row.payload or {}), delayed=False)
    return True
