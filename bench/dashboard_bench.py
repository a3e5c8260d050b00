"""How fast the staff pages and the customer's referral and rewards pages answer at 1M and 10M clicks.

Builds the suite's host shop (``tests/host_app.py``) on a PostgreSQL schema of its own, migrates it and
seeds a realistic program with :mod:`advocacy_portal.testing.scale_seed` (5,000 advocates, 100,000
referrals, 30,000 paid conversions over 12 months, rewards with their ledger, testimonials), then
``--small`` clicks (1M). It times every staff page (each GET route under ``<prefix>/admin`` without
arguments, the overview over 30 days and 12 months, the advocates sorted every way, one advocate, the
moderation queue, ...) and the customer's referral and rewards pages (of the busiest advocate), each
``--requests`` times (after 2 uncounted ones) with the Flask test client, and prints p50 and p95. Then it
adds clicks up to ``--large`` (10M), rebuilds the rollups and times everything again.

Every response must be a 200, and at both sizes the rollups must equal a recount of the raw clicks
(:func:`advocacy_portal.services.rollups.verify`); otherwise it exits 2. Output: the table, then
``dashboard_p95_ms=<worst p95 at the large size>`` and ``dashboard_growth_ratio=<that / the same page's
p95 at the small size>``, worst over pages. Goals: every p95 <= 150 ms at 10M, growth <= 1.2.

    .venv/bin/python bench/dashboard_bench.py [--small 1000000] [--large 10000000] [--requests 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

P95_GOAL_MS = 150.0
GROWTH_GOAL = 1.2


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(share * (len(ordered) - 1)))))
    return ordered[index]


def make_app(url: str):
    from advocacy_portal import migrate
    from tests import host_app

    app = host_app.create_app({
        "TESTING": False, "SECRET_KEY": "dashboard-bench", "SQLALCHEMY_DATABASE_URI": url,
        "SERVER_NAME": "shop.test", "ADVOCACY_RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        host_app.db.create_all()
    migrate.upgrade(app)
    return app, host_app


def people(app, host_app) -> tuple[int, int, int]:
    """A staff user, and a customer who is the busiest scale advocate: (staff id, customer id, advocate id)."""
    from advocacy_portal.models import Advocate
    from advocacy_portal.models import ReferralClick

    db = host_app.db
    with app.app_context():
        staff = host_app.User(email="staff@bench.example", name="Staff", password_hash="x", is_staff=True)
        customer = host_app.User(email="busiest@bench.example", name="Busiest", password_hash="x", is_staff=False)
        db.session.add_all([staff, customer])
        db.session.commit()
        busiest = db.session.execute(
            sa.select(ReferralClick.advocate_id).group_by(ReferralClick.advocate_id)
            .order_by(sa.func.count().desc()).limit(1)
        ).scalar()
        db.session.execute(sa.update(Advocate).where(Advocate.id == busiest).values(user_id=str(customer.id)))
        db.session.commit()
        return staff.id, customer.id, busiest


def pages(app, advocate_id: int, testimonial_id: int | None) -> list[tuple[str, str, str]]:
    """``(name, who, path)`` of every page timed."""
    prefix = app.config["ADVOCACY_URL_PREFIX"]
    admin = f"{prefix}/admin"
    found = []
    seen = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or not rule.rule.startswith(admin):
            continue
        if rule.rule in seen:
            continue
        seen.add(rule.rule)
        found.append((rule.endpoint.replace("advocacy_", ""), "staff", rule.rule))
    found.sort()
    extra = [
        ("overview 12 months by month", "staff", f"{admin}/?by=month&start={{year_ago}}&end={{today}}"),
        ("overview 12 months by day", "staff", f"{admin}/?by=day&start={{year_ago}}&end={{today}}"),
    ]
    from advocacy_portal.services.program_report import LEADERBOARD_ORDERS

    extra += [(f"advocates by {order}", "staff", f"{admin}/advocates?order={order}") for order in LEADERBOARD_ORDERS]
    extra += [("advocates page 20", "staff", f"{admin}/advocates?page=20")]
    extra += [("one advocate (busiest)", "staff", f"{admin}/advocates/{advocate_id}")]
    if testimonial_id:
        extra += [("moderation item", "staff", f"{admin}/testimonials/{testimonial_id}")]
    extra += [
        ("customer referral page", "customer", f"{prefix}/"),
        ("customer rewards page", "customer", f"{prefix}/rewards/"),
    ]
    return found + extra


def time_pages(app, staff_id: int, customer_id: int, targets, requests: int) -> dict[str, tuple[float, float]]:
    from datetime import date
    from datetime import timedelta

    today = date.today()
    values = {"today": today.isoformat(), "year_ago": (today - timedelta(days=364)).isoformat()}
    clients = {}
    for who, user_id in (("staff", staff_id), ("customer", customer_id)):
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
        clients[who] = client
    import gc

    # Full garbage collections during the timed requests, and their time: a page that allocates a lot
    # pays for the whole heap's collection now and then (a spike at p95 that is not its data's size).
    collections = {"running": False, "count": 0, "ms": 0.0, "started": 0.0}

    def on_gc(phase, info):
        if info["generation"] != 2 or not collections["running"]:
            return
        if phase == "start":
            collections["started"] = time.perf_counter()
        else:
            collections["count"] += 1
            collections["ms"] += (time.perf_counter() - collections["started"]) * 1000

    gc.collect()
    print(f"  (the process holds {len(gc.get_objects()):,} objects the collector tracks)", flush=True)
    gc.callbacks.append(on_gc)
    results = {}
    for name, who, path in targets:
        path = path.format(**values)
        timings = []
        collections.update(running=True, count=0, ms=0.0)
        for number in range(requests + 2):
            started = time.perf_counter()
            response = clients[who].get(path, base_url="http://shop.test")
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"FAILED: {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
            if number >= 2:
                timings.append(elapsed)
            else:
                collections.update(count=0, ms=0.0)  # the uncounted requests' collections neither
        collections["running"] = False
        results[name] = (statistics.median(timings), percentile(timings, 0.95), os.getloadavg()[0])
        print(f"  {name:<34} p50 {results[name][0]:8.1f} ms   p95 {results[name][1]:8.1f} ms   "
              f"load {results[name][2]:.2f}   full GCs {collections['count']} ({collections['ms']:.0f} ms)",
              flush=True)
    gc.callbacks.remove(on_gc)
    return results


def verify_rollups(app, label: str) -> None:
    from advocacy_portal.services import report_rollups
    from advocacy_portal.services import rollups

    with app.app_context():
        started = time.perf_counter()
        mismatches = rollups.verify() + report_rollups.verify()
        if mismatches:
            raise SystemExit(f"FAILED at {label}: rollups differ from a recount: {mismatches}")
        print(f"verified at {label}: the click and report rollups equal a recount of the raw tables "
              f"({time.perf_counter() - started:.1f} s)", flush=True)


def progress(label: str, total: int):
    state = {"done": 0, "next": 0.0, "started": time.perf_counter()}

    def update(step: int) -> None:
        state["done"] += step
        now = time.perf_counter()
        if now >= state["next"] or state["done"] >= total:
            state["next"] = now + 15
            print(f"  {label}: {state['done']:,}/{total:,} ({now - state['started']:.0f} s)", flush=True)

    return update


def run(args) -> int:
    from advocacy_portal.models import Testimonial
    from advocacy_portal.services import report_rollups
    from advocacy_portal.services import rollups
    from advocacy_portal.testing import scale_seed

    base = args.database_url
    if not base.startswith("postgres"):
        raise SystemExit("dashboard_bench needs PostgreSQL (--database-url postgresql://...)")
    base = base.replace("postgresql://", "postgresql+psycopg://", 1).replace("postgres://", "postgresql+psycopg://", 1)
    schema = f"dashboard_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    app = None
    try:
        app, host_app = make_app(url)
        with app.app_context():
            engine = host_app.db.engine
            started = time.perf_counter()
            plan = scale_seed.ScalePlan()
            counts = scale_seed.seed_program(plan, engine, progress=progress("program rows", 300_000))
            print(f"seeded the program in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
            started = time.perf_counter()
            scale_seed.seed_clicks(args.small, engine, progress=progress("clicks", args.small))
            print(f"seeded {args.small:,} clicks in {time.perf_counter() - started:.0f} s", flush=True)
            # VACUUM as after the second size: both sizes timed on tables autovacuum has been over (a
            # freshly loaded table without its visibility map made the small size the slower one).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
            started = time.perf_counter()
            rollups.rebuild(engine)
            report_rollups.rebuild(engine)
            print(f"rebuilt the rollups in {time.perf_counter() - started:.0f} s", flush=True)
            testimonial_id = host_app.db.session.scalar(sa.select(sa.func.min(Testimonial.id)))
        staff_id, customer_id, advocate_id = people(app, host_app)
        targets = pages(app, advocate_id, testimonial_id)
        verify_rollups(app, f"{args.small:,} clicks")
        print(f"timing {len(targets)} pages at {args.small:,} clicks, {args.requests} requests each", flush=True)
        small = time_pages(app, staff_id, customer_id, targets, args.requests)
        verify_rollups(app, f"{args.small:,} clicks, after the requests")

        with app.app_context():
            engine = host_app.db.engine
            more = args.large - args.small
            started = time.perf_counter()
            scale_seed.seed_clicks(more, engine, progress=progress("more clicks", more), seed=15)
            print(f"seeded {more:,} more clicks in {time.perf_counter() - started:.0f} s", flush=True)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
            started = time.perf_counter()
            rollups.rebuild(engine)
            print(f"rebuilt the click rollups in {time.perf_counter() - started:.0f} s", flush=True)
        verify_rollups(app, f"{args.large:,} clicks")
        print(f"timing {len(targets)} pages at {args.large:,} clicks", flush=True)
        large = time_pages(app, staff_id, customer_id, targets, args.requests)
        verify_rollups(app, f"{args.large:,} clicks, after the requests")

        small_label, large_label = f"{args.small / 1e6:g}M", f"{args.large / 1e6:g}M"
        print()
        print(f"| page | p50 @{small_label} | p95 @{small_label} | load @{small_label} | p50 @{large_label} | "
              f"p95 @{large_label} | load @{large_label} | growth |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, _, _ in targets:
            growth = large[name][1] / small[name][1] if small[name][1] else float("inf")
            print(f"| {name} | {small[name][0]:.1f} | {small[name][1]:.1f} | {small[name][2]:.2f} | "
                  f"{large[name][0]:.1f} | {large[name][1]:.1f} | {large[name][2]:.2f} | {growth:.2f} |")
        worst = max(large, key=lambda name: large[name][1])
        worst_small = max(small.values(), key=lambda figures: figures[1])[1]
        p95 = large[worst][1]
        ratio = p95 / worst_small if worst_small else float("inf")
        print()
        print(f"worst page at {large_label}: {worst}")
        print(f"dashboard_p95_ms={p95:.1f}")
        print(f"dashboard_growth_ratio={ratio:.2f}")
        met = p95 <= P95_GOAL_MS and ratio <= GROWTH_GOAL
        print(f"goals: p95 <= {P95_GOAL_MS:g} ms at {large_label}, growth <= {GROWTH_GOAL}: {'met' if met else 'NOT met'}")
        return 1 if args.check and not met else 0
    finally:
        if app is not None:
            with app.app_context():
                host_app.db.session.remove()
                host_app.db.engine.dispose()
        if not args.keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print(f"kept schema {schema}")
        admin.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("ADVOCACY_TEST_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--small", type=int, default=1_000_000, help="clicks of the first size (1M)")
    parser.add_argument("--large", type=int, default=10_000_000, help="clicks of the second size (10M)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (20)")
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.requests < 20 or args.large < args.small:
        parser.error("use at least 20 requests, and --large >= --small")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
