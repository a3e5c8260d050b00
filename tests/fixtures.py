"""The suite's fixtures, loaded as a plugin by ``tests/conftest.py``: the test host app
(:mod:`tests.host_app`, or the demo with ``@pytest.mark.demo``) on a fresh database per test, its clients,
``auth`` and ``stripe_app``.

The database is SQLite in a temporary folder, or PostgreSQL when ``ADVOCACY_TEST_DATABASE_URL`` is set
(``.ci/run`` runs the suite both ways). On PostgreSQL every test gets a schema of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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
    # synchronous_commit=off: a test's commits need not wait for the WAL to reach the disk (durability
    # against a crash of the server, which no test is about; atomicity and isolation are unchanged).
    yield f"{base}{separator}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


class _SharedBytecodeCache:
    """One in-process Jinja bytecode cache for every test app: each app has its own Jinja environment,
    and compiling the same templates again for every test cost about 0.2 s a test. Keyed by template
    name and checked against the source's checksum, so an edited or host-overridden template is
    compiled anew."""

    def __init__(self):
        from jinja2 import BytecodeCache

        class Cache(BytecodeCache):
            def __init__(self):
                self.codes = {}

            def load_bytecode(self, bucket):
                code = self.codes.get((bucket.key, bucket.checksum))
                if code is not None:
                    bucket.code = code

            def dump_bytecode(self, bucket):
                self.codes[(bucket.key, bucket.checksum)] = bucket.code

        self.cache = Cache()


_BYTECODE = _SharedBytecodeCache().cache

#: Migrated databases, one per host module and version table, made once per test process: a test's
#: database starts as a copy (SQLite: the file; PostgreSQL: the schema's DDL and rows replayed in a
#: new schema), which is what ``db.create_all()`` and ``migrate.upgrade`` made for every test before
#: (0.2 s a test on SQLite, 0.7 s on PostgreSQL). tests/test_migrations.py still runs the migrations.
_TEMPLATES: dict[tuple, str] = {}


def _schema_of(url: str) -> str:
    return re.search(r"search_path%3D(\w+)", url).group(1)


def _make_template(host, config: dict, directory) -> str:
    """Migrate one database for ``host`` and ``config``; answer a SQLite file's path or PostgreSQL SQL."""
    from advocacy_portal import migrate

    if ON_POSTGRES:
        schema = f"advocacy_template_{uuid.uuid4().hex[:12]}"
        base = sqlalchemy_url(TEST_DATABASE_URL)
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in base else "?"
        url = f"{base}{separator}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{directory / 'template.sqlite'}"
    app = host.create_app({**config, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        host.db.create_all()
    migrate.upgrade(app)
    with app.app_context():
        host.db.session.remove()
        host.db.engine.dispose()
    if not ON_POSTGRES:
        return str(directory / "template.sqlite")
    try:
        dump = subprocess.run(
            ["pg_dump", "--dbname", re.sub(r"^postgresql\+psycopg://", "postgresql://", base),
             "--schema", schema, "--no-owner", "--no-privileges", "--inserts"],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
    # psql meta-commands (\restrict) and the schema's own creation are not for a replay.
    lines = [line for line in dump.splitlines()
             if not line.startswith("\\") and not line.startswith(f"CREATE SCHEMA {schema};")]
    return "\n".join(lines).replace(f"{schema}.", "__SCHEMA__.")


def _start_from_template(url: str, host, config: dict, tmp_path_factory) -> None:
    key = (host.__name__, config.get("ADVOCACY_VERSION_TABLE"))
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _make_template(host, config, tmp_path_factory.mktemp("template"))
    template = _TEMPLATES[key]
    if not ON_POSTGRES:
        shutil.copyfile(template, url.removeprefix("sqlite:///"))
        return
    schema = _schema_of(url)
    engine = sa.create_engine(sqlalchemy_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(template.replace("__SCHEMA__.", f'"{schema}".').replace("%", "%%"))
    finally:
        engine.dispose()


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
def app(database_url, request, tmp_path_factory):
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
    template_config = dict(config)
    config.update(_settings(request))
    if "ADVOCACY_VERSION_TABLE" in config:
        template_config["ADVOCACY_VERSION_TABLE"] = config["ADVOCACY_VERSION_TABLE"]
    _start_from_template(database_url, host, template_config, tmp_path_factory)
    app = host.create_app(config)
    app.jinja_env.bytecode_cache = _BYTECODE
    migrate.upgrade(app)  # at head already: checks the copy and costs one query
    yield app
    from advocacy_portal.services import click_writer

    # A flusher thread left polling a dropped database would compile and fail every 50 ms for the rest
    # of the run (and trips CPython 3.11's AST check in whatever test compiles at that moment).
    writer = click_writer.get_portal_writer(app)
    if writer is not None:
        writer.stop()
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
