"""How much a referral redirect costs next to a bare redirect served by the same gunicorn workers.

Serves the demo app (``bench/app.py``) with gunicorn on 127.0.0.1 and a fresh SQLite database in a
temporary folder, then loads two routes in alternating rounds (bare, referral, bare, referral, ...) so
drift of the machine hits both alike:

* ``GET /bench/bare-redirect``: a plain ``302`` to ``/signup`` (the baseline);
* ``GET /r/<token>``: Alice's referral link, which verifies the signed token, looks up the advocate,
  records the click (``ADVOCACY_CLICK_DEDUPE_SECONDS=0``, so every request writes one) and sets the
  signed ``advocacy_ref`` cookie.

Every referral response must be a ``302`` setting ``advocacy_ref``, and the number of click rows must
grow by exactly the number of referral requests made (counted after gunicorn's graceful stop, which
flushes the clicks still batched in memory).

The plugin's per-IP link limit (``ADVOCACY_LINK_FOLLOW_LIMIT``) stays on, on ``--limiter-storage``
(Redis by default, as a multi-worker deployment runs it); the clients spread their requests over
``--addresses`` source addresses of the loopback range (127.77.0.0/16), as real visitors come from many
networks, so the limit never answers 429 to a fair share. Prints one line per round, then
``bare_rps=``, ``redirect_rps=`` and ``redirect_ratio=`` (the median of the per-round ratios), and
where the CPU went: microseconds per request of each route used by gunicorn, by PostgreSQL and by
Redis (read from ``/proc``; the rest of the two cores went to the clients).
Goal: ``redirect_ratio >= 0.75``.

Run from anywhere::

    .venv/bin/python bench/redirect_bench.py [--rounds 5] [--seconds 3] [--processes 2] [--threads 4]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--limiter-storage redis://127.0.0.1:6379]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import multiprocessing
import re
import os
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
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.75
BARE_PATH = "/bench/bare-redirect"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)
#: Upper bound of requests one client connection makes in one phase, whatever the duration.
MAX_REQUESTS_PER_CONNECTION = 20_000


# -- load generation (runs in the client processes) ------------------------------------------------


@dataclass
class PhaseResult:
    requests: int = 0
    ok: int = 0
    errors: dict = field(default_factory=dict)

    def add(self, other: "PhaseResult") -> None:
        self.requests += other.requests
        self.ok += other.ok
        for key, value in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + value


def _source_address(number: int) -> str:
    """The ``number``-th client address of 127.77.0.0/16 (every 127.x address is this machine's)."""
    return f"127.77.{(number // 250) % 250}.{number % 250 + 1}"


def _one_request(port: int, path: str, expect_cookie: bool, source: str | None = None) -> str | None:
    """One GET on a new connection (gunicorn's sync workers close after every response), from the
    loopback address ``source`` when given.

    Returns ``None`` when the response is what it should be, else a short description of the fault.
    """
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0) if source else None
    )
    try:
        connection.request(
            "GET",
            path,
            headers={
                "User-Agent": BROWSER_UA,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-GB,en;q=0.9",
            },
        )
        response = connection.getresponse()
        response.read()
        if response.status != 302:
            return f"status {response.status}"
        if response.getheader("Location") != "/signup":
            return f"location {response.getheader('Location')!r}"
        if expect_cookie:
            cookies = response.msg.get_all("Set-Cookie") or []
            if not any(cookie.startswith("advocacy_ref=") for cookie in cookies):
                return "no advocacy_ref cookie"
        return None
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def _client_process(job: tuple) -> PhaseResult:
    """Run ``threads`` connections, one request at a time each, on ``path`` until ``deadline``."""
    port, path, expect_cookie, threads, deadline, addresses, offset = job
    results = [PhaseResult() for _ in range(threads)]

    def loop(result: PhaseResult, start: int) -> None:
        numbers = itertools.count(start, threads)
        while time.time() < deadline and result.requests < MAX_REQUESTS_PER_CONNECTION:
            source = _source_address(next(numbers) % addresses) if addresses else None
            fault = _one_request(port, path, expect_cookie, source)
            result.requests += 1
            if fault is None:
                result.ok += 1
            else:
                result.errors[fault] = result.errors.get(fault, 0) + 1

    workers = [
        threading.Thread(target=loop, args=(result, offset + index * 7919))
        for index, result in enumerate(results)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = PhaseResult()
    for result in results:
        total.add(result)
    return total


# -- the server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _flask(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _scalar(database: str, sql: str, **params):
    import sqlalchemy as sa

    engine = sa.create_engine(database)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def _click_count(database: str) -> int:
    return _scalar(database, "SELECT count(*) FROM advocacy_referral_clicks")


def _user_id(database: str, email: str) -> int:
    row = _scalar(database, "SELECT id FROM demo_users WHERE email = :email", email=email)
    if row is None:
        raise SystemExit(f"seed-demo created no user {email}")
    return row


def sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def _redis_answers(uri: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(uri, socket_timeout=2).ping())
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def _wait_until_serving(port: int, server: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        if _one_request(port, BARE_PATH, expect_cookie=False) is None:
            return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s:\n{log.read_text()}")


def _stop(server: subprocess.Popen) -> None:
    """Stop the gunicorn master this script started, and its workers (its own process group)."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the group of the master started below, nothing else
        server.wait(timeout=5)


def _cpu_seconds(group: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the processes of process group ``group`` (the
    gunicorn master and its workers: ``"server"``) and by the database and Redis servers this
    machine runs (``"postgres"``, ``"redis"``), read from ``/proc``; zeros where there is none."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    totals = {"server": 0, "postgres": 0, "redis": 0}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, tail = entry.read_text().rpartition(")")
        except OSError:
            continue  # the process ended meanwhile
        fields = tail.split()  # after the name: state, ppid, pgrp, ..., utime (11), stime (12)
        used = int(fields[11]) + int(fields[12])
        name = head.partition("(")[2]
        if int(fields[2]) == group:
            totals["server"] += used
        elif name == "postgres":
            totals["postgres"] += used
        elif name.startswith("redis-server"):
            totals["redis"] += used
    return {key: value / ticks for key, value in totals.items()}


# -- the benchmark ---------------------------------------------------------------------------------


def _phase(pool, port: int, path: str, expect_cookie: bool, args, seconds: float):
    deadline = time.time() + seconds
    started = time.perf_counter()
    jobs = [
        (port, path, expect_cookie, args.threads, deadline, args.addresses, number * 104_729)
        for number in range(args.processes)
    ]
    total = PhaseResult()
    for result in pool.map(_client_process, jobs):
        total.add(result)
    elapsed = time.perf_counter() - started
    return total, total.requests / elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="bare/referral round pairs (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per route (default 1 s)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="connections per process (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL (a schema of its own is made and dropped); default SQLite")
    parser.add_argument("--limiter-storage", default=os.environ.get("ADVOCACY_RATELIMIT_STORAGE_URI")
                        or "redis://127.0.0.1:6379/0",
                        help="the rate limit's storage URI (default Redis on 127.0.0.1); 'off' disables it")
    parser.add_argument("--addresses", type=int, default=4000,
                        help="client source addresses in 127.77.0.0/16 (default 4000; 0: 127.0.0.1 only)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, log)")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when redirect_ratio is below {GOAL}"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20 or not 0.5 <= args.seconds <= 10:
        parser.error("use 1-20 rounds of 0.5-10 seconds")
    if not 1 <= args.processes * args.threads <= 64:
        parser.error("use 1-64 connections in all")

    if not 0 <= args.addresses <= 62_500:
        parser.error("use 0-62500 addresses")

    workdir = Path(tempfile.mkdtemp(prefix="advocacy-bench-"))
    log = workdir / "gunicorn.log"
    schema = admin = None
    if args.database_url:
        import sqlalchemy as sa

        schema = f"advocacy_redirect_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(sqlalchemy_url(args.database_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in args.database_url else "?"
        database = f"{sqlalchemy_url(args.database_url)}{separator}options=-csearch_path%3D{schema}"
        where = f"PostgreSQL schema {schema}"
    else:
        database = f"sqlite:///{workdir / 'bench.sqlite'}"
        where = f"SQLite in {workdir}"
    env = {
        **os.environ,
        "DEMO_SQLALCHEMY_DATABASE_URI": database,
        "DEMO_ADVOCACY_CLICK_DEDUPE_SECONDS": "0",  # every request records a click: the real cost
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if args.limiter_storage == "off":
        env["DEMO_ADVOCACY_RATELIMIT_ENABLED"] = "false"
        limiter = "rate limit off"
    else:
        if args.limiter_storage.startswith("redis") and not _redis_answers(args.limiter_storage):
            raise SystemExit(f"no Redis answers at {args.limiter_storage} (or pass --limiter-storage off)")
        env["DEMO_ADVOCACY_RATELIMIT_ENABLED"] = "true"
        env["DEMO_ADVOCACY_RATELIMIT_STORAGE_URI"] = args.limiter_storage
        # Counters of this run only (a shared Redis may hold other runs' keys).
        env["DEMO_ADVOCACY_RATELIMIT_KEY_PREFIX"] = f"advocacy-redirect-bench-{uuid.uuid4().hex[:8]}"
        limiter = f"rate limit on, {args.limiter_storage}"
    server = None
    pool = None
    try:
        _flask(env, "advocacy", "seed-demo")
        alice = _user_id(database, "alice@example.com")
        referral_url = _flask(env, "advocacy", "link", str(alice)).strip().splitlines()[-1]
        referral_path = "/r/" + referral_url.split("/r/", 1)[-1]
        if "/r/" not in referral_url:
            raise SystemExit(f"unexpected referral link {referral_path!r}")

        port = _free_port()
        with log.open("w") as log_file:
            server = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn",
                    "--workers", str(args.workers),
                    "--bind", f"127.0.0.1:{port}",
                    "--log-level", "warning",
                    "bench.app:create_bench_app()",
                ],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so it can be stopped as a whole
            )
        _wait_until_serving(port, server, log)
        print(
            f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}; "
            f"load: {args.processes} processes x {args.threads} connections; "
            f"{args.rounds} rounds of {args.seconds:g} s per route; {where}; {limiter}; "
            f"{args.addresses or 1} client addresses"
        )

        clicks_before = _click_count(database)
        referral_requests = 0
        faults = PhaseResult()
        pool = multiprocessing.get_context("fork").Pool(args.processes)
        routes = {"bare": (BARE_PATH, False), "redirect": (referral_path, True)}
        for name, (path, expect_cookie) in routes.items():
            result, _ = _phase(pool, port, path, expect_cookie, args, args.warmup)
            faults.add(PhaseResult(errors=result.errors))
            if name == "redirect":
                referral_requests += result.requests

        rates = {"bare": [], "redirect": []}
        # CPU microseconds per request, per round: gunicorn, the database server, Redis.
        cpu = {name: {"server": [], "postgres": [], "redis": []} for name in ("bare", "redirect")}
        ratios = []
        for number in range(1, args.rounds + 1):
            for name, (path, expect_cookie) in routes.items():
                cpu_before = _cpu_seconds(server.pid)
                result, rate = _phase(pool, port, path, expect_cookie, args, args.seconds)
                cpu_after = _cpu_seconds(server.pid)
                for part in cpu[name]:
                    cpu[name][part].append(
                        (cpu_after[part] - cpu_before[part]) / max(1, result.requests) * 1e6
                    )
                rates[name].append(rate)
                faults.add(PhaseResult(errors=result.errors))
                if name == "redirect":
                    referral_requests += result.requests
            ratios.append(rates["redirect"][-1] / rates["bare"][-1])
            print(
                f"round {number}: bare {rates['bare'][-1]:8.1f} req/s   "
                f"redirect {rates['redirect'][-1]:8.1f} req/s   ratio {ratios[-1]:.3f}   "
                f"gunicorn CPU per request: bare {cpu['bare']['server'][-1]:.0f} us, "
                f"redirect {cpu['redirect']['server'][-1]:.0f} us",
                flush=True,
            )

        # Clicks are written in batches off the request path: a graceful stop flushes what is left.
        pool.terminate()
        pool.join()
        pool = None
        _stop(server)
        clicks_made = _click_count(database) - clicks_before
        ok = True
        if faults.errors:
            print(f"FAULTY RESPONSES: {faults.errors}")
            ok = False
        if clicks_made != referral_requests:
            print(f"CLICKS NOT RECORDED: {referral_requests} referral requests, {clicks_made} new clicks")
            ok = False
        else:
            print(f"verified: {referral_requests} referral requests, {clicks_made} clicks recorded")

        ratio = statistics.median(ratios)
        print(f"bare_rps={statistics.median(rates['bare']):.1f}")
        print(f"redirect_rps={statistics.median(rates['redirect']):.1f}")
        print(f"redirect_ratio={ratio:.3f}")
        for part, label in (("server", "gunicorn master and workers"), ("postgres", "PostgreSQL"),
                            ("redis", "Redis")):
            print(f"cpu_us_per_request_{part}: bare {statistics.median(cpu['bare'][part]):.0f}, "
                  f"redirect {statistics.median(cpu['redirect'][part]):.0f} ({label})")
        print(f"goal: redirect_ratio >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}")
        if not ok:
            return 2
        return 1 if args.check and ratio < GOAL else 0
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if server is not None:
            _stop(server)
        if admin is not None:
            if not args.keep:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()
        if args.keep:
            print(f"kept {workdir}" + (f" and schema {schema}" if schema else ""))
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
