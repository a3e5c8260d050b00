"""Pytest fixtures for the fake Stripe API; import them into a conftest.py::

    from tests.stripe_fake.fixtures import fake_stripe, stripe_client  # noqa: F401

``stripe_client`` is a real :class:`stripe.StripeClient` pointed at the fake server, with no network retries and
a one-second timeout, so a hanging request fails fast with :class:`stripe.APIConnectionError`.
"""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_fake.server import FakeStripe

#: Seconds the test clients wait for an answer; FakeStripe.hang_next() should sleep longer than this.
STRIPE_TEST_TIMEOUT = 1.0


def make_stripe_client(server: FakeStripe, *, timeout: float = STRIPE_TEST_TIMEOUT,
                       api_key: str | None = None) -> tuple[stripe.StripeClient, stripe.HTTPClient]:
    """A StripeClient on ``server`` and its HTTP client (close it when done)."""
    http_client = stripe.RequestsClient(timeout=timeout)
    client = stripe.StripeClient(
        api_key or server.api_key,
        base_addresses={"api": server.base_url},
        max_network_retries=0,
        http_client=http_client,
    )
    return client, http_client


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
