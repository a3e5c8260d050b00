"""The customer's rewards page: balances, history with reasons, and redemption with confirmation."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

REWARDS = "/advocacy/rewards/"


def _balance(page: str, state: str, currency: str = "usd") -> str:
    row = re.search(rf'<dl class="advocacy-stats" data-currency="{currency}"(.*?)</dl>', page, re.S)
    assert row, "no balance figures"
    cell = re.search(rf'data-total="{state}">([^<]*)<', row.group(1))
    return cell.group(1) if cell else "$0.00"


def _pay(app, referred, amount=12000):
    event = stripe_events.checkout_session_completed(
        amount_total=amount, metadata=referred.metadata, client_reference_id=str(referred.friend.id)
    )
    assert deliver(app.test_client(), event).status_code == 200


def _release(app):
    with app.app_context():
        rewards.release_due(now=later(31))


@pytest.fixture
def advocate_client(stripe_app):
    referred = make_referral(stripe_app)
    client = stripe_app.test_client()
    login(client, referred.advocate)
    return client, referred


def test_anonymous_visitors_are_sent_to_log_in(app):
    response = app.test_client().get(REWARDS)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=500)
def test_a_friends_payment_shows_as_a_pending_reward_with_its_reason(stripe_app, advocate_client):
    client, referred = advocate_client
    empty = client.get(REWARDS).get_data(as_text=True)
    assert "No rewards yet" in empty

    _pay(stripe_app, referred, 12000)
    page = client.get(REWARDS).get_data(as_text=True)
    assert _balance(page, "pending") == "$12.00"
    assert _balance(page, "available") == "$0.00"
    assert re.search(r"\$12\.00 for .*’s payment</span>\s*<span class=\"advocacy-nowrap\" data-available-on>available on <time", page)
    assert "You earn 10% of what each friend pays, for their first payment." in page
    assert "Reward for a friend’s payment" in page
    masked = referred.friend.email[0] + "***@" + referred.friend.email.split("@")[1]
    assert masked in page and referred.friend.email not in page
    assert "payment of $120.00" in page and "10% of the payment" in page
    assert "/advocacy/rewards/redeem" not in page  # nothing available yet
    assert client.get(REWARDS).headers["Cache-Control"] == "private, no-store"


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=500)
def test_a_released_reward_is_redeemed_once_as_account_credit(stripe_app, advocate_client, fake_stripe):
    client, referred = advocate_client
    _pay(stripe_app, referred, 12000)
    _release(stripe_app)
    page = client.get(REWARDS).get_data(as_text=True)
    assert _balance(page, "available") == "$12.00"
    assert "Redeem $12.00 as account credit" in page

    confirm = client.get(REWARDS + "redeem?currency=usd").get_data(as_text=True)
    assert "<strong data-amount>$12.00</strong>" in confirm
    token = csrf_token(client, REWARDS + "redeem?currency=usd")
    form = {"advocacy-redeem-csrf_token": token, "advocacy-redeem-currency": "usd",
            "advocacy-redeem-amount_minor": "1200"}

    unconfirmed = client.post(REWARDS + "redeem", data=form)
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in unconfirmed.get_data(as_text=True)

    form["advocacy-redeem-confirm"] = "y"
    done = client.post(REWARDS + "redeem", data=form, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "$12.00 is now credit on your account" in page
    assert _balance(page, "available") == "$0.00" and _balance(page, "redeemed") == "$12.00"
    # One line per step, and one per redemption: the redemption's "reserved → redeemed" step does not
    # repeat its amount (the list of redemptions says how it ended).
    assert [page.count(f'data-reason="{reason}"') for reason in
            ("reward.accrue", "reward.release", "redemption.reserve", "redemption.confirm")] == [1, 1, 1, 0]
    history = page[page.index('id="advocacy-history-heading"'):]
    assert history.count("$12.00") == 3  # +12.00 earned, 12.00 now available, −12.00 redeemed
    assert history.count('class="advocacy-amount--plus"') == 1 and history.count('class="advocacy-amount--minus"') == 1
    assert page.count('data-redemption-state="completed"') == 1 and "Credited to your account" in page
    assert _balance(page, "earned") == "$12.00"
    credits = fake_stripe.requests_to("/v1/customers/*/balance_transactions", method="POST")
    assert [request.params["amount"] for request in credits] == ["-1200"]

    # The same form sent again (a double click, the back button) redeems nothing more.
    again = client.post(REWARDS + "redeem", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Your available balance changed" in again
    assert len(fake_stripe.requests_to("/v1/customers/*/balance_transactions", method="POST")) == 1


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=5000)
def test_below_the_minimum_there_is_nothing_to_redeem(stripe_app, advocate_client):
    client, referred = advocate_client
    _pay(stripe_app, referred, 12000)
    _release(stripe_app)
    page = client.get(REWARDS).get_data(as_text=True)
    assert "$12.00 of the $50.00 you need to redeem" in page
    assert '<progress id="advocacy-progress-usd" class="advocacy-progress" max="5000" value="1200">' in page
    assert "$38.00 to go" in page
    refused = client.get(REWARDS + "redeem?currency=usd", follow_redirects=True).get_data(as_text=True)
    assert "There is nothing to redeem in that currency yet." in refused


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=500)
def test_a_slow_payment_provider_keeps_the_money_reserved(stripe_app, advocate_client, fake_stripe):
    client, referred = advocate_client
    _pay(stripe_app, referred, 12000)
    _release(stripe_app)
    fake_stripe.hang_next("POST", "/v1/customers/*/balance_transactions", seconds=3, apply=False)
    token = csrf_token(client, REWARDS + "redeem?currency=usd")
    page = client.post(
        REWARDS + "redeem",
        data={"advocacy-redeem-csrf_token": token, "advocacy-redeem-currency": "usd",
              "advocacy-redeem-amount_minor": "1200", "advocacy-redeem-confirm": "y"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "it cannot be added twice" in page
    assert _balance(page, "reserved") == "$12.00" and _balance(page, "available") == "$0.00"
    assert 'data-redemption-state="unknown"' in page


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_customers_see_only_their_own_rewards(stripe_app, advocate_client):
    _client, referred = advocate_client
    _pay(stripe_app, referred, 12000)
    other = stripe_app.test_client()
    login(other, make_customer(stripe_app))
    page = other.get(REWARDS).get_data(as_text=True)
    assert "No rewards yet" in page and "$12.00" not in page


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_forged_redeem_form_is_refused(stripe_app, advocate_client):
    client, _referred = advocate_client
    no_csrf = client.post(REWARDS + "redeem", data={"advocacy-redeem-currency": "usd",
                                                    "advocacy-redeem-amount_minor": "100",
                                                    "advocacy-redeem-confirm": "y"})
    assert no_csrf.status_code == 400 and "expired" in no_csrf.get_data(as_text=True)
    token = csrf_token(client, REWARDS)
    mangled = client.post(REWARDS + "redeem", data={"advocacy-redeem-csrf_token": token,
                                                    "advocacy-redeem-currency": "<script>",
                                                    "advocacy-redeem-amount_minor": "-5",
                                                    "advocacy-redeem-confirm": "y"})
    assert mangled.status_code == 400
    assert "<script>" not in mangled.get_data(as_text=True)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_the_history_says_refunded_or_disputed_not_either(stripe_app, advocate_client):
    client, referred = advocate_client
    webhook = stripe_app.test_client()
    pi = f"pi_{referred.referral_id}_1"
    deliver(webhook, stripe_events.checkout_session_completed(amount_total=5000, payment_intent=pi,
                                                              metadata=referred.metadata))
    deliver(webhook, stripe_events.charge_refunded(amount=5000, amount_refunded=1000, payment_intent=pi,
                                                   charge_id="ch_refund_1"))
    deliver(webhook, stripe_events.charge_dispute_created(charge="ch_refund_1", payment_intent=pi))
    page = client.get(REWARDS).get_data(as_text=True)
    assert "Reward reduced: part of the payment was refunded" in page
    assert "Reward reduced: the payment is disputed (on hold until the dispute is decided)" in page
    assert "refunded or disputed" not in page
    assert page.count('class="advocacy-amount--minus"') == 2
