"""The webhook refuses payments that are no payments (zero, negative, an unknown currency): recorded as
rejected with the reason on the staff payments page, never counted, never rewarded; the overview's
figures add up."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Conversion
from advocacy_portal.models import Reward
from advocacy_portal.testing import stripe_events
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral

ADMIN = "/advocacy/admin"


def _money(text: str) -> int:
    """``"$1,234.56"`` / ``"-$3.00"`` → minor units."""
    sign = -1 if text.strip().startswith(("-", "\u2212")) else 1
    return sign * int(re.sub(r"[^0-9]", "", text))


def _row(page: str, table: str, currency: str) -> dict[str, int]:
    block = re.search(rf'data-table="{table}">(.*?)</table>', page, re.S).group(1)
    row = re.search(rf'<tr data-currency="{currency}">(.*?)</tr>', block, re.S).group(1)
    return {name: _money(value) for name, value in re.findall(r'data-[a-z]+="([a-z_]+)">([^<]*)<', row)}


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_zero_negative_and_unknown_currency_payments_are_refused_and_shown(stripe_app):
    webhook = stripe_app.test_client()
    referred = make_referral(stripe_app)
    good = stripe_events.checkout_session_completed(amount_total=10000, metadata=referred.metadata,
                                                    payment_intent="pi_good")
    assert deliver(webhook, good).get_json()["outcome"] == "applied"
    bad = {
        "zero": dict(amount_total=0),
        "negative": dict(amount_total=-500),
        "xyz": dict(amount_total=500, currency="xyz"),
        "XYZ": dict(amount_total=500, currency="XYZ"),
    }
    for name, fields in bad.items():
        other = make_referral(stripe_app)
        event = stripe_events.checkout_session_completed(metadata=other.metadata, **fields)
        event["data"]["object"]["amount_total"] = fields["amount_total"]
        answer = deliver(webhook, event)
        assert answer.status_code == 200, name
        assert answer.get_json()["outcome"] == "rejected", name
    with stripe_app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Conversion)) == 1
        assert get_session().scalar(select(func.count()).select_from(Reward)) == 1

    staff = stripe_app.test_client()
    login(staff, make_customer(stripe_app, "boss@example.com", staff=True))
    payments = staff.get(ADMIN + "/payments").get_data(as_text=True)
    assert "not a positive amount" in payments
    assert "A payment in XYZ, which is not a currency the program accepts." in payments
    overview = staff.get(ADMIN + "/").get_data(as_text=True)
    assert "data-currency=\"xyz\"" not in overview and "???" not in overview
    revenue = _row(overview, "revenue", "usd")
    assert revenue["total"] == 10000 and revenue["net"] == 10000
    assert revenue["total"] == revenue["attributed"] + (revenue["total"] - revenue["attributed"])


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, PAYMENT_CURRENCIES=("usd",))
def test_payment_currencies_limit_what_the_webhook_counts(stripe_app):
    webhook = stripe_app.test_client()
    referred = make_referral(stripe_app)
    answer = deliver(webhook, stripe_events.checkout_session_completed(
        amount_total=500, currency="eur", metadata=referred.metadata))
    assert answer.get_json()["outcome"] == "rejected"
    assert "EUR" in answer.get_json()["reason"]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_total_expense_includes_adjustments_and_adds_up(stripe_app):
    from advocacy_portal.services import referrals as referral_service
    from advocacy_portal.services import rewards

    webhook = stripe_app.test_client()
    referred = make_referral(stripe_app)
    deliver(webhook, stripe_events.checkout_session_completed(amount_total=20000, metadata=referred.metadata,
                                                             payment_intent="pi_cost"))
    staff_user = make_customer(stripe_app, "boss@example.com", staff=True)
    with stripe_app.app_context():
        advocate = referral_service.get_advocate(str(referred.advocate.id))
        rewards.post_adjustment(advocate, 500, "usd", "Goodwill", staff_user, idempotency_key="k" * 20)
        get_session().commit()
    staff = stripe_app.test_client()
    login(staff, staff_user)
    cost = _row(staff.get(ADMIN + "/rewards").get_data(as_text=True), "cost", "usd")
    assert cost["expense"] == 2000 and cost["adjustments"] == 500
    assert cost["total"] == 2500
    assert cost["total"] == cost["pending"] + cost["available"] + cost["reserved"] + cost["redeemed"]
