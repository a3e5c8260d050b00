"""How much a referral redirect costs next to a bare redirect served by the same gunicorn workers.

Serves the demo app (``bench/app.py``) with gunicorn on 127.0.0.1 and a fresh SQLite database in a
temporary folder, then loads two routes in alternating rounds (bare, referral, bare, referral, ...) so
drift of the machine hits both alike:

* ``GET /bench/bare-redirect``: a plain ``302`` to ``/signup`` (the baseline);
* ``GET /r/<token>``: Alice's referral link, which verifies the signed token, looks up the advocate,
  records the click (``ADVOCACY_CLICK_DEDUPE_SECONDS=0``, so every request writes one) and sets the
  signed ``advocacy_ref`` cookie.

Every referral response must be a ``302`` setting ``advocacy_ref``, and the number of click rows must
grow by exactly the number of referral requests made. Prints one line per round, then
``bare_rps=``, ``redirect_rps=`` and ``redirect_ratio=`` (the median of the per-round ratios).
Goal: ``redirect_ratio >= 0.75``.

Run from anywhere::

    .venv/bin/python bench/redirect_bench.py [--rounds 5] [--seconds 3] [--processes 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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


def _one_request(port: int, path: str, expect_cookie: bool) -> str | None:
    """One GET on a new connection (gunicorn's sync workers close after every response).

    Returns ``None`` when the response is what it should be, else a short description of the fault.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
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
    port, path, expect_cookie, threads, deadline = job
    results = [PhaseResult() for _ in range(threads)]

    def loop(result: PhaseResult) -> None:
        while time.time() < deadline and result.requests < MAX_REQUESTS_PER_CONNECTION:
            fault = _one_request(port, path, expect_cookie)
            result.requests += 1
            if fault is None:
                result.ok += 1
            else:
                result.errors[fault] = result.errors.get(fault, 0) + 1

    workers = [threading.Thread(target=loop, args=(result,)) for result in results]
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


def _click_count(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute("SELECT count(*) FROM advocacy_referral_clicks").fetchone()[0]


def _user_id(database: Path, email: str) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        row = connection.execute("SELECT id FROM demo_users WHERE email = ?", (email,)).fetchone()
    if row is None:
        raise SystemExit(f"seed-demo created no user {email}")
    return row[0]


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


# -- the benchmark ---------------------------------------------------------------------------------


def _phase(pool, port: int, path: str, expect_cookie: bool, args, seconds: float):
    deadline = time.time() + seconds
    started = time.perf_counter()
    jobs = [(port, path, expect_cookie, args.threads, deadline)] * args.processes
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
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, log)")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when redirect_ratio is below {GOAL}"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20 or not 0.5 <= args.seconds <= 10:
        parser.error("use 1-20 rounds of 0.5-10 seconds")
    if not 1 <= args.processes * args.threads <= 64:
        parser.error("use 1-64 connections in all")

    workdir = Path(tempfile.mkdtemp(prefix="advocacy-bench-"))
    database = workdir / "bench.sqlite"
    log = workdir / "gunicorn.log"
    env = {
        **os.environ,
        "DEMO_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "DEMO_ADVOCACY_CLICK_DEDUPE_SECONDS": "0",  # every request records a click: the real cost
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    server = None
    pool = None
    try:
        _flask(env, "advocacy", "seed-demo")
        alice = _user_id(database, "alice@example.com")
        referral_path = _flask(env, "advocacy", "link", str(alice)).strip().splitlines()[-1]
        if not referral_path.startswith("/r/"):
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
            f"{args.rounds} rounds of {args.seconds:g} s per route; SQLite in {workdir}"
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
        ratios = []
        for number in range(1, args.rounds + 1):
            for name, (path, expect_cookie) in routes.items():
                result, rate = _phase(pool, port, path, expect_cookie, args, args.seconds)
                rates[name].append(rate)
                faults.add(PhaseResult(errors=result.errors))
                if name == "redirect":
                    referral_requests += result.requests
            ratios.append(rates["redirect"][-1] / rates["bare"][-1])
            print(
                f"round {number}: bare {rates['bare'][-1]:8.1f} req/s   "
                f"redirect {rates['redirect'][-1]:8.1f} req/s   ratio {ratios[-1]:.3f}",
                flush=True,
            )

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
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
