"""Fixtures of the browser tests: the test host app (or the demo) served over real HTTP, and headless Chromium.

Each test gets the app of the ``app`` fixture (so its own fresh SQLite file, or its own PostgreSQL
schema when ``ADVOCACY_TEST_DATABASE_URL`` is set) served by Werkzeug on ``127.0.0.1`` and a free port.
One Chromium process serves the whole session; every test opens its own browser contexts.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from advocacy_portal.testing.chromium import CHROMIUM
from advocacy_portal.testing.chromium import CHROMIUM_ARGS
from advocacy_portal.testing.chromium import DESKTOP_CHROME_UA

#: Milliseconds Playwright waits for a page or an element: everything here is local and small.
TIMEOUT_MS = 5_000


@dataclass
class LiveServer:
    """The app answering on ``url`` (``http://127.0.0.1:<port>``, no trailing slash)."""

    app: object
    url: str
    errors: list = field(default_factory=list)


@contextmanager
def serving(wsgi_app, name: str):
    """Serve ``wsgi_app`` on 127.0.0.1 and a free port in a background thread; yields the port."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def live_server(app):
    """Serve the test's app over HTTP in a background thread; stop it after the test.

    ``SERVER_NAME`` is removed so links are built from the request's own host (``127.0.0.1:<port>``).
    Any exception a request raises fails the test, even if the page that got the 500 was never checked.
    """
    app.config["SERVER_NAME"] = None
    live = LiveServer(app=app, url="")

    def record(sender, exception, **extra):
        live.errors.append(exception)

    got_request_exception.connect(record, app, weak=False)
    try:
        with serving(app, "live-server") as port:
            live.url = f"http://127.0.0.1:{port}"
            yield live
    finally:
        got_request_exception.disconnect(record, app)
    assert not live.errors, f"the app raised while serving the browser: {live.errors!r}"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, launched once per session."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium not installed: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser, live_server):
    """Factory of browser contexts (separate visitors: own cookies, own storage) on the live server.

    Defaults: ``base_url`` of the live server and a desktop Chrome User-Agent. Keyword arguments go to
    ``browser.new_context``. All contexts are closed after the test, before the server stops.
    """
    contexts = []
    refused = []

    def watch(page):
        # Chromium reports every Content-Security-Policy refusal on the console ("Refused to ...").
        page.on("console", lambda message: refused.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)

    def make(**options):
        options.setdefault("base_url", live_server.url)
        options.setdefault("user_agent", DESKTOP_CHROME_UA)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not refused, "Content-Security-Policy violations:\n" + "\n".join(refused)


@dataclass
class EmbeddingSite:
    """Another website (another port on 127.0.0.1, so another origin) whose pages embed the widget.

    ``pages`` maps a path to ``(html, headers)``; :meth:`page` adds one. The live server's
    ``ADVOCACY_WIDGET_ORIGINS`` lists this site's origin unless a test takes it off.
    """

    origin: str
    pages: dict = field(default_factory=dict)

    def page(self, path: str, html: str, headers: dict | None = None) -> str:
        self.pages[path] = (html, headers or {})
        return self.origin + path


@pytest.fixture
def embedding_site(live_server):
    """Serve :class:`EmbeddingSite` pages from a second origin for the duration of a test."""
    from werkzeug.wrappers import Request
    from werkzeug.wrappers import Response

    site = EmbeddingSite(origin="")

    @Request.application
    def serve(request):
        if request.path not in site.pages:
            return Response("not found", status=404)
        html, headers = site.pages[request.path]
        mimetype = "text/css" if request.path.endswith(".css") else (
            "text/javascript" if request.path.endswith(".js") else "text/html")
        return Response(html, mimetype=mimetype, headers=headers)

    with serving(serve, "embedding-site") as port:
        site.origin = f"http://127.0.0.1:{port}"
        live_server.app.config["ADVOCACY_WIDGET_ORIGINS"] = (site.origin,)
        yield site
