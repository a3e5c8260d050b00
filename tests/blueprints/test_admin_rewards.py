"""Staff pages of the rewards program: revenue, payments, reward cost, adjustments, audit log."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.services import referrals as referral_service
from advocacy_portal.testing import stripe_events
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral

ADMIN = "/advocacy/admin"


def _cell(page: str, table: str, currency: str, name: str) -> str:
    block = re.search(rf'data-table="{table}">(.*?)</table>', page, re.S)
    assert block, f"no table {table}"
    row = re.search(rf'<tr data-currency="{currency}">(.*?)</tr>', block.group(1), re.S)
    assert row, f"no {currency} row in {table}"
    cell = re.search(rf'data-[a-z]+="{name}">([^<]*)<', row.group(1))
    assert cell, f"no {name} cell"
    return cell.group(1)


@pytest.fixture
def staff(stripe_app):
    client = stripe_app.test_client()
    login(client, make_customer(stripe_app, "boss@example.com", staff=True))
    return client


@pytest.fixture
def payments(stripe_app):
    """One referred payment of $200 (partly refunded: $50) and one unreferred payment of $300."""
    referred = make_referral(stripe_app)
    client = stripe_app.test_client()
    paid = stripe_events.checkout_session_completed(
        amount_total=20000, metadata=referred.metadata, client_reference_id=str(referred.friend.id),
        payment_intent="pi_referred_1",
    )
    assert deliver(client, paid).status_code == 200
    refund = stripe_events.charge_refunded(amount=20000, amount_refunded=5000, payment_intent="pi_referred_1",
                                    metadata=referred.metadata)
    assert deliver(client, refund).status_code == 200
    stranger = make_customer(stripe_app)
    other = stripe_events.checkout_session_completed(
        amount_total=30000, client_reference_id=str(stranger.id), payment_intent="pi_direct_1"
    )
    assert deliver(client, other).status_code == 200
    return referred


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_overview_shows_referral_revenue_against_all_revenue(staff, payments):
    page = staff.get(ADMIN + "/").get_data(as_text=True)
    assert _cell(page, "revenue", "usd", "total") == "$500.00"
    assert _cell(page, "revenue", "usd", "attributed") == "$200.00"
    assert _cell(page, "revenue", "usd", "share") == "40.0 %"
    assert _cell(page, "revenue", "usd", "net") == "$450.00"
    assert _cell(page, "revenue", "usd", "attributed_net") == "$150.00"
    # 10 % of $200, reduced in proportion to the $50 refund: $15 pending.
    assert _cell(page, "cost", "usd", "pending") == "$15.00"
    old = staff.get(ADMIN + "/?start=2001-01-01&end=2001-12-31").get_data(as_text=True)
    assert "No payments in this period." in old


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_payments_list_filters_by_attribution_and_stripe_id(staff, payments):
    everything = staff.get(ADMIN + "/payments").get_data(as_text=True)
    assert 'data-payment="pi_referred_1"' in everything and 'data-payment="pi_direct_1"' in everything
    referred = staff.get(ADMIN + "/payments?attributed=yes").get_data(as_text=True)
    assert 'data-payment="pi_referred_1"' in referred and 'data-payment="pi_direct_1"' not in referred
    assert "Rewarded" in referred and "$50.00" in referred  # the refund
    direct = staff.get(ADMIN + "/payments?attributed=no").get_data(as_text=True)
    assert 'data-payment="pi_direct_1"' in direct and "Not referred" in direct
    found = staff.get(ADMIN + "/payments?q=pi_direct_1").get_data(as_text=True)
    assert 'data-payment="pi_direct_1"' in found and 'data-payment="pi_referred_1"' not in found
    assert staff.get(ADMIN + "/payments?page=x&attributed=maybe&currency=<b>").status_code == 200


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_an_adjustment_needs_a_reason_posts_once_and_is_audited(stripe_app, staff, payments):
    with stripe_app.app_context():
        advocate_id = referral_service.get_advocate(str(payments.advocate.id)).id
    page_url = f"{ADMIN}/advocates/{advocate_id}"
    token = csrf_token(staff, page_url)
    nonce = re.search(r'name="advocacy-adjust-nonce" type="hidden" value="([^"]+)"',
                      staff.get(page_url).get_data(as_text=True)).group(1)
    form = {"advocacy-adjust-csrf_token": token, "advocacy-adjust-nonce": nonce,
            "advocacy-adjust-amount": "7.50", "advocacy-adjust-currency": "USD", "advocacy-adjust-reason": ""}

    missing_reason = staff.post(page_url + "/adjust", data=form)
    assert missing_reason.status_code == 400
    assert "Say why: the advocate sees this reason." in missing_reason.get_data(as_text=True)

    too_precise = staff.post(page_url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": "1.005",
                                                                       "advocacy-adjust-reason": "x"}))
    assert too_precise.status_code == 400 and "2 decimal places at most" in too_precise.get_data(as_text=True)

    form["advocacy-adjust-reason"] = "Goodwill for a delayed payout"
    done = staff.post(page_url + "/adjust", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Adjustment of $7.50 posted." in done
    assert _cell(done, "balances", "usd", "available") == "$7.50"
    again = staff.post(page_url + "/adjust", data=form, follow_redirects=True).get_data(as_text=True)
    assert _cell(again, "balances", "usd", "available") == "$7.50"  # the same form twice: posted once
    assert flat(advocate_balances(stripe_app, advocate_id))["available"] == 750

    audit_page = staff.get(ADMIN + "/audit?action=ledger.").get_data(as_text=True)
    assert audit_page.count('data-action="ledger.adjust"') == 1
    assert "boss@example.com" in audit_page and "Goodwill for a delayed payout" in audit_page
    rewards_page = staff.get(ADMIN + "/rewards").get_data(as_text=True)
    assert "Goodwill for a delayed payout" in rewards_page and "$7.50" in rewards_page

    # The advocate reads the reason in their own history.
    advocate_client = stripe_app.test_client()
    login(advocate_client, payments.advocate)
    history = advocate_client.get("/advocacy/rewards/").get_data(as_text=True)
    assert "Adjustment by our team: Goodwill for a delayed payout" in history


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_debit_may_take_the_balance_below_zero(stripe_app, staff, payments):
    with stripe_app.app_context():
        advocate_id = referral_service.get_advocate(str(payments.advocate.id)).id
    page_url = f"{ADMIN}/advocates/{advocate_id}"
    token = csrf_token(staff, page_url)
    form = {
        "advocacy-adjust-csrf_token": token, "advocacy-adjust-nonce": "n" * 20,
        "advocacy-adjust-amount": "-3", "advocacy-adjust-currency": "usd",
        "advocacy-adjust-reason": "Duplicate reward reversed",
    }
    # A debit comes back as a confirmation step first, with the balance it leads to.
    step = staff.post(page_url + "/adjust", data=form).get_data(as_text=True)
    assert 'data-preview="resulting">-$3.00<' in step and "goes below zero" in step
    assert flat(advocate_balances(stripe_app, advocate_id))["available"] == 0
    page = staff.post(page_url + "/adjust", data=dict(form, **{"advocacy-adjust-confirmed": "yes"}),
                      follow_redirects=True).get_data(as_text=True)
    assert _cell(page, "balances", "usd", "available") == "-$3.00"
    assert 'advocacy-negative" data-balance="available"' in page


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_forged_or_foreign_adjustments_are_refused(stripe_app, staff, payments):
    with stripe_app.app_context():
        advocate_id = referral_service.get_advocate(str(payments.advocate.id)).id
    no_csrf = staff.post(f"{ADMIN}/advocates/{advocate_id}/adjust", data={"advocacy-adjust-amount": "5"})
    assert no_csrf.status_code == 400
    customer = stripe_app.test_client()
    login(customer, payments.advocate)
    their_token = csrf_token(customer, "/advocacy/")
    forged = {"advocacy-adjust-csrf_token": their_token, "csrf_token": their_token,
              "advocacy-adjust-amount": "5", "advocacy-adjust-currency": "usd",
              "advocacy-adjust-reason": "mine", "advocacy-adjust-nonce": "n" * 20}
    assert customer.post(f"{ADMIN}/advocates/{advocate_id}/adjust", data=forged).status_code == 403
    staff_token = csrf_token(staff, ADMIN + "/")
    assert staff.post(f"{ADMIN}/advocates/987654/adjust", data=dict(forged, **{
        "advocacy-adjust-csrf_token": staff_token, "csrf_token": staff_token})).status_code == 404
    assert flat(advocate_balances(stripe_app, advocate_id))["available"] == 0
