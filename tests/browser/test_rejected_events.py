"""The staff payments page in Chromium with rejected Stripe events (a 5,000-character id, an amount beyond
64 bits, nested JSON) listed with their reasons, at 1280 and 390 px."""

from __future__ import annotations

import pytest

from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral
from advocacy_portal.testing import stripe_events

pytestmark = pytest.mark.browser


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_staff_see_rejected_events_with_their_reasons(stripe_app, live_server, new_context):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    good = stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata)
    assert deliver(client, good).get_json()["outcome"] == "applied"
    long_id = stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata)
    long_id["id"] = "evt_" + "x" * 5000
    huge = stripe_events.checkout_session_completed(amount_total=2**64, metadata=referred.metadata)
    deep = stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata)
    value = {"leaf": 1}
    for _ in range(40):
        value = {"next": value}
    deep["data"]["object"]["metadata"]["deep"] = value
    for event in (long_id, huge, deep):
        assert deliver(client, event).get_json()["outcome"] == "rejected"

    page = new_context().new_page()
    log_in(page, make_customer(stripe_app, "ops@example.com", staff=True))
    page.goto("/advocacy/admin/payments")
    expect(page.get_by_role("heading", name="Rejected Stripe events")).to_be_visible()
    rows = page.locator("#advocacy-rejected-events tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#advocacy-rejected-events")).to_contain_text("beyond 64 bits")
    expect(page.locator("#advocacy-rejected-events")).to_contain_text("not a Stripe id (5004 characters)")
    expect(page.locator("#advocacy-rejected-events")).to_contain_text("nests 45 levels deep")
    expect(page.locator(f'tr[data-event="{huge["id"]}"]')).to_contain_text("Rejected")
    # The good payment is still listed above, alone.
    expect(page.locator("table.advocacy-table").first.locator("tbody tr")).to_have_count(1)
    look_at(page, "admin-payments-rejected")
