"""Pytest fixtures for the local Stripe-compatible server; load them as a plugin in a conftest.py::

    pytest_plugins = ["advocacy_portal.testing.pytest_plugin"]

``stripe_client`` is a real :class:`stripe.StripeClient` pointed at the local server, with no network retries
and a one-second timeout, so a hanging request fails fast with :class:`stripe.APIConnectionError`.

This is the only module of :mod:`advocacy_portal.testing` that imports pytest.
"""

from __future__ import annotations

import pytest
import stripe

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
