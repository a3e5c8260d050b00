"""How heavy the embeddable widget is, and how soon it renders on another site, next to a trivial script.

Size: ``widget_gzip_bytes`` is ``len(advocacy_portal.services.widget.script().gzipped)``, the gzip -9 body that
``<prefix>/widget/widget.js`` serves for ``Accept-Encoding: gzip``; the benchmark checks that the server
really answers those bytes.

Speed, in headless Debian Chromium: the demo app (``wsgi.create_app``, migrated, on a fresh SQLite file
in a temporary folder unless ``--database-url`` is given) is served by Werkzeug on 127.0.0.1, and a
second Werkzeug server on another port plays the customer's website: its pages carry a strict
Content-Security-Policy (``default-src 'none'; script-src 'self' <portal>; connect-src <portal>;
img-src <portal>``) and load ``measure.js`` from the site itself, then the widget's ``<script>`` tag.
``measure.js`` registers an ``advocacy:ready`` listener before the widget exists, which takes
``performance.now()`` when the widget has rendered. The first render time of one page load is that
moment minus the ``startTime`` of the Resource Timing entry of the script, i.e. from the moment the
browser starts loading the script, through running it and its one ``fetch()`` of JSON, to the rendered
widget. Every load opens a fresh browser context: empty HTTP cache, no open connections.

Three kinds of page are loaded in each round, in rotating order, so drift of the machine hits all alike:

* referral mode, signed in (``data-token``): a new customer for every load, as on a customer's first
  view. Its token is minted beforehand as the host's page would mint it, on the portal's origin, which
  draws the link's QR code once and keeps it (``widget_token_first_mint_ms`` is what that first mint
  costs the host's page); the widget's JSON reads it back;
* testimonials mode, ``data-limit="3"``, with 3 approved testimonials seeded;
* the baseline: ``/bench/baseline.js`` from the same server and port, a trivial script padded to the
  widget's size (as served and gzipped), which fetches ``/bench/baseline.json`` (a constant, answered by
  a plain Werkzeug app without Flask or a database) and puts it in a ``<div>``, then dispatches the
  same ``advocacy:ready`` event. It is the floor any embedded script of that size has to pay here;
  ``widget_render_ratio`` is the widget's median over the baseline's.

The servers run in a child process of their own, so the browser's driver in this process does not
compete with them for the GIL. Each load is checked: the right ``advocacy:ready`` detail, the script
answered 200 gzipped, its JSON 200, and no console error or warning (CSP violations included). A first
round warms the server up and is not counted. Besides the figures, the medians of the parts of a load
are printed from the Resource Timing entries: script download, script run until its ``fetch()``
starts, the JSON request, and rendering after the JSON arrived.

Goals: ``widget_gzip_bytes <= 5120`` and ``widget_render_ratio <= 1.25``; exits 1 when one is missed
(2 when a check fails). Run from anywhere::

    .venv/bin/python bench/widget_bench.py [--runs 20] [--database-url URL] [--json figures.json]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import logging
import multiprocessing
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Debian Chromium and a desktop User-Agent, as the browser tests launch them (headless Chromium's own
# User-Agent says "HeadlessChrome", a bot to the plugin).
from advocacy_portal.testing.chromium import CHROMIUM  # noqa: E402
from advocacy_portal.testing.chromium import CHROMIUM_ARGS  # noqa: E402
from advocacy_portal.testing.chromium import DESKTOP_CHROME_UA  # noqa: E402

GZIP_GOAL_BYTES = 5120
#: The widget's first render over the baseline's, both medians of the same run.
RATIO_GOAL = 1.25
PREFIX = "/advocacy"
WIDGET_PATH = PREFIX + "/widget/widget.js"
#: The baseline app is mounted here on the portal's own server (same host, port and connection costs).
BASELINE_MOUNT = "/bench"
BASELINE_SCRIPT_PATH = BASELINE_MOUNT + "/baseline.js"
TESTIMONIALS = 3
#: How long one page may take to render before the load counts as failed.
LOAD_TIMEOUT_MS = 10_000
MODES = ("referral", "testimonials", "baseline")

#: What ``measure.js`` logs once it has taken the time: the benchmark waits for this console message
#: rather than running script in the page, which would compete with the widget for the main thread.
READY_MESSAGE = "advocacy-bench: ready"

#: Loaded by every embedding page before the widget: records when ``advocacy:ready`` fires.
MEASURE_JS = """
window.__advocacyReady = null;
document.addEventListener("advocacy:ready", function (event) {
  window.__advocacyReady = { at: performance.now(), detail: event.detail };
  console.debug("READY_MESSAGE");
}, { once: true });
""".replace("READY_MESSAGE", READY_MESSAGE)

#: Run in the page once it has rendered: reads the Resource Timing entries. Cross-origin entries
#: without Timing-Allow-Origin still give startTime and responseEnd.
COLLECT_JS = """
(scriptUrl) => {
  const ready = window.__advocacyReady;
  const entries = performance.getEntriesByType("resource");
  const script = entries.find((entry) => entry.name === scriptUrl);
  const data = entries.find((entry) => entry.initiatorType === "fetch");
  return {
    ready: ready.at, detail: ready.detail,
    scriptStart: script.startTime, scriptEnd: script.responseEnd,
    dataStart: data ? data.startTime : null, dataEnd: data ? data.responseEnd : null,
  };
}
"""

#: The baseline: the least an embedded script can do that still fetches JSON and renders it.
BASELINE_CODE = b"""(function (d) {
  var me = d.currentScript, host = d.createElement("div");
  me.parentNode.insertBefore(host, me);
  fetch(new URL("baseline.json", me.src), { credentials: "omit" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var p = d.createElement("p");
      p.textContent = data.text;
      host.replaceChildren(p);
      host.dispatchEvent(new CustomEvent("advocacy:ready", { bubbles: true, composed: true,
        detail: { mode: "baseline", signedIn: false } }));
    });
})(document);
"""


# -- the apps --------------------------------------------------------------------------------------


def _sqlalchemy_url(url: str) -> str:
    """psycopg 3 for ``postgresql://`` URLs (SQLAlchemy's default driver is psycopg2)."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def build_portal_app(database_url: str):
    """The demo host app, migrated. Rate limits stay on (their cost is part of a request) but high
    enough that the benchmark never meets them."""
    from advocacy_portal import migrate
    from wsgi import create_app
    from wsgi import db

    app = create_app({
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url),
        "SERVER_NAME": None,  # links are built from the request's own host, 127.0.0.1:<port>
        "ADVOCACY_WIDGET_RATE_LIMIT": "100000 per minute",
        "ADVOCACY_API_RATE_LIMIT": "100000 per minute",
    })
    with app.app_context():
        db.create_all()
    migrate.upgrade(app)
    return app


def seed(app, customers: int, portal_origin: str) -> tuple[list[str], list[float]]:
    """Add ``customers`` customers and 3 approved testimonials; returns one identity token per customer,
    minted as the host's own pages on ``portal_origin`` mint them (which draws and keeps the link's QR
    code), and how long each mint took in ms."""
    from werkzeug.security import generate_password_hash

    from advocacy_portal.db import get_session
    from advocacy_portal import Customer
    from advocacy_portal import get_portal
    from advocacy_portal.services import testimonials as testimonial_service
    from wsgi import User
    from wsgi import db

    run = uuid.uuid4().hex[:8]  # the database may be one given with --database-url, used before
    password_hash = generate_password_hash(secrets.token_hex(16), method="pbkdf2:sha256:1000")
    with app.app_context():
        staff = User(email=f"bench-staff-{run}@example.com", name="Bench Staff",
                     password_hash=password_hash, is_staff=True)
        users = [
            User(email=f"bench-{run}-{number}@example.com", name=f"Bench Customer {number}",
                 password_hash=password_hash)
            for number in range(customers)
        ]
        db.session.add_all([staff, *users])
        db.session.commit()
        moderator = Customer(id=str(staff.id), email=staff.email)
        for author in users[:TESTIMONIALS]:
            submission = testimonial_service.submit(
                Customer(id=str(author.id), email=author.email),
                nonce=secrets.token_urlsafe(24),
                rating=5,
                body="Ordering was easy, delivery was quick and the support team answered within the hour.",
                display_name=author.name,
                role="Owner, a small shop",
                consent="publish_named",
            )
            get_session().commit()
            testimonial_service.moderate(submission.testimonial.id, "approve", moderator)
            get_session().commit()
        user_ids = [user.id for user in users]
    tokens = []
    mint_ms = []
    for user_id in user_ids:
        with app.test_request_context(base_url=portal_origin):
            user = db.session.get(User, user_id)
            started = time.perf_counter()
            tokens.append(get_portal(app).widget_token(user))
            mint_ms.append((time.perf_counter() - started) * 1000)
    return tokens, mint_ms


def padded_script(code: bytes, size: int, gzip_size: int) -> bytes:
    """``code`` plus a comment, ``size`` bytes in all, whose gzip -9 is ``gzip_size`` bytes give or take
    a few: random letters (which gzip cannot shrink much) then repeated ones (which it can)."""
    room = size - len(code) - len(b"/**/\n")
    if room < 0:
        raise SystemExit("the widget script is smaller than the baseline's code")
    noise = base64.b64encode(random.Random(0).randbytes(room)).replace(b"/", b"-")[:room]

    def build(random_letters: int) -> bytes:
        return code + b"/*" + noise[:random_letters] + b"a" * (room - random_letters) + b"*/\n"

    low, high = 0, room
    while low < high:  # the fewest random letters that make it as big as the widget, gzipped
        middle = (low + high) // 2
        if len(gzip.compress(build(middle), compresslevel=9, mtime=0)) < gzip_size:
            low = middle + 1
        else:
            high = middle
    return build(low)


def build_baseline_app(script_body: bytes, embedding_origin: str):
    """A plain Werkzeug app (no Flask, no database) serving the baseline script and its JSON with the
    headers the widget's own answers carry."""
    from werkzeug.wrappers import Request
    from werkzeug.wrappers import Response

    script_gzipped = gzip.compress(script_body, compresslevel=9, mtime=0)
    data = json.dumps({"text": "Refer a friend and you both get a reward."})

    @Request.application
    def baseline(request):
        if request.path == "/baseline.js":
            gzipped = "gzip" in request.accept_encodings
            response = Response(script_gzipped if gzipped else script_body, mimetype="text/javascript")
            if gzipped:
                response.headers["Content-Encoding"] = "gzip"
            response.headers["Cache-Control"] = "public, max-age=300"
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.vary.add("Accept-Encoding")
            return response
        if request.path == "/baseline.json":
            response = Response(data, mimetype="application/json")
            response.headers["Access-Control-Allow-Origin"] = embedding_origin
            response.headers["Cache-Control"] = "private, no-store"
            response.vary.add("Origin")
            return response
        return Response("not found", status=404)

    return baseline


def build_embedding_site(portal_origin: str):
    """The customer's website: ``/measure.js`` and one page per kind of load, under a strict CSP."""
    from werkzeug.wrappers import Request
    from werkzeug.wrappers import Response

    csp = (f"default-src 'none'; script-src 'self' {portal_origin}; connect-src {portal_origin}; "
           f"img-src {portal_origin}")
    widget = portal_origin + WIDGET_PATH
    tags = {
        "/referral": f'<script src="{widget}" data-mode="referral" data-token="{{token}}"></script>',
        "/testimonials": f'<script src="{widget}" data-mode="testimonials" data-limit="3"></script>',
        "/baseline": f'<script src="{portal_origin}{BASELINE_SCRIPT_PATH}"></script>',
    }

    @Request.application
    def site(request):
        if request.path == "/measure.js":
            return Response(MEASURE_JS, mimetype="text/javascript")
        if request.path not in tags:
            return Response("not found", status=404)
        token = request.args.get("token", "")
        if not re.fullmatch(r"[\w.-]*", token):
            return Response("bad token", status=400)
        html = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Partner site</title>"
            '<script src="/measure.js"></script></head><body><h1>Partner site</h1>'
            + tags[request.path].format(token=token)
            + "<p>The partner page goes on below the widget.</p></body></html>"
        )
        return Response(html, mimetype="text/html", headers={"Content-Security-Policy": csp})

    return site


def _serve(servers) -> None:
    """The child process: serve both apps until terminated."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


# -- measuring -------------------------------------------------------------------------------------


def check_served_gzip(portal_origin: str, expected: bytes) -> None:
    port = int(portal_origin.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET", WIDGET_PATH, headers={"Accept-Encoding": "gzip", "User-Agent": DESKTOP_CHROME_UA}
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200 or response.getheader("Content-Encoding") != "gzip" or body != expected:
        raise SystemExit(
            f"{WIDGET_PATH} with Accept-Encoding: gzip answered {response.status}, Content-Encoding "
            f"{response.getheader('Content-Encoding')!r}, {len(body)} bytes: not script().gzipped "
            f"({len(expected)} bytes)"
        )


def load_once(browser, url: str, script_url: str, data_path: str) -> tuple[dict | None, list[str]]:
    """Open ``url`` in a fresh browser context; returns the ``advocacy:ready`` detail and the timings
    (ms), or ``None``, and what went wrong."""
    from playwright.sync_api import Error as PlaywrightError

    problems = []
    answers = {}

    def on_console(message):
        if message.type in ("error", "warning"):  # CSP violations are console errors
            problems.append(f"console {message.type}: {message.text}")

    context = browser.new_context(user_agent=DESKTOP_CHROME_UA)
    try:
        context.set_default_timeout(LOAD_TIMEOUT_MS)
        context.set_default_navigation_timeout(LOAD_TIMEOUT_MS)
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("response", lambda response: answers.setdefault(response.url.split("?")[0], response))
        try:
            with page.expect_console_message(lambda message: message.text == READY_MESSAGE):
                page.goto(url, wait_until="commit")
            timings = page.evaluate(COLLECT_JS, script_url)
        except PlaywrightError as error:  # no advocacy:ready within LOAD_TIMEOUT_MS, say
            return None, [*problems, f"{type(error).__name__}: {error}"]
        script = answers.get(script_url)
        data = next((answer for name, answer in answers.items() if name.endswith(data_path)), None)
        if script is None or script.status != 200 or script.headers.get("content-encoding") != "gzip":
            problems.append(f"script not answered 200 gzipped: {script and (script.status, script.headers)}")
        if data is None or data.status != 200:
            problems.append(f"{data_path} not answered 200: {data and data.status}")
    finally:
        context.close()
    if timings["dataStart"] is None:
        return None, [*problems, "no Resource Timing entry of the JSON request"]
    return {
        "detail": timings["detail"],
        "first_render": timings["ready"] - timings["scriptStart"],
        "script_download": timings["scriptEnd"] - timings["scriptStart"],
        "script_until_fetch": timings["dataStart"] - timings["scriptEnd"],
        "json_request": timings["dataEnd"] - timings["dataStart"],
        "render": timings["ready"] - timings["dataEnd"],
    }, problems


#: The parts of a load: from the script's start to ``advocacy:ready``; the script's download (its
#: Resource Timing ``startTime`` to ``responseEnd``); from then until its ``fetch()`` starts (compiling and
#: running it, for the parser too); the JSON request; from the JSON's arrival to ``advocacy:ready``.
PARTS = ("first_render", "script_download", "script_until_fetch", "json_request", "render")

#: What ``advocacy:ready`` must say for each kind of page.
EXPECTED_DETAIL = {
    "referral": {"mode": "referral", "signedIn": True},
    "testimonials": {"mode": "testimonials", "signedIn": False},
    "baseline": {"mode": "baseline", "signedIn": False},
}


def measure(browser, site_origin: str, portal_origin: str, tokens: list[str], runs: int):
    """One warm-up round, then ``runs`` rounds of the three loads; returns the samples of each mode
    and, if a load failed, what went wrong (the benchmark stops there)."""
    widget = portal_origin + WIDGET_PATH
    pages = {  # the page, its script and the path of the JSON it fetches
        "referral": (site_origin + "/referral?token={token}", widget, "/widget/api/referral"),
        "testimonials": (site_origin + "/testimonials", widget, "/api/testimonials"),
        "baseline": (site_origin + "/baseline", portal_origin + BASELINE_SCRIPT_PATH, "/baseline.json"),
    }
    samples = {mode: [] for mode in MODES}
    for number in range(runs + 1):  # round 0 warms the server up
        shift = number % len(MODES)
        line = []
        for mode in MODES[shift:] + MODES[:shift]:
            url, script_url, data_path = pages[mode]
            result, problems = load_once(browser, url.format(token=tokens[number]), script_url, data_path)
            if result is not None and result.pop("detail") != EXPECTED_DETAIL[mode]:
                problems.append(f"advocacy:ready detail is not {EXPECTED_DETAIL[mode]}")
            if problems:  # a broken setup fails every load alike: say so now, not after every timeout
                return samples, [f"{mode} load {number}: {problem}" for problem in problems]
            if number > 0:
                samples[mode].append(result)
                line.append(f"{mode} {result['first_render']:6.1f} ms")
        if number > 0:
            print(f"run {number:3d}: {'   '.join(line)}", flush=True)
    return samples, []


def median_of(results: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in results)


# -- the benchmark ---------------------------------------------------------------------------------


def main(argv=None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=20, help="page loads of each kind, after a warm-up (default 20)"
    )
    parser.add_argument("--database-url", help="database to use (default: SQLite in a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures and every load's timings here")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 200:
        parser.error("use 1-200 runs")
    if not os.path.exists(CHROMIUM):
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium")

    from playwright.sync_api import sync_playwright
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import make_server

    from advocacy_portal.services import widget as widget_service
    from wsgi import db

    workdir = Path(tempfile.mkdtemp(prefix="advocacy-widget-bench-"))
    server_process = None
    try:
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite'}"
        app = build_portal_app(database_url)
        script = widget_service.script()
        gzip_bytes = len(script.gzipped)
        baseline_script = padded_script(BASELINE_CODE, len(script.body), gzip_bytes)

        # Bind both servers first: each needs the other's origin (CORS allow-list, CSP).
        portal_server = make_server("127.0.0.1", 0, app, threaded=True)
        portal_origin = f"http://127.0.0.1:{portal_server.server_port}"
        tokens, mint_ms = seed(app, args.runs + 1, portal_origin)
        site_server = make_server("127.0.0.1", 0, build_embedding_site(portal_origin), threaded=True)
        site_origin = f"http://127.0.0.1:{site_server.server_port}"
        app.config["ADVOCACY_WIDGET_ORIGINS"] = (site_origin,)
        portal_server.app = DispatcherMiddleware(
            app, {BASELINE_MOUNT: build_baseline_app(baseline_script, site_origin)}
        )
        # The mints drew the QR codes in this process: the server reads them back from the database,
        # as a worker other than the one that served the host's page would.
        widget_service._drawn.clear()
        with app.app_context():
            db.engine.dispose()  # no pooled connection crosses the fork
        server_process = multiprocessing.get_context("fork").Process(
            target=_serve, args=([portal_server, site_server],), daemon=True
        )
        server_process.start()
        portal_server.server_close()  # the child listens on its own copies of the sockets
        site_server.server_close()

        check_served_gzip(portal_origin, script.gzipped)
        print(f"portal {portal_origin} (demo app, Werkzeug, threaded), embedding site {site_origin}; "
              f"database {database_url if args.database_url else 'SQLite in ' + str(workdir)}")
        baseline_gzip_bytes = len(gzip.compress(baseline_script, compresslevel=9, mtime=0))
        print(f"widget.js: {len(script.body)} bytes, {gzip_bytes} gzipped; "
              f"baseline.js: {len(baseline_script)} bytes, {baseline_gzip_bytes} gzipped")
        print(f"{args.runs} runs of each kind after 1 warm-up round; a fresh browser context per load",
              flush=True)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                samples, faults = measure(browser, site_origin, portal_origin, tokens, args.runs)
            finally:
                browser.close()

        if faults:
            print(f"FAULTY LOADS ({len(faults)}):")
            for fault in faults[:20]:
                print("  " + fault)
            return 2

        print("medians in ms (each part's own median, so the parts need not add up to the first render):")
        print(f"  {'':13s} {'first render':>12s} {'download':>9s} {'run':>6s} {'JSON':>6s} {'render':>7s}"
              f"   first render min-max")
        for mode in MODES:
            results = samples[mode]
            parts = [median_of(results, part) for part in PARTS]
            renders = [result["first_render"] for result in results]
            figures = f"{parts[0]:12.1f} {parts[1]:9.1f} {parts[2]:6.1f} {parts[3]:6.1f} {parts[4]:7.1f}"
            print(f"  {mode:13s} {figures}   {min(renders):.1f}-{max(renders):.1f}")
        widget_ms = median_of(samples["referral"], "first_render")
        testimonials_ms = median_of(samples["testimonials"], "first_render")
        baseline_ms = median_of(samples["baseline"], "first_render")
        ratio = widget_ms / baseline_ms
        print(f"run time {time.perf_counter() - started:.0f} s")
        print(f"widget_gzip_bytes={gzip_bytes}")
        print(f"widget_first_render_ms={widget_ms:.1f}")
        print(f"widget_first_render_ms_testimonials={testimonials_ms:.1f}")
        print(f"baseline_first_render_ms={baseline_ms:.1f}")
        print(f"widget_render_ratio={ratio:.2f}")
        print(f"widget_token_first_mint_ms={statistics.median(mint_ms):.1f}")
        size_met = gzip_bytes <= GZIP_GOAL_BYTES
        render_met = ratio <= RATIO_GOAL
        print(f"goal: widget_gzip_bytes <= {GZIP_GOAL_BYTES}: "
              f"{'met' if size_met else f'NOT met ({gzip_bytes} bytes)'}")
        print(f"goal: widget_render_ratio <= {RATIO_GOAL:g}: "
              f"{'met' if render_met else f'NOT met ({ratio:.2f})'}")

        if args.json:
            args.json.write_text(json.dumps({
                "widget_gzip_bytes": gzip_bytes,
                "widget_first_render_ms": widget_ms,
                "widget_first_render_ms_testimonials": testimonials_ms,
                "baseline_first_render_ms": baseline_ms,
                "widget_render_ratio": ratio,
                "widget_token_first_mint_ms": statistics.median(mint_ms),
                "goals": {"widget_gzip_bytes": GZIP_GOAL_BYTES, "widget_render_ratio": RATIO_GOAL},
                "runs": samples,
            }, indent=2) + "\n")
        return 0 if size_met and render_met else 1
    finally:
        if server_process is not None and server_process.is_alive():
            server_process.terminate()
            server_process.join(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
