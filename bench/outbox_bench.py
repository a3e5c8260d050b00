"""What the outbox's relay costs per task, with a million finished tasks already in the table.

Builds a small host app (Flask-SQLAlchemy + Advocacy Portal, ``ADVOCACY_TASK_EXECUTOR="worker"``) on a
fresh database (a PostgreSQL schema of its own, or a SQLite file with ``--sqlite``), migrates it and fills
``advocacy_outbox`` with ``--done-rows`` finished tasks (default 1,000,000: months of a busy shop), so the
claim query runs against a realistic table. Then, in alternating rounds:

* **relay**: ``--tasks`` tasks of the topic ``bench.note`` (a handler that inserts one row) are enqueued,
  100 per commit, and run by ``--workers`` processes of ``flask advocacy worker``-style relay loops
  (``advocacy_portal.outbox.run_due``) until none is left;
* **baseline**: the same number of rows inserted by the same number of processes, one transaction per
  row: the least a side effect in a transaction of its own can cost.

Checks (a failed check means nothing was measured, exit 2): every task is done, exactly one row per task
(no task ran twice, none was lost), no task is dead, and the claim of an empty due set stays fast with
the full table (``claim_ms``). Prints ``relay_tasks_per_s=``, ``baseline_rows_per_s=``,
``relay_cost_ratio=`` (relay time per task / baseline time per row, median of the rounds) and
``claim_ms=``. Goal: ``relay_cost_ratio <= 4`` and ``claim_ms <= 20``.

Run from the repository root::

    .venv/bin/python bench/outbox_bench.py [--tasks 3000] [--workers 2] [--rounds 3] [--done-rows 1000000]
        [--database-url postgresql://postgres@127.0.0.1:5432/test | --sqlite]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask_sqlalchemy import SQLAlchemy  # noqa: E402
from sqlalchemy import String  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.orm import DeclarativeBase  # noqa: E402
from sqlalchemy.orm import Mapped  # noqa: E402
from sqlalchemy.orm import mapped_column  # noqa: E402

from advocacy_portal import AdvocacyPortal  # noqa: E402
from advocacy_portal import outbox  # noqa: E402
from demo.extensions import sqlite_pragmas  # noqa: E402

GOAL_RATIO = 4.0
GOAL_CLAIM_MS = 20.0


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BenchNote(db.Model):
    """One row per task: what the relay's handler and the baseline both write."""

    __tablename__ = "bench_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(unique=True)
    text: Mapped[str] = mapped_column(String(50))


@outbox.handler("bench.note")
def note(task):
    db.session.add(BenchNote(task_id=task.id, text=task.payload["text"]))


def make_app(url: str):
    app = Flask("outbox_bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench", ADVOCACY_TASK_EXECUTOR="worker",
                      ADVOCACY_OUTBOX_BATCH=50)
    db.init_app(app)
    AdvocacyPortal(app)
    with app.app_context():
        event.listen(db.engine, "connect", sqlite_pragmas)  # the demo's: WAL, busy timeout
    return app


def relay_process(url: str, ready, start) -> None:
    app = make_app(url)
    ready.set()
    start.wait()
    while outbox.run_due(app).ran:
        pass


def baseline_process(url: str, first: int, count: int, ready, start) -> None:
    app = make_app(url)
    ready.set()
    start.wait()
    with app.app_context():
        for n in range(first, first + count):
            db.session.add(BenchNote(task_id=n, text=f"baseline {n}"))
            db.session.commit()


def timed(target, argument_lists: list[tuple]) -> float:
    """Start one process per argument tuple, released together once all are ready; seconds until the
    last one finished."""
    start = multiprocessing.Event()
    processes = []
    for arguments in argument_lists:
        ready = multiprocessing.Event()
        process = multiprocessing.Process(target=target, args=(*arguments, ready, start))
        process.start()
        processes.append((process, ready))
    for _, ready in processes:
        ready.wait(120)
    began = time.perf_counter()
    start.set()
    for process, _ in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a benchmark process failed (exit {process.exitcode})")
    return time.perf_counter() - began


def fill_done_rows(app, count: int) -> None:
    from sqlalchemy import text

    from advocacy_portal.db import get_session

    with app.app_context():
        session = get_session()
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            series = "SELECT g FROM generate_series(1, :count) AS g"
            payload = "json_build_object('text', 'old ' || g)"
        else:
            series = ("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :count) "
                      "SELECT g FROM s")
            payload = "json_object('text', 'old ' || g)"
        session.execute(text(
            f"INSERT INTO advocacy_outbox (topic, payload, state, attempts, next_attempt_at, created_at, done_at) "
            f"SELECT 'bench.old', {payload}, 'done', 1, now_ts, now_ts, now_ts "
            f"FROM ({series}) AS series, (SELECT CURRENT_TIMESTAMP AS now_ts) AS t"
        ), {"count": count})
        session.commit()
        if dialect == "postgresql":
            session.execute(text("ANALYZE advocacy_outbox"))
            session.commit()


def run(args) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy import func
    from sqlalchemy import select

    from advocacy_portal import migrate
    from advocacy_portal.db import get_session
    from advocacy_portal.models import OutboxTask

    if args.sqlite:
        folder = tempfile.mkdtemp(prefix="outbox-bench-")
        url = f"sqlite:///{folder}/bench.sqlite"

        def cleanup():
            shutil.rmtree(folder, ignore_errors=True)
    else:
        base = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        schema = f"outbox_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options=-csearch_path%3D{schema}"

        def cleanup():
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()

    try:
        app = make_app(url)
        with app.app_context():
            db.create_all()
        migrate.upgrade(app)
        began = time.perf_counter()
        fill_done_rows(app, args.done_rows)
        print(f"filled advocacy_outbox with {args.done_rows} done tasks in {time.perf_counter() - began:.1f} s")

        with app.app_context():
            samples = []
            for _ in range(20):
                started = time.perf_counter()
                outbox.claim(50)
                samples.append((time.perf_counter() - started) * 1000)
            claim_ms = statistics.median(samples)

        ratios, relay_rates, baseline_rates = [], [], []
        next_id = 10_000_000
        for round_number in range(1, args.rounds + 1):
            with app.app_context():
                for start in range(0, args.tasks, 100):
                    for n in range(start, min(start + 100, args.tasks)):
                        outbox.enqueue("bench.note", {"text": f"round {round_number} note {n}"})
                    get_session().commit()
            relay_seconds = timed(relay_process, [(url,)] * args.workers)
            per_worker = args.tasks // args.workers
            baseline_seconds = timed(
                baseline_process, [(url, next_id + index * per_worker, per_worker) for index in range(args.workers)]
            )
            next_id += per_worker * args.workers
            relay_rate = args.tasks / relay_seconds
            baseline_rate = per_worker * args.workers / baseline_seconds
            ratio = baseline_rate / relay_rate
            relay_rates.append(relay_rate)
            baseline_rates.append(baseline_rate)
            ratios.append(ratio)
            print(f"round {round_number}: relay {relay_rate:7.0f} tasks/s  baseline {baseline_rate:7.0f} rows/s  "
                  f"ratio {ratio:.2f}")

        with app.app_context():
            session = get_session()
            states = dict(session.execute(
                select(OutboxTask.state, func.count()).where(OutboxTask.topic == "bench.note")
                .group_by(OutboxTask.state)).all())
            relay_notes = session.scalar(select(func.count()).select_from(BenchNote).where(BenchNote.task_id < 10_000_000))
            distinct = session.scalar(select(func.count(func.distinct(BenchNote.task_id))).where(BenchNote.task_id < 10_000_000))
        expected = args.tasks * args.rounds
        failures = []
        if states != {"done": expected}:
            failures.append(f"outbox states {states}, expected {{'done': {expected}}}")
        if relay_notes != expected or distinct != expected:
            failures.append(f"{relay_notes} rows ({distinct} distinct tasks) written by the relay, expected {expected}")
        if failures:
            print("CHECK FAILED: " + "; ".join(failures))
            return 2
        ratio = statistics.median(ratios)
        print(f"relay_tasks_per_s={statistics.median(relay_rates):.0f}")
        print(f"baseline_rows_per_s={statistics.median(baseline_rates):.0f}")
        print(f"relay_cost_ratio={ratio:.2f}")
        print(f"claim_ms={claim_ms:.2f}")
        ok = ratio <= GOAL_RATIO and claim_ms <= GOAL_CLAIM_MS
        print(f"goal relay_cost_ratio <= {GOAL_RATIO} and claim_ms <= {GOAL_CLAIM_MS}: {'met' if ok else 'MISSED'}")
        return 0 if ok or not args.check else 1
    finally:
        cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--done-rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    return run(parser.parse_args())


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    sys.exit(main())
