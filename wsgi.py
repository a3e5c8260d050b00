"""Demo host app: a tiny shop with its own users, login and signup, and Advocacy Portal added.

Run it (see README)::

    flask --app wsgi advocacy seed-demo
    flask --app wsgi run

Every setting can be given as an environment variable prefixed ``DEMO_``, e.g.
``DEMO_SQLALCHEMY_DATABASE_URI=postgresql://...`` or ``DEMO_ADVOCACY_CLICK_DEDUPE_SECONDS=0``.

This module is the factory; the shop's parts are in ``demo/``: its extensions and user model, forms and
pages (``demo/templates/demo/``), seed data (``demo/seed.py``) and the local Stripe set-up
(``demo/stripe_cli.py``). ``db``, ``csrf``, ``portal`` and ``User`` are importable from here too.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import event

from demo.extensions import csrf
from demo.extensions import db
from demo.extensions import login_manager
from demo.extensions import portal
from demo.extensions import sqlite_pragmas
from demo.models import User
from demo.seed import seed_demo
from demo.stripe_cli import demo_stripe_defaults
from demo.stripe_cli import demo_stripe_setup
from demo.views import register_views

__all__ = ["User", "app", "create_app", "csrf", "db", "portal"]


def create_app(config: dict | None = None) -> Flask:
    """Build the demo shop. ``config`` overrides the defaults and ``DEMO_*`` environment variables."""
    app = Flask(__name__, instance_relative_config=True, template_folder="demo/templates",
                static_folder="demo/static")
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY="demo-secret-key-change-me",
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "demo.sqlite"),
        ADVOCACY_LANDING_URL="/signup",
        ADVOCACY_BASE_TEMPLATE="demo/layout.html",
        ADVOCACY_PROGRAM_NAME="Demo Shop referrals",
        ADVOCACY_BUSINESS_NAME="Demo Shop",
        ADVOCACY_OFFER_TEXT="Give friends a warm welcome to Demo Shop: share your link.",
        # The demo's "other website" is the same server under its twin host name (see /widget-demo).
        ADVOCACY_WIDGET_ORIGINS=("http://localhost:5000", "http://127.0.0.1:5000"),
        # The shop's own pages get the plugin's strict Content-Security-Policy and no framing too.
        ADVOCACY_CSP_HOST_PAGES=True,
    )
    demo_stripe_defaults(app)
    app.config.from_prefixed_env("DEMO")
    app.config.update(config or {})

    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "login"
    csrf.init_app(app)
    portal.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", sqlite_pragmas)

    register_views(app)
    app.cli.commands["advocacy"].add_command(seed_demo)
    demo_stripe_setup(app)
    return app


app = create_app()
