"""The suite's fixtures, loaded as a plugin by ``tests/conftest.py``: the test host app
(:mod:`tests.host_app`, or the demo with ``@pytest.mark.demo``) on a fresh database per test, its clients,
``auth`` and ``stripe_app``.

The database is SQLite in a temporary folder, or PostgreSQL when ``ADVOCACY_TEST_DATABASE_URL`` is set
(``.ci/run`` runs the suite both ways). On PostgreSQL every test gets a schema of its own.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
import sqlalchemy as sa

from advocacy_portal.config import DEFAULTS
from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET

TEST_DATABASE_URL = os.environ.get("ADVOCACY_TEST_DATABASE_URL")
ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgres"))

needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="PostgreSQL only: set ADVOCACY_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test",
)


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy's default driver is psycopg2)."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


@pytest.fixture
def database_url(tmp_path):
    """A fresh, empty database for one test."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'advocacy-test.sqlite'}"
        return
    base = sqlalchemy_url(TEST_DATABASE_URL)
    schema = f"advocacy_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def _settings(request) -> dict:
    config = {}
    for marker in request.node.iter_markers("settings"):
        for key, value in marker.kwargs.items():
            config.setdefault(f"ADVOCACY_{key}" if key in DEFAULTS else key, value)
    return config


def host_module(request):
    """The module of the host app a test runs on: :mod:`tests.host_app`, or ``wsgi`` (the demo) for tests
    marked ``@pytest.mark.demo``. Both have ``create_app``, ``db`` and ``User``."""
    if request.node.get_closest_marker("demo") is not None:
        import wsgi

        return wsgi
    from tests import host_app

    return host_app


@pytest.fixture
def app(database_url, request):
    """The test host app (:mod:`tests.host_app`) with Advocacy Portal, migrated, on a fresh database; the
    demo (``wsgi.create_app``) instead for tests marked ``@pytest.mark.demo``.

    ``@pytest.mark.settings(KEY=value)`` sets config for one test; ``ADVOCACY_`` settings may be given
    without their prefix.
    """
    from advocacy_portal import migrate

    host = host_module(request)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SERVER_NAME": "shop.test",
        # make_customer() makes up look-alike addresses (customer1-..., customer2-...): the similar-email
        # fraud rule is tested on its own (tests/services/test_fraud.py).
        "ADVOCACY_FRAUD_SIMILAR_EMAIL_RATIO": None,
    }
    config.update(_settings(request))
    app = host.create_app(config)
    with app.app_context():
        host.db.create_all()
    migrate.upgrade(app)
    yield app
    with app.app_context():
        host.db.session.remove()
        host.db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Log in and out through the host's real forms (flaskr's ``auth`` fixture)."""

    def __init__(self, client):
        self._client = client

    def login(self, user, password: str | None = None):
        """Log ``user`` (from :func:`tests.helpers.make_customer`) in; returns the login response (a 302)."""
        from tests.helpers import PASSWORD
        from tests.helpers import login

        return login(self._client, user, password or PASSWORD)

    def logout(self):
        from tests.helpers import csrf_token

        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


@pytest.fixture
def auth(client):
    """``auth.login(user)`` and ``auth.logout()`` on the test's ``client``."""
    return AuthActions(client)


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def stripe_app(app, fake_stripe, request):
    """The test's app, its Stripe calls going to ``fake_stripe`` and its webhook signed with
    :data:`WEBHOOK_SECRET` (unless the test's ``settings`` marker set other secrets)."""
    app.config["ADVOCACY_STRIPE_SECRET_KEY"] = fake_stripe.api_key
    app.config["ADVOCACY_STRIPE_API_BASE"] = fake_stripe.base_url
    app.config["ADVOCACY_STRIPE_TIMEOUT_SECONDS"] = 1
    if not any("STRIPE_WEBHOOK_SECRETS" in marker.kwargs for marker in request.node.iter_markers("settings")):
        app.config["ADVOCACY_STRIPE_WEBHOOK_SECRETS"] = [WEBHOOK_SECRET]
    return app


@pytest.fixture
def smtp(app):
    """A local SMTP server (aiosmtpd) the app's mail goes to: ``smtp.messages`` is what it received."""
    from tests.testimonials_support import start_smtp_sink

    sink, controller = start_smtp_sink()
    app.config.update(ADVOCACY_MAIL_SERVER="127.0.0.1", ADVOCACY_MAIL_PORT=sink.port,
                      ADVOCACY_MAIL_SENDER="shop@shop.test")
    yield sink
    controller.stop()
