"""A shop that sells one-off payments, in real Chromium: the friend pays through the shop's
``mode="payment"`` Checkout on the local Stripe's hosted page (its webhook delivered over HTTP), the
advocate redeems the reward as a promotion code, copies it, and the code takes its amount off the
advocate's own next one-off checkout."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.services import rewards
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import WEBHOOK_PATH
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

REWARDS = "/advocacy/rewards/"


def buy(page, code: str | None = None) -> None:
    """The shop's Buy button, then the local Stripe's hosted Checkout page: a code typed, Pay."""
    page.goto("/buy")
    page.get_by_role("button", name="Buy the Pro plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay 99.00 USD")
    if code:
        page.get_by_label("Promotion code").fill(code)
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/\?paid=cs_test_"))


@pytest.mark.browser
@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_METHOD="promotion_code", REDEMPTION_MINIMUM_MINOR=500)
def test_a_friends_one_off_payment_becomes_a_code_that_takes_its_amount_off(
    stripe_app, live_server, new_context, fake_stripe
):
    fake_stripe.add_webhook_endpoint(live_server.url + WEBHOOK_PATH)
    referred = make_referral(stripe_app)

    # 1. The friend pays $99.00 through the shop's own Checkout, on the hosted page.
    friend = new_context().new_page()
    log_in(friend, referred.friend)
    buy(friend)
    (paid,) = [item for item in fake_stripe.objects("checkout.session") if item["status"] == "complete"]
    assert paid["amount_total"] == 9900 and paid["metadata"]["order"] == "pro-plan"
    assert paid["customer_email"] is None and paid["customer"]
    with stripe_app.app_context():
        assert rewards.release_due(now=later(31)).released == 1

    # 2. The advocate redeems the $9.90 reward as a promotion code and copies it.
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, referred.advocate)
    page.goto(REWARDS)
    page.get_by_role("link", name="Redeem $9.90 as a promotion code").click()
    expect(page.get_by_text("We will make you a promotion code worth $9.90.")).to_be_visible()
    look_at(page, "redeem-promotion-code")
    page.get_by_role("checkbox", name="I want a promotion code for this amount").check()
    page.get_by_role("button", name="Redeem").click()
    expect(page).to_have_url(live_server.url + REWARDS)
    (promotion,) = fake_stripe.objects("promotion_code")
    code = promotion["code"]
    expect(page.get_by_role("status").first).to_contain_text(f"Your promotion code for $9.90 is ready: {code}")
    codes = page.get_by_role("region", name="Your promotion codes")
    expect(codes.get_by_role("textbox")).to_have_value(code)
    codes.get_by_role("button", name="Copy code").click()
    expect(codes.get_by_role("status")).to_have_text("Code copied to your clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == code
    look_at(page, "rewards-promotion-code")

    # 3. The advocate's own next one-off checkout: the code takes $9.90 off, once.
    buy(page, code)
    mine = [item for item in fake_stripe.objects("checkout.session")
            if item["status"] == "complete" and item["customer"] == promotion["customer"]]
    assert [(item["amount_subtotal"], item["amount_total"]) for item in mine] == [(9900, 8910)]
    page.goto(REWARDS)
    expect(page.get_by_role("region", name="Redemptions")).to_contain_text(f"as a promotion code Code {code}: used at checkout")
    expect(page.get_by_role("region", name="Your promotion codes")).to_have_count(0)

    # The hosted page refuses the used code, as Stripe does.
    page.goto("/buy")
    page.get_by_role("button", name="Buy the Pro plan").click()
    page.get_by_label("Promotion code").fill(code)
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("alert")).to_have_text("This promotion code has expired.")
