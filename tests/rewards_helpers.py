"""Builders of the rewards and Stripe tests: referrals, signed deliveries, ledger snapshots.

The ``stripe_app`` fixture is in :mod:`tests.fixtures`, ``fake_stripe`` in
:mod:`advocacy_portal.testing.pytest_plugin`.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

from sqlalchemy import select

from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET
from advocacy_portal.testing.stripe_events import signed_request
from tests.helpers import make_customer

WEBHOOK_PATH = "/advocacy/webhooks/stripe"

#: The rule most tests use: 10% of the first payment, in USD.
PERCENT_RULES = {
    "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                "min_purchase_minor": 0, "monthly_cap_minor": None, "friend_reward": None},
    "campaigns": {},
}


def deliver(client, event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """POST ``event`` to the webhook as Stripe would, signed with ``secret``."""
    body, headers = signed_request(event, secret, timestamp)
    return client.post(WEBHOOK_PATH, data=body, headers=headers)


class Referred:
    """An advocate and a friend they referred."""

    def __init__(self, advocate, friend, advocate_id: int, referral_id: int):
        self.advocate = advocate
        self.friend = friend
        self.advocate_id = advocate_id
        self.referral_id = referral_id

    @property
    def metadata(self) -> dict:
        return {"advocacy_user_id": str(self.friend.id)}


def make_referral(app, campaign: str | None = None, advocate=None, friend_email: str | None = None) -> Referred:
    """A host user who is an advocate, and a friend (``friend_email``, or a made-up one) who signed up
    through their link."""
    from advocacy_portal.db import get_session
    from advocacy_portal.models import utcnow
    from advocacy_portal.services import referrals
    from advocacy_portal.services.links import AttributionClaim

    advocate = advocate or make_customer(app)
    friend = make_customer(app, friend_email)
    with app.app_context():
        advocate_row = referrals.ensure_advocate(advocate.id, advocate.email)
        claim = AttributionClaim(advocate_row.code, campaign, None, utcnow())
        result = referrals.attribute_signup(friend.id, friend.email, claim)
        get_session().commit()
        return Referred(advocate, friend, advocate_row.id, result.referral.id)


def snapshot(app) -> dict:
    """Every account balance and the number of transactions: two ledgers with equal snapshots hold
    the same money in the same places."""
    from advocacy_portal.db import get_session
    from advocacy_portal.models import LedgerAccount
    from advocacy_portal.services import ledger

    with app.app_context():
        balances = {
            (account.owner, account.kind, account.currency): account.balance_minor
            for account in get_session().scalars(select(LedgerAccount))
            if account.balance_minor != 0
        }
        assert ledger.verify() == []
        return balances


def advocate_balances(app, advocate_id: int) -> dict:
    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate
    from advocacy_portal.services import ledger

    with app.app_context():
        return ledger.balances(get_session().get(Advocate, advocate_id))


def flat(balances: dict, currency: str = "usd") -> dict:
    """``{"pending": 500, "available": 0, ...}`` of one currency."""
    return {kind: amounts.get(currency, 0) for kind, amounts in balances.items()}


def later(days: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)
