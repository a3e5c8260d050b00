"""Pytest fixtures for the local Stripe-compatible server and a host app's own tests; load them as a
plugin in a conftest.py::

    pytest_plugins = ["advocacy_portal.testing.pytest_plugin"]

``stripe_client`` is a real :class:`stripe.StripeClient` pointed at the local server, with no network retries
and a one-second timeout, so a hanging request fails fast with :class:`stripe.APIConnectionError`.

``advocacy_tables`` and ``advocacy_stripe`` use the host's own ``app`` fixture (the pytest-flask name):
the plugin's tables created on its database (SQLite or PostgreSQL) and dropped after, and the app's Stripe
calls and webhook secret pointed at ``fake_stripe``.

This is the only module of :mod:`advocacy_portal.testing` that imports pytest.
"""

from __future__ import annotations

import pytest
import stripe

from advocacy_portal import migrate
from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET
from advocacy_portal.testing.stripe_server import STRIPE_TEST_TIMEOUT
from advocacy_portal.testing.stripe_server import FakeStripe
from advocacy_portal.testing.stripe_server import make_stripe_client


@pytest.fixture
def fake_stripe():
    """A started :class:`FakeStripe`, stopped after the test."""
    with FakeStripe() as server:
        yield server


@pytest.fixture
def stripe_client(fake_stripe):
    """A :class:`stripe.StripeClient` on ``fake_stripe``: no retries, a one-second timeout."""
    client, http_client = make_stripe_client(fake_stripe)
    yield client
    http_client.close()


@pytest.fixture
def stripe_globals(fake_stripe, monkeypatch):
    """Point the module-level ``stripe`` API (``stripe.Customer.create(...)``) at ``fake_stripe`` for one test."""
    http_client = stripe.RequestsClient(timeout=STRIPE_TEST_TIMEOUT)
    monkeypatch.setattr(stripe, "api_key", fake_stripe.api_key)
    monkeypatch.setattr(stripe, "api_base", fake_stripe.base_url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    monkeypatch.setattr(stripe, "default_http_client", http_client)
    yield fake_stripe
    http_client.close()


def use_fake_stripe(app, server: FakeStripe, webhook_secret: str = WEBHOOK_SECRET) -> None:
    """Point ``app``'s Stripe calls at ``server`` (test key, API base, one-second timeout) and make its
    webhook accept events signed with ``webhook_secret``."""
    app.config["ADVOCACY_STRIPE_SECRET_KEY"] = server.api_key
    app.config["ADVOCACY_STRIPE_API_BASE"] = server.base_url
    app.config["ADVOCACY_STRIPE_TIMEOUT_SECONDS"] = STRIPE_TEST_TIMEOUT
    app.config["ADVOCACY_STRIPE_WEBHOOK_SECRETS"] = [webhook_secret]


@pytest.fixture
def advocacy_tables(app):
    """The plugin's ``advocacy_*`` tables on the host app's database, migrated to head for one test and
    dropped after (``db.create_all()`` does not make them)."""
    migrate.upgrade(app)
    yield app
    with app.app_context():
        session = app.extensions["sqlalchemy"].session
        session.remove()
    migrate.downgrade(app, "base")


@pytest.fixture
def advocacy_stripe(app, fake_stripe):
    """The host app's Stripe calls going to ``fake_stripe`` and its webhook taking events signed with
    :data:`~advocacy_portal.testing.stripe_events.WEBHOOK_SECRET`; yields the server."""
    use_fake_stripe(app, fake_stripe)
    yield fake_stripe
