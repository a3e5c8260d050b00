"""The demo app plus a trivial JSON endpoint, so the webhook benchmark's baseline runs in the same
gunicorn workers.

``gunicorn 'bench.webhook_app:create_bench_app()'`` from the repository root. Settings come from the
``DEMO_*`` environment variables, as for ``wsgi.create_app``.
"""

from __future__ import annotations

from flask import Flask
from flask import jsonify
from flask import request


def create_bench_app() -> Flask:
    """``wsgi.create_app()`` with ``POST /bench/ok``: reads the body and answers 200 JSON, nothing else."""
    from wsgi import create_app
    from wsgi import csrf

    app = create_app()

    @app.post("/bench/ok")
    @csrf.exempt
    def bench_ok():
        request.get_data()
        return jsonify({"received": True})

    return app
