"""How many signed Stripe events per second the webhook records, exactly once, on PostgreSQL.

Creates a schema of its own in PostgreSQL, migrates it, seeds advocates and referred friends, then
serves the demo app (``bench/webhook_app.py``) with gunicorn on 127.0.0.1 and feeds it ``--events``
signed Stripe events from several client threads: payments by referred friends and by unknown
customers, partial refunds of some of them, and a quarter of the deliveries are duplicates (Stripe's
retries), in shuffled order. The same bodies are also posted to ``POST /bench/ok`` (reads the body,
answers 200, nothing else) in alternating rounds, as the baseline.

Afterwards it checks that every delivery was answered 200, that each event id was recorded once, that
``flask advocacy ledger verify`` passes, and that every advocate's pending balance equals the reward
computed independently from the events. Prints ``webhook_events_per_s=``, ``baseline_rps=`` and
``webhook_ratio=``; with ``--executor worker`` also ``webhook_applied_per_s=``, timed from the first
event a relay finished to the last (the relays' start-up, importing and building the app, is not part
of a deployment's steady state, so it is left out; ``webhook_applied_end_to_end_per_s=`` includes it).
Goals (the hot-path issue): ``webhook_events_per_s >= 600`` (accepted, exactly once) and
``webhook_applied_per_s >= 250`` (2 relays, no deadlock).

Run from the repository root::

    .venv/bin/python bench/webhook_bench.py [--events 4000] [--threads 8] [--workers 4]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Accepted events per second, exactly once (with ``--executor worker``: recorded and answered).
GOAL = 600.0
#: Applied events per second with ``--executor worker``, sustained by the relays.
APPLIED_GOAL = 250.0
SECRET = "whsec_benchmark_only"
WEBHOOK_PATH = "/advocacy/webhooks/stripe"
BASELINE_PATH = "/bench/ok"

SEED = """
import json, sys
from wsgi import create_app, db, User
from advocacy_portal.db import get_session
from advocacy_portal.models import utcnow
from advocacy_portal.services import referrals
from advocacy_portal.services.links import AttributionClaim
app = create_app()
pairs = []
with app.app_context():
    db.create_all()
    for n in range(int(sys.argv[1])):
        advocate = User(email=f"advocate{n}@bench.test", name="A", password_hash="x")
        friend = User(email=f"friend{n}@bench.test", name="F", password_hash="x")
        db.session.add_all([advocate, friend])
        db.session.flush()
        row = referrals.ensure_advocate(advocate.id, advocate.email)
        referrals.attribute_signup(friend.id, friend.email, AttributionClaim(row.code, None, None, utcnow()))
        pairs.append([row.id, friend.id])
    get_session().commit()
print(json.dumps(pairs))
"""


def sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _post(port: int, path: str, body: bytes, headers: dict) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return -1
    finally:
        connection.close()


def _feed(port: int, path: str, deliveries: list, threads: int) -> tuple[float, dict]:
    """Post every delivery once, from ``threads`` threads; returns requests/s and status counts."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(deliveries)))

    def work():
        local: dict[int, int] = {}
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            body, headers = deliveries[index]
            status = _post(port, path, body, headers)
            local[status] = local.get(status, 0) + 1
        with lock:
            for status, number in local.items():
                statuses[status] = statuses.get(status, 0) + number

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(deliveries) / (time.perf_counter() - started), statuses


def build_events(pairs: list, count: int, rng: random.Random):
    """Unique events (payments and refunds) and the pending balance each advocate should end with."""
    from advocacy_portal.testing import stripe_events

    unique_target = count * 3 // 4
    base = int(time.time()) - 3600
    made, payments, expected = [], [], {advocate: 0 for advocate, _friend in pairs}
    first_payment: dict[int, tuple] = {}
    while len(made) < unique_target:
        n = len(made)
        if payments and rng.random() < 0.2:
            payment = rng.choice(payments)
            if payment.get("refund_sent"):
                continue
            refunded = rng.randrange(0, payment["amount"] + 1)
            payment["refunded"] = refunded
            payment["refund_sent"] = True
            made.append(stripe_events.charge_refunded(amount=payment["amount"], amount_refunded=refunded,
                                               payment_intent=payment["pi"], charge_id=f"ch_bench_{n:07d}"))
            continue
        amount = rng.randrange(500, 50_000)
        pi = f"pi_bench_{n:07d}"
        if rng.random() < 0.2:
            event = stripe_events.checkout_session_completed(amount_total=amount, payment_intent=pi,
                                                      customer=f"cus_unknown_{n}")
            payment = {"pi": pi, "amount": amount, "advocate": None}
        else:
            advocate, friend = rng.choice(pairs)
            event = stripe_events.checkout_session_completed(
                amount_total=amount, payment_intent=pi, client_reference_id=str(friend),
                metadata={"advocacy_user_id": str(friend)})
            payment = {"pi": pi, "amount": amount, "advocate": advocate, "refunded": 0}
            first_payment.setdefault(friend, (advocate, payment))
        event["created"] = base + n  # distinct payment times: "the first payment" is well defined
        payments.append(payment)
        made.append(event)
    for advocate, payment in first_payment.values():
        reward = payment["amount"] * 10 // 100
        expected[advocate] += reward * (payment["amount"] - payment.get("refunded", 0)) // payment["amount"]
    return made, expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000, help="deliveries in all, a quarter duplicates")
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--advocates", type=int, default=50, help="advocate/friend pairs (default 50)")
    parser.add_argument("--database-url", default=os.environ.get(
        "ADVOCACY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {GOAL:.0f} accepted events/s (or, with --executor worker, "
                             f"below {APPLIED_GOAL:.0f} applied events/s)")
    parser.add_argument("--executor", choices=("inline", "worker"), default="inline",
                        help="inline: each event's effects applied before its answer (default); worker: the "
                             "webhook records and answers, then one relay process applies them (timed apart)")
    parser.add_argument("--relays", type=int, default=2,
                        help="with --executor worker: relay processes applying the events (default 2)")
    parser.add_argument("--profile-relay", metavar="PATH",
                        help="with --executor worker: run the first relay under cProfile, its stats saved to "
                             "PATH (read with python -m pstats); the applied rate is then not comparable")
    args = parser.parse_args(argv)
    if not 100 <= args.events <= 100_000 or not 1 <= args.threads <= 64:
        parser.error("use 100-100000 events and 1-64 threads")

    import sqlalchemy as sa

    schema = f"advocacy_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sqlalchemy_url(args.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in args.database_url else "?"
    database = f"{sqlalchemy_url(args.database_url)}{separator}options=-csearch_path%3D{schema}"
    workdir = Path(tempfile.mkdtemp(prefix="advocacy-webhook-bench-"))
    log = workdir / "gunicorn.log"
    env = {
        **os.environ,
        "DEMO_SQLALCHEMY_DATABASE_URI": database,
        "DEMO_FAKE_STRIPE": "false",
        "DEMO_ADVOCACY_STRIPE_WEBHOOK_SECRETS": json.dumps([SECRET]),
        "DEMO_ADVOCACY_STRIPE_WEBHOOK_TOLERANCE_SECONDS": "3600",
        "DEMO_ADVOCACY_TASK_EXECUTOR": args.executor,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    server = None
    try:
        _run(env, "-m", "flask", "--app", "wsgi", "advocacy", "db", "upgrade")
        pairs = json.loads(_run(env, "-c", SEED, str(args.advocates)).strip().splitlines()[-1])
        rng = random.Random(20261123)
        unique, expected = build_events(pairs, args.events, rng)
        from advocacy_portal.testing.stripe_events import signed_request

        signed = [signed_request(event, SECRET) for event in unique]
        deliveries = signed + [rng.choice(signed) for _ in range(args.events - len(signed))]
        rng.shuffle(deliveries)

        port = _free_port()
        with log.open("w") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(args.workers),
                 "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                 "bench.webhook_app:create_bench_app()"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.time() + 30
        while _post(port, BASELINE_PATH, b"{}", {}) != 200:
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.2)
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}; {args.threads} client threads; "
              f"{len(deliveries)} deliveries ({len(unique)} unique events, "
              f"{len(deliveries) - len(unique)} duplicates); PostgreSQL schema {schema}")

        # Baseline and webhook in alternating halves, so drift of the machine hits both alike.
        halves = [deliveries[: len(deliveries) // 2], deliveries[len(deliveries) // 2:]]
        baseline_rates, webhook_times, statuses = [], 0.0, {}
        for half in halves:
            rate, _ = _feed(port, BASELINE_PATH, half, args.threads)
            baseline_rates.append(rate)
            rate, half_statuses = _feed(port, WEBHOOK_PATH, half, args.threads)
            webhook_times += len(half) / rate
            for status, number in half_statuses.items():
                statuses[status] = statuses.get(status, 0) + number
        webhook_rate = len(deliveries) / webhook_times
        baseline_rate = statistics.mean(baseline_rates)

        ok = True
        if statuses != {200: len(deliveries)}:
            print(f"UNEXPECTED ANSWERS: {statuses}")
            ok = False
        drain_rate = None
        if args.executor == "worker":
            # --relays processes apply what was recorded, side by side, as a deployment's workers do:
            # sustained events/s, and no deadlock or lost race (each logs a warning) may happen.
            started = time.perf_counter()
            relay_command = ["-m", "flask", "--app", "wsgi", "advocacy", "outbox", "run", "--limit", "1000000"]
            relays = [
                subprocess.Popen(
                    [sys.executable,
                     *(["-m", "cProfile", "-o", str(Path(args.profile_relay).resolve())]
                       if args.profile_relay and number == 0 else []),
                     *relay_command],
                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for number in range(args.relays)
            ]
            outputs = [relay.communicate(timeout=1200) for relay in relays]
            end_to_end_rate = len(unique) / (time.perf_counter() - started)
            # Steady state: from the first task a relay finished to the last (start-up left out).
            engine = sa.create_engine(database)
            with engine.connect() as connection:
                first, last, tasks = connection.exec_driver_sql(
                    "SELECT min(done_at), max(done_at), count(*) FROM advocacy_outbox "
                    "WHERE state = 'done'").one()
            engine.dispose()
            window = (last - first).total_seconds() if first is not None else 0.0
            drain_rate = (len(unique) - 1) / window if window > 0 else end_to_end_rate
            for number, (relay, (out, err)) in enumerate(zip(relays, outputs), start=1):
                print(f"relay {number}: {out.strip()}")
                ok = ok and relay.returncode == 0
                races = len(re.findall(r"lost a race|deadlock", out + err, re.IGNORECASE))
                if races or " 0 to retry later" not in out:
                    print(f"RELAY {number} RETRIED OR DEADLOCKED ({races} log lines):\n{err[-2000:]}")
                    ok = False
        verify = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "advocacy", "ledger", "verify"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        print(f"ledger verify: exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()}")
        ok = ok and verify.returncode == 0
        engine = sa.create_engine(database)
        with engine.connect() as connection:
            recorded = connection.exec_driver_sql("SELECT count(*) FROM advocacy_stripe_events").scalar()
            pending = dict(connection.exec_driver_sql(
                "SELECT advocate_id, balance_minor FROM advocacy_ledger_accounts WHERE kind = 'pending'").all())
        engine.dispose()
        if recorded != len(unique):
            print(f"EVENTS RECORDED: {recorded}, expected {len(unique)}")
            ok = False
        wrong = {a: (pending.get(a, 0), e) for a, e in expected.items() if pending.get(a, 0) != e}
        if wrong:
            print(f"PENDING BALANCES DIFFER (advocate: (held, expected)): {dict(list(wrong.items())[:10])}")
            ok = False
        else:
            print(f"verified: {recorded} events recorded once; {len(expected)} advocates hold "
                  f"{sum(expected.values())} minor units pending, as computed from the events")
        print(f"webhook_events_per_s={webhook_rate:.1f}")
        print(f"baseline_rps={baseline_rate:.1f}")
        print(f"webhook_ratio={webhook_rate / baseline_rate:.3f}")
        if drain_rate is not None:
            print(f"webhook_applied_per_s={drain_rate:.1f}  ({args.relays} relay processes applying what was "
                  f"recorded, {tasks} tasks done, first to last; no deadlock, no retry)")
            print(f"webhook_applied_end_to_end_per_s={end_to_end_rate:.1f}  (the relays' start-up included)")
        missed = []
        print(f"goal: webhook_events_per_s >= {GOAL:.0f}: {'met' if webhook_rate >= GOAL else 'NOT met'}")
        if webhook_rate < GOAL:
            missed.append("accepted")
        if drain_rate is not None:
            print(f"goal: webhook_applied_per_s >= {APPLIED_GOAL:.0f}: "
                  f"{'met' if drain_rate >= APPLIED_GOAL else 'NOT met'}")
            if drain_rate < APPLIED_GOAL:
                missed.append("applied")
        if not ok:
            return 2
        return 1 if args.check and missed else 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
