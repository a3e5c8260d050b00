"""The API keys staff page in real headless Chromium at 1280 and 390 px: create a key, copy its secret
(shown once), use it, see its last use, revoke it; axe-core finds no violation and nothing is wider
than the window."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.browser.test_referral_flow import ARTIFACTS
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer

PAGE = "/advocacy/admin/api-keys/"


def check_page(page, name: str) -> None:
    """No axe-core violation, nothing wider than the window, and a full-page screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '.' + e.className)""")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def call_api(live_server, secret: str, path: str = "/advocacy/api/ledger-entries") -> int:
    request = urllib.request.Request(live_server.url + path, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_staff_create_use_and_revoke_a_key(app, live_server, new_context, width):
    staff = make_customer(app, staff=True, name="Sam Staff")
    context = new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, staff)

    page.goto(PAGE)
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    check_page(page, "api-keys-empty")

    page.get_by_role("button", name="Create key").click()  # nothing filled in
    expect(page.get_by_text("Give the key a name.")).to_be_visible()
    expect(page.get_by_text("Choose at least one scope.")).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()
    check_page(page, "api-keys-errors")

    page.get_by_label("Name").fill("Finance export")
    page.get_by_label("ledger:read", exact=False).check()
    page.get_by_label("rewards:read", exact=False).check()
    page.get_by_role("button", name="Create key").click()
    secret_box = page.get_by_label("Secret key")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("adv_live_") and len(secret) == 52
    expect(page.get_by_text("This is the only time it is shown")).to_be_visible()
    check_page(page, "api-keys-created")

    assert call_api(live_server, secret) == 200
    assert call_api(live_server, secret, "/advocacy/api/advocates") == 403  # not in its scopes
    page.goto(PAGE)
    assert secret not in page.content()  # shown once only
    card = page.locator("li[data-key]")
    expect(card.locator("[data-last-used]")).to_contain_text("UTC")
    expect(card).to_contain_text("ledger:read")

    page.get_by_role("button", name="Revoke the key Finance export").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    expect(page.get_by_role("heading", name="Finance export (revoked)")).to_be_visible()
    check_page(page, "api-keys-revoked")
    assert call_api(live_server, secret) == 401
    assert problems == []
