"""The transactional outbox (advocacy_portal.outbox): written with the change, run once, retried, parked,
replayed; the inline, worker and host executors; faults (a worker killed mid-task, a lost lease, the
database going away mid-batch) end with every effect exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import utcnow
from tests.fixtures import ON_POSTGRES
from tests.helpers import shop_notes as notes
from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
worker_executor = pytest.mark.settings(TASK_EXECUTOR="worker")


def write_notes(app, *texts, **payload):
    """Enqueue one ``shop.note`` task per text in one transaction; their ids."""
    with app.app_context():
        ids = [outbox.enqueue("shop.note", {"text": text, **payload}) for text in texts]
        get_session().commit()
        return ids


def task(app, task_id) -> dict:
    with app.app_context():
        row = get_session().get(OutboxTask, task_id)
        return {c.name: getattr(row, c.name) for c in OutboxTask.__table__.columns}


# -- writing and running ------------------------------------------------------------------------------


def test_a_task_runs_after_the_commit_that_wrote_it_and_never_after_a_rollback(app):
    with app.app_context():
        outbox.enqueue("shop.note", {"text": "rolled back"})
        assert notes(app) == []  # nothing runs before the commit
        get_session().rollback()
        outbox.enqueue("shop.note", {"text": "committed"})
        get_session().commit()
    assert notes(app) == ["committed"]
    with app.app_context():
        [row] = get_session().scalars(select(OutboxTask)).all()
        assert (row.state, row.attempts, row.lease, row.done_at is not None) == ("done", 1, None, True)


def test_a_key_writes_a_task_once_and_a_bad_topic_or_payload_is_refused(app):
    with app.app_context():
        first = outbox.enqueue("shop.note", {"text": "once"}, key="note:1")
        assert outbox.enqueue("shop.note", {"text": "twice"}, key="note:1") is None
        get_session().commit()
        assert first is not None
        with pytest.raises(ValueError, match="No outbox handler"):
            outbox.enqueue("shop.no_such_topic", {})
        with pytest.raises(ValueError, match="must be JSON"):
            outbox.enqueue("shop.note", {"when": utcnow()})
        with pytest.raises(ValueError, match="must be JSON"):
            outbox.enqueue("shop.note", {"amount": float("nan")})
    assert notes(app) == ["once"]


@worker_executor
def test_a_failing_task_is_retried_with_backoff_and_jitter_then_parked_dead_and_replayed(app):
    app.config.update(ADVOCACY_OUTBOX_MAX_ATTEMPTS=3, ADVOCACY_OUTBOX_RETRY_SECONDS=10)
    [task_id] = write_notes(app, "stubborn", fail=3)
    waits = []
    for attempt in (1, 2):
        before = utcnow()
        assert outbox.run_due(app).retried == 1
        row = task(app, task_id)
        assert row["state"] == "queued" and row["attempts"] == attempt
        assert "failed on purpose" in row["last_error"]
        waits.append((row["next_attempt_at"] - before).total_seconds())
        assert outbox.run_due(app).ran == 0  # not due yet
        with app.app_context():
            get_session().get(OutboxTask, task_id).next_attempt_at = utcnow() - timedelta(seconds=1)
            get_session().commit()
    # 10 s then 20 s, each +-20 %.
    assert 8 <= waits[0] <= 12.5 and 16 <= waits[1] <= 24.5
    assert outbox.run_due(app).dead == 1
    row = task(app, task_id)
    assert row["state"] == "dead" and row["attempts"] == 3 and "attempt 3" in row["last_error"]
    assert notes(app) == []

    with app.app_context():
        assert outbox.replay(task_id) is True
        assert outbox.replay(task_id) is False  # queued now, not dead
        get_session().commit()
        # Replayed with its attempts reset: it fails once more (attempt 1 <= 3)... so let it succeed.
        get_session().get(OutboxTask, task_id).payload = {"text": "stubborn"}
        get_session().commit()
    assert outbox.run_due(app).done == 1
    assert notes(app) == ["stubborn"]


@worker_executor
def test_a_handler_that_gives_up_parks_its_task_at_once_and_an_unknown_topic_too(app):
    @outbox.handler("shop.give_up")
    def give_up(task):
        raise outbox.GiveUp("the address does not exist")

    with app.app_context():
        first = outbox.enqueue("shop.give_up", {})
        get_session().add(OutboxTask(topic="shop.retired_topic", payload={}, state="queued", attempts=0,
                                     next_attempt_at=utcnow(), created_at=utcnow()))
        get_session().commit()
    assert outbox.run_due(app).dead == 2
    assert task(app, first)["last_error"] == "the address does not exist"
    with app.app_context():
        retired = get_session().scalar(select(OutboxTask).where(OutboxTask.topic == "shop.retired_topic"))
        assert "No handler for the topic 'shop.retired_topic'" in retired.last_error


@worker_executor
def test_retry_after_is_honoured_and_a_not_counted_retry_costs_no_attempt(app):
    @outbox.handler("shop.later")
    def later(task):
        raise outbox.Retry("busy", after_seconds=120, counts=task.payload["counts"])

    with app.app_context():
        counted = outbox.enqueue("shop.later", {"counts": True})
        free = outbox.enqueue("shop.later", {"counts": False})
        get_session().commit()
    started = utcnow()
    assert outbox.run_due(app).retried == 2
    for task_id, attempts in ((counted, 1), (free, 0)):
        row = task(app, task_id)
        assert row["attempts"] == attempts
        assert 119 <= (row["next_attempt_at"] - started).total_seconds() <= 122


@worker_executor
def test_tasks_of_one_group_run_one_at_a_time_in_order(app):
    with app.app_context():
        ids = [outbox.enqueue("shop.note", {"text": f"g{n}"}, group="customer:7") for n in range(3)]
        other = outbox.enqueue("shop.note", {"text": "other"}, group="customer:8")
        get_session().commit()
        lease, claimed = outbox.claim(10)
    assert claimed == [ids[0], other]  # the group's later tasks wait for its first
    assert outbox.run_claimed(app, ids[0], lease) == "done"
    assert outbox.run_claimed(app, other, lease) == "done"
    assert outbox.run_due(app).done == 1  # g1 alone: g2 still waits for it
    assert outbox.run_due(app).done == 1
    assert notes(app) == ["g0", "other", "g1", "g2"]


@worker_executor
def test_a_run_whose_lease_was_taken_over_cannot_mark_the_task_done(app):
    app.config["ADVOCACY_OUTBOX_LEASE_SECONDS"] = 1
    [task_id] = write_notes(app, "once")
    with app.app_context():
        slow_lease, claimed = outbox.claim(1)
    assert claimed == [task_id]
    with app.app_context():
        assert outbox.claim(1)[1] == []  # held
    time.sleep(1.1)
    with app.app_context():
        new_lease, claimed = outbox.claim(1)  # the first run looks dead: taken over
    assert claimed == [task_id]
    assert outbox.run_claimed(app, task_id, new_lease) == "done"
    assert outbox.run_claimed(app, task_id, slow_lease) == "lost"  # the first run wakes up: refused
    assert notes(app) == ["once"]
    assert task(app, task_id)["attempts"] == 2


# -- executors ----------------------------------------------------------------------------------------


def test_the_host_executor_gets_topic_payload_and_key_and_its_job_runs_the_task_once(app, caplog):
    handed = []
    app.config["ADVOCACY_TASK_EXECUTOR"] = lambda topic, payload, key: handed.append((topic, payload, key))
    [task_id] = write_notes(app, "via the host queue")
    assert handed == [("shop.note", {"text": "via the host queue"}, f"advocacy-outbox:{task_id}")]
    assert notes(app) == []  # the host's queue has not run it yet
    assert outbox.run_task(handed[0][2], app=app) == "done"
    assert outbox.run_task(handed[0][2], app=app) == "skipped"  # a duplicate delivery of the job
    assert notes(app) == ["via the host queue"]

    def broken_broker(topic, payload, key):
        raise ConnectionError("broker down")

    app.config["ADVOCACY_TASK_EXECUTOR"] = broken_broker
    with caplog.at_level("ERROR", logger="advocacy_portal.outbox"):
        [second] = write_notes(app, "kept")
    assert "refused outbox task" in caplog.text
    assert task(app, second)["state"] == "queued"  # committed all the same: the sweep runs it
    assert outbox.run_due(app).done == 1 and notes(app)[-1] == "kept"


def test_an_executor_setting_that_names_nothing_is_refused_at_start(database_url):
    from tests.host_app import create_app

    with pytest.raises(RuntimeError, match="ADVOCACY_TASK_EXECUTOR"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_TASK_EXECUTOR": "celery"})
    with pytest.raises(RuntimeError, match="cannot be imported"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_TASK_EXECUTOR": "shop.tasks:nothing"})


def test_inline_retries_are_swept_by_a_later_commit_not_by_the_same_one(app):
    app.config.update(ADVOCACY_OUTBOX_RETRY_SECONDS=0.01, ADVOCACY_OUTBOX_INLINE_SWEEP_SECONDS=0)
    [first] = write_notes(app, "fails once", fail=1)
    assert task(app, first)["state"] == "queued" and task(app, first)["attempts"] == 1
    time.sleep(0.05)
    write_notes(app, "next")  # its commit sweeps the due retry first
    assert sorted(notes(app)) == ["fails once", "next"]


# -- the worker process ----------------------------------------------------------------------------------


def start_worker(database_url, *args, **config):
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret-key",
                "SERVER_NAME": "shop.test", "ADVOCACY_TASK_EXECUTOR": "worker", **config}
    command = [sys.executable, "-m", "flask", "--app", f"tests.host_app:create_app({settings!r})",
               "advocacy", "worker", "--poll", "0.05", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


@worker_executor
@pytest.mark.slow
def test_the_worker_runs_tasks_says_it_is_alive_and_stops_gracefully_on_sigterm(app, database_url):
    write_notes(app, *[f"n{n}" for n in range(5)])
    assert notes(app) == []  # the worker executor: nothing ran in-process
    worker = start_worker(database_url, ADVOCACY_WORKER_HEALTH_SECONDS=0.5)
    try:
        assert wait_for(lambda: len(notes(app)) == 5)
        write_notes(app, "slow", sleep=1.5)
        assert wait_for(lambda: task_states(app).get("queued", 0) == 1 and _locked(app))
        worker.send_signal(signal.SIGTERM)  # mid-task: it finishes the task, then exits
        output, _ = worker.communicate(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert sorted(notes(app)) == sorted([f"n{n}" for n in range(5)] + ["slow"])
    assert "advocacy worker: started" in output
    assert "advocacy worker: alive;" in output and "dead" in output
    assert "stopping after the task at hand" in output
    assert "advocacy worker: stopped; ran 6 task(s): 6 done" in output


def task_states(app) -> dict:
    with app.app_context():
        return dict(get_session().execute(select(OutboxTask.state, func.count()).group_by(OutboxTask.state)).all())


def _locked(app) -> bool:
    with app.app_context():
        return bool(get_session().scalar(select(func.count()).where(OutboxTask.lease.is_not(None))))


@worker_executor
@pytest.mark.slow
def test_a_worker_killed_between_claim_and_commit_loses_nothing_and_doubles_nothing(app, database_url):
    write_notes(app, "slow", sleep=3)
    first = start_worker(database_url, ADVOCACY_OUTBOX_LEASE_SECONDS=2)
    try:
        assert wait_for(lambda: _locked(app))  # claimed, running
        first.kill()  # SIGKILL: no chance to finish or release
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert notes(app) == []
    second = start_worker(database_url, ADVOCACY_OUTBOX_LEASE_SECONDS=2)
    try:
        # It takes the task over once the dead run's lease has passed, and runs it once.
        assert wait_for(lambda: notes(app) == ["slow"], timeout=40)
        time.sleep(0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=20)
    assert notes(app) == ["slow"]
    with app.app_context():
        [row] = get_session().scalars(select(OutboxTask)).all()
        assert row.state == "done" and row.attempts == 2


@worker_executor
@pytest.mark.slow
def test_the_database_going_away_mid_batch_loses_and_doubles_nothing(app, database_url):
    """PostgreSQL: every server connection of the worker is cut, as a restart does. SQLite: another
    process holds the database's write lock for longer than the worker's busy timeout."""
    texts = [f"n{n}" for n in range(30)]
    write_notes(app, *texts, sleep=0.1)
    name = f"advocacy-worker-{os.getpid()}-{time.monotonic_ns()}"  # only this test's worker
    worker = start_worker(with_application_name(database_url, name) if ON_POSTGRES else database_url,
                          ADVOCACY_OUTBOX_RETRY_SECONDS=0.5)
    try:
        assert wait_for(lambda: 3 <= len(notes(app)))
        if ON_POSTGRES:
            admin = sa.create_engine(re_url(database_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                killed = connection.exec_driver_sql(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = %(name)s", {"name": name}
                ).scalar()
            admin.dispose()
            assert killed >= 1
        else:
            import sqlite3

            locker = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
            locker.execute("BEGIN EXCLUSIVE")
            time.sleep(6.5)  # the test shop's busy_timeout is 5 s: the worker's writes fail meanwhile
            locker.execute("ROLLBACK")
            locker.close()
        assert wait_for(lambda: len(notes(app)) == 30, timeout=90)
        time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert sorted(notes(app)) == sorted(texts), output
    assert task_states(app) == {"done": 30}
    # The worker did notice: a pass of the relay failed, or a task's commit did and it was retried.
    assert "the relay failed" in output or re.search(r"\b[1-9]\d* to retry", output), output


def re_url(database_url: str) -> str:
    return database_url.split("?")[0]


def with_application_name(database_url: str, name: str) -> str:
    """The worker's connections carry an application name, so the fault test can find them."""
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}application_name={name}"


# -- the upgrade keeps the emails of the old outbox ---------------------------------------------------


def test_the_upgrade_turns_old_emails_into_email_tasks_and_back(app):
    from advocacy_portal import migrate

    migrate.downgrade(app, "a6d0a6001de9")
    with app.app_context():
        engine = get_session().get_bind()
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO advocacy_outbox (id, topic, to_address, subject, text_body, html_body, state, "
                "attempts, created_at, next_attempt_at, sent_at) VALUES "
                "(7, 'testimonial.thanks', 'a@example.com', 'Thanks', 'text', '<p>html</p>', 'sent', 1, "
                ":now, :now, :now), "
                "(8, 'testimonial.published', 'b@example.com', 'Published', 'text 2', NULL, 'failed', 8, "
                ":now, :now, NULL)"
            ), {"now": utcnow()})
    migrate.upgrade(app)
    with app.app_context():
        rows = get_session().scalars(select(OutboxTask).order_by(OutboxTask.id)).all()
        assert [(r.id, r.topic, r.state, r.attempts) for r in rows] == [(7, "email", "done", 1), (8, "email", "dead", 8)]
        assert rows[0].payload == {"kind": "testimonial.thanks", "to": "a@example.com", "subject": "Thanks",
                                   "text": "text", "html": "<p>html</p>"}
        assert rows[1].payload["html"] is None
        new_id = outbox.enqueue("shop.note", {"text": "after the upgrade"})
        get_session().commit()
        assert new_id == 9  # the id sequence continues after the copied rows
    migrate.downgrade(app, "a6d0a6001de9")
    with app.app_context():
        with get_session().get_bind().connect() as connection:
            back = connection.execute(sa.text("SELECT id, topic, state, to_address FROM advocacy_outbox ORDER BY id")).all()
    assert [tuple(row) for row in back] == [(7, "testimonial.thanks", "sent", "a@example.com"),
                                            (8, "testimonial.published", "failed", "b@example.com")]
    migrate.upgrade(app)


@worker_executor
def test_outbox_run_goes_pass_after_pass_until_a_group_is_drained(app, runner):
    with app.app_context():
        for n in range(3):
            outbox.enqueue("shop.note", {"text": f"g{n}"}, group="customer:1")
        get_session().commit()
    result = runner.invoke(args=["advocacy", "outbox", "run"])
    assert result.exit_code == 0, result.output
    assert "Ran 3 task(s): 3 done" in result.output
    assert notes(app) == ["g0", "g1", "g2"]
    status = runner.invoke(args=["advocacy", "outbox", "status"]).output
    assert "done: 3" in status and "shop.note" in status
