"""The demo app plus a bare redirect, so the benchmark's baseline runs in the same gunicorn workers.

``gunicorn 'bench.app:create_bench_app()'`` from the repository root. Settings come from the ``DEMO_*``
environment variables, as for ``wsgi.create_app``.
"""

from __future__ import annotations

from flask import Flask
from flask import redirect


def create_bench_app() -> Flask:
    """``wsgi.create_app()`` with ``GET /bench/bare-redirect``: a 302 to ``/signup`` that does no work."""
    from wsgi import create_app

    app = create_app()

    @app.get("/bench/bare-redirect")
    def bench_bare_redirect():
        return redirect("/signup", 302)

    return app
