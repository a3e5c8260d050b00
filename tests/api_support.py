"""Builders of the back-office API tests: keys made through the service, a program with data in it."""

from __future__ import annotations

from dataclasses import dataclass

from advocacy_portal.testing import stripe_events
from tests.helpers import make_customer
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial

API = "/advocacy/api"
ALL_SCOPES = ["testimonials:read", "advocates:read", "referrals:read", "conversions:read", "rewards:read",
              "ledger:read"]


def make_key(app, scopes=ALL_SCOPES, name: str = "Back office", staff=None) -> str:
    """A key with ``scopes``, committed; returns its secret."""
    from advocacy_portal import Customer
    from advocacy_portal.db import get_session
    from advocacy_portal.services import api_keys

    staff = staff or make_customer(app, staff=True)
    with app.app_context():
        made = api_keys.create_key(name, list(scopes), Customer(id=str(staff.id), email=staff.email))
        get_session().commit()
        return made.secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Program:
    """What :func:`seed` made: two advocates, each with a referred friend who paid."""

    advocate_ids: list[int]
    referral_ids: list[int]
    payment_keys: list[str]
    testimonial_ids: list[int]


def seed(app) -> Program:
    """Two advocates whose friends paid 50.00 USD and 80.00 EUR (only USD is rewarded: 10 %), a third
    payment nobody referred, one published and one pending testimonial. ``app`` needs the webhook
    secret of :func:`tests.rewards_helpers.deliver` (the ``stripe_app`` fixture sets it)."""
    client = app.test_client()
    first, second = make_referral(app), make_referral(app, campaign="spring")
    keys = []
    for index, (referred, amount, currency) in enumerate([(first, 5000, "usd"), (second, 8000, "eur")]):
        intent = f"pi_api_seed_{index}"
        event = stripe_events.checkout_session_completed(
            amount_total=amount, currency=currency, metadata=referred.metadata,
            client_reference_id=str(referred.friend.id), payment_intent=intent,
        )
        assert deliver(client, event).status_code == 200
        keys.append(intent)
    stranger = make_customer(app)
    event = stripe_events.checkout_session_completed(
        amount_total=1200, client_reference_id=str(stranger.id), payment_intent="pi_api_seed_unattributed",
    )
    assert deliver(client, event).status_code == 200
    keys.append("pi_api_seed_unattributed")
    staff = make_customer(app, staff=True)
    published = make_testimonial(app, first.advocate, state="approved", staff=staff)
    pending = make_testimonial(app, second.advocate)
    return Program(
        advocate_ids=[first.advocate_id, second.advocate_id],
        referral_ids=[first.referral_id, second.referral_id],
        payment_keys=keys,
        testimonial_ids=[published, pending],
    )
