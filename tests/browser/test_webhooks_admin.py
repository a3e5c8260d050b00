"""The outgoing-webhook staff pages in real headless Chromium: a staff member adds an endpoint, sends a
test event that a real receiver verifies, rotates the secret and replays a delivery. Every page is
looked at (``tests.browser.a11y.look_at``) at 1280 and 390 px: screenshot into test-artifacts/, axe-core
with no violation, nothing wider than the viewport."""

from __future__ import annotations

import re

import pytest
from standardwebhooks.webhooks import Webhook

from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.webhook_receiver import LOCAL_DELIVERY

BASE = "/advocacy/admin/webhooks/"


@pytest.mark.browser
@LOCAL_DELIVERY
def test_staff_add_test_rotate_and_replay(app, live_server, new_context, receiver):
    staff = make_customer(app, "ops@example.com", staff=True)
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, staff)

    page.goto(BASE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    expect(page.get_by_text("No endpoints yet")).to_be_visible()
    nav = page.get_by_role("navigation", name="Advocacy admin")
    expect(nav.get_by_role("link", name="Webhooks")).to_have_attribute("aria-current", "page")
    look_at(page, "webhooks-empty")

    page.get_by_role("link", name="Add endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add endpoint")
    page.get_by_role("textbox", name="URL").fill("https://127.0.0.1/hooks")
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = False
    page.get_by_role("button", name="Add endpoint").click()
    url_field = page.get_by_role("textbox", name="URL")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(url_field).to_have_accessible_description(re.compile("Refused: 127.0.0.1 is a loopback address"))
    look_at(page, "webhooks-form-refused")
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = True

    url_field.fill(receiver.url)
    page.get_by_role("textbox", name="Description").fill("CRM (HubSpot)")
    page.get_by_role("checkbox", name="referral.signed_up").check()
    page.get_by_role("checkbox", name="reward.held").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("CRM (HubSpot)")
    expect(page.get_by_role("status")).to_contain_text("Endpoint added")
    secret = page.locator('[data-secret="current"]').inner_text()
    assert secret.startswith("whsec_")

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_have_text("Test event delivered: the endpoint answered 200.")
    [payload] = receiver.verified(secret)
    assert payload["type"] == "webhook.test"

    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("status")).to_contain_text("signed with both secrets")
    new_secret = page.locator('[data-secret="current"]').inner_text()
    assert new_secret != secret
    expect(page.locator('[data-secret="previous"]')).to_have_text(secret)

    receiver.answer(410, "this hook is gone")
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_have_text("Test event not delivered: The endpoint answered 410.")
    request = receiver.requests[-1]
    Webhook(secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)
    expect(page.locator("[data-status]")).to_contain_text("The endpoint answered 410 Gone")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("[data-status]")).to_have_text("Enabled")

    failed = page.locator('li[data-state="failed"]')
    expect(failed.get_by_role("region")).to_contain_text("this hook is gone")
    look_at(page, "webhook-endpoint")
    failed.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_have_text("Replay delivered: the endpoint answered 200.")
    assert receiver.requests[-1].header("webhook-id") == request.header("webhook-id")

    page.get_by_role("link", name="All endpoints").click()
    expect(page.locator("li[data-endpoint]")).to_have_count(1)
    look_at(page, "webhooks-list")
    assert problems == []
