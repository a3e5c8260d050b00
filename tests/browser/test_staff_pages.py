"""Every staff page this part of issue #14 touched, with data, in Chromium at 1280 and 390 px (axe,
contrast, no overflow): overview, payments with a refused payment, rewards, an advocate with a
negative balance and the adjustment confirmation, the fraud queue (approve with a reason), the audit
log, the export page and the moderation queue and item."""

from __future__ import annotations

import pytest

from advocacy_portal.db import get_session
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial

pytestmark = [pytest.mark.browser, pytest.mark.settings(REWARD_RULES=PERCENT_RULES)]
ADMIN = "/advocacy/admin"


def _shop(app):
    """Payments (one refused), a held reward, an adjustment with an emoji, testimonials."""
    webhook = app.test_client()
    boss = make_customer(app, "ops@example.com", staff=True)
    referred = make_referral(app)
    deliver(webhook, stripe_events.checkout_session_completed(
        amount_total=12000, metadata=referred.metadata, client_reference_id=str(referred.friend.id)))
    advocate = make_customer(app, "very.long.advocate.address.for.narrow.screens@example.com")
    friend = make_customer(app, "friend@mailinator.com")
    with app.app_context():
        from advocacy_portal.models import utcnow
        from advocacy_portal.services.links import AttributionClaim

        row = referral_service.ensure_advocate(advocate.id, advocate.email)
        referral_service.attribute_signup(friend.id, friend.email, AttributionClaim(row.code, None, None, utcnow()))
        get_session().commit()
        held_metadata = {"advocacy_user_id": str(friend.id)}
        advocate_id = row.id
    deliver(webhook, stripe_events.checkout_session_completed(amount_total=8000, metadata=held_metadata))
    bad = stripe_events.checkout_session_completed(amount_total=500, currency="xyz", metadata=referred.metadata)
    assert deliver(webhook, bad).get_json()["outcome"] == "rejected"
    with app.app_context():
        found = referral_service.get_advocate(str(referred.advocate.id))
        rewards.post_adjustment(found, -5000, "usd", "Duplicate reward reversed 🎉", boss, idempotency_key="b" * 20)
        get_session().commit()
    author = make_customer(app)
    make_testimonial(app, author, body="Great service, the team answered within minutes and fixed the "
                     "problem for good. Recommended to everyone who asked me about it. 🚀")
    return boss, referred, advocate_id


def test_every_staff_page_with_data_at_1280_and_390(stripe_app, live_server, new_context):
    boss, referred, held_advocate = _shop(stripe_app)
    page = new_context().new_page()
    log_in(page, boss)

    page.goto(ADMIN + "/")
    expect(page.locator('dd[data-figure="fraud-held"]')).to_have_text("1")
    look_at(page, "admin-overview")

    page.goto(ADMIN + "/payments")
    expect(page.locator("[data-payer]").first).not_to_have_text("")
    expect(page.locator("#advocacy-rejected-events")).to_contain_text("XYZ, which is not a currency")
    expect(page.get_by_text("friend@mailinator.com").first).to_be_visible()
    look_at(page, "admin-payments")

    page.goto(ADMIN + "/rewards")
    expect(page.locator("body")).not_to_contain_text("Advocate #")
    look_at(page, "admin-rewards")

    with stripe_app.app_context():
        advocate_id = referral_service.get_advocate(str(referred.advocate.id)).id
    page.goto(f"{ADMIN}/advocates/{advocate_id}")
    expect(page.locator('td.advocacy-negative[data-balance="available"]')).to_contain_text("-$50.00")
    look_at(page, "admin-advocate-negative")
    page.get_by_label("Amount").fill("-20")
    page.get_by_label("Reason").fill("Second duplicate")
    page.get_by_role("button", name="Post adjustment").click()
    expect(page.get_by_role("heading", name="Confirm the adjustment")).to_be_visible()
    expect(page.locator('[data-preview="resulting"]')).to_have_text("-$70.00")
    look_at(page, "admin-adjust-confirm")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Confirm and post -$20.00").click()
    expect(page.get_by_text("Adjustment of -$20.00 posted.")).to_be_visible()

    page.goto(ADMIN + "/fraud")
    card = page.locator("li[data-state='held']")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("A disposable email address")
    look_at(page, "admin-fraud-queue")
    page.set_viewport_size({"width": 1280, "height": 900})
    card.get_by_label("Reason").fill("Checked with the customer")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").or_(page.locator(".advocacy-flash")).first).to_contain_text("approved")
    page.goto(ADMIN + "/fraud?state=approved")
    expect(page.locator("li[data-state='approved']")).to_contain_text("Checked with the customer")

    page.goto(ADMIN + "/audit")
    expect(page.locator("body")).not_to_contain_text("\\ud83")
    expect(page.locator("body")).not_to_contain_text('{"')
    expect(page.locator("li[data-action='ledger.adjust']", has_text="Duplicate reward reversed 🎉")).to_have_count(1)
    expect(page.locator("li[data-action='fraud.approve'] tr[data-field='state']")).to_contain_text("Held for review")
    look_at(page, "admin-audit")
    page.goto(ADMIN + "/audit?who=nobody&start=2001-01-01&end=2001-01-02")
    expect(page.get_by_text("Nothing recorded with these filters.")).to_be_visible()

    page.goto(ADMIN + "/export")
    expect(page.locator('[data-rows="conversions"]')).to_have_text("2")
    look_at(page, "admin-export")

    page.goto("/advocacy/admin/testimonials")
    expect(page.locator("link[href$='advocacy-admin.css']")).to_have_count(1)
    expect(page.locator(".advocacy-queue tbody tr")).to_have_count(1)
    # The quote's column keeps a readable width at 390 px (not one word per line).
    page.set_viewport_size({"width": 390, "height": 900})
    width = page.locator(".advocacy-queue tbody tr td").nth(1).evaluate("cell => cell.getBoundingClientRect().width")
    assert width >= 200
    look_at(page, "admin-moderation-queue")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator(".advocacy-queue tbody tr a").first.click()
    expect(page.locator("link[href$='advocacy-admin.css']")).to_have_count(1)
    look_at(page, "admin-moderation-item")
