"""The referral flow in real headless Chromium: copy the link, a friend follows it and signs up.

Run with ``pytest tests/browser`` (SQLite) or with ``ADVOCACY_TEST_DATABASE_URL`` set (PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest

from tests.helpers import PASSWORD
from tests.helpers import make_customer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def log_in(page, customer, password: str = PASSWORD) -> None:
    """Log in through the host's real login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def link_pattern(live_server) -> re.Pattern:
    return re.compile(re.escape(live_server.url) + r"/r/[A-Za-z0-9_.-]+")


def stat(page, name: str):
    return page.locator(f'dd[data-stat="{name}"]')


def referral_link(live_server, customer) -> str:
    """The customer's referral link as the live server builds it (same host and port)."""
    from advocacy_portal.db import get_session
    from advocacy_portal import get_portal

    app = live_server.app
    with app.test_request_context("/", base_url=live_server.url):
        link = get_portal(app).referral_link(customer)
        get_session().commit()
    return link


@pytest.mark.browser
def test_copied_link_brings_a_friend_who_signs_up(app, live_server, new_context):
    advocate = make_customer(app, name="Alice Advocate")
    advocate_context = new_context()
    advocate_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = advocate_context.new_page()
    log_in(page, advocate)

    page.goto("/advocacy/")
    expect(stat(page, "clicks")).to_have_text("0")
    expect(stat(page, "signups")).to_have_text("0")
    link_input = page.locator("input#advocacy-link")
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("[data-advocacy-copy-status]")).to_have_text("Link copied to your clipboard.")
    link = link_input.input_value()
    assert link_pattern(live_server).fullmatch(link), link
    assert page.evaluate("navigator.clipboard.readText()") == link

    # Another visitor: a fresh context shares no cookies with the advocate.
    friend = new_context().new_page()
    friend.goto(link)
    expect(friend).to_have_url(live_server.url + "/signup")
    expect(friend.get_by_text("A friend invited you: welcome!")).to_be_visible()
    assert "advocacy_ref" in {cookie["name"] for cookie in friend.context.cookies()}
    friend.get_by_label("Your name").fill("Fran Friend")
    friend.get_by_label("Email").fill("fran.friend@example.com")
    friend.get_by_label("Password").fill("friend-password")
    friend.get_by_role("button", name="Create account").click()
    expect(friend.get_by_text("Welcome to Test Shop!")).to_be_visible()
    expect(friend).to_have_url(live_server.url + "/")
    # The claim is used up: the cookie is gone after the signup.
    assert "advocacy_ref" not in {cookie["name"] for cookie in friend.context.cookies()}

    page.reload()
    expect(stat(page, "signups")).to_have_text("1")
    expect(stat(page, "clicks")).to_have_text("1")
    expect(page.get_by_role("table")).to_contain_text("f***@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "referral-page.png"), full_page=True)


@pytest.mark.browser
def test_referral_page_works_without_javascript(app, live_server, new_context):
    customer = make_customer(app)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, customer)
    page.goto("/advocacy/")

    link_input = page.locator("input#advocacy-link")
    expect(link_input).to_be_visible()
    link = link_input.input_value()
    assert link_pattern(live_server).fullmatch(link), link
    assert link == referral_link(live_server, customer)
    expect(page.locator("[data-advocacy-copy]")).to_be_hidden()

    qr = page.get_by_role("img", name="QR code that opens your referral link")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0

    encoded = quote(link, safe="")
    expected = {
        "email": ("mailto:", "body"),
        "x": ("https://x.com/intent/post?", "url"),
        "linkedin": ("https://www.linkedin.com/sharing/share-offsite/?", "url"),
        "whatsapp": ("https://wa.me/?", "text"),
        "facebook": ("https://www.facebook.com/sharer/sharer.php?", "u"),
    }
    for network, (prefix, parameter) in expected.items():
        share = page.locator(f'a[data-network="{network}"]')
        expect(share).to_have_count(1)
        expect(share).to_be_visible()
        href = share.get_attribute("href")
        assert href.startswith(prefix), (network, href)
        assert encoded in href, (network, href)
        value = parse_qs(urlsplit(href).query)[parameter][0]
        assert value == link or value.endswith(" " + link), (network, value)


@pytest.mark.browser
def test_referral_page_keyboard_labels_and_console(app, live_server, new_context):
    customer = make_customer(app)
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    problems = []
    page.on(
        "console",
        lambda message: message.type == "error"
        and "favicon.ico" not in (message.location or {}).get("url", "")
        and problems.append(f"console: {message.text} {message.location}"),
    )
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    log_in(page, customer)
    page.goto("/advocacy/")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()

    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll("input, select, textarea"))
            // Buttons are named by their value; every other control needs a label.
            .filter((el) => !["hidden", "submit", "reset", "button"].includes(el.type))
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                            && !el.getAttribute("aria-labelledby"))
            .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.querySelectorAll('input:not([type=hidden])').length") >= 2

    # Tab from the top of the page until the copy button has focus.
    page.locator("body").focus()
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('[data-advocacy-copy]')"):
            break
    else:
        pytest.fail("the Copy link button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("[data-advocacy-copy-status]")).to_have_text("Link copied to your clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator(
        "input#advocacy-link"
    ).input_value()

    assert problems == []


@pytest.mark.browser
def test_tampered_link_shows_friendly_page_and_sets_no_cookie(app, live_server, new_context):
    customer = make_customer(app)
    link = referral_link(live_server, customer)
    head, signature = link.rsplit(".", 1)
    # A character in the middle of the signature: all six of its bits count (the last one's may not).
    middle = len(signature) // 2
    swapped = "x" if signature[middle] != "x" else "y"
    tampered = f"{head}.{signature[:middle]}{swapped}{signature[middle + 1:]}"
    assert tampered != link

    page = new_context().new_page()
    response = page.goto(tampered)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This referral link doesn't work")
    expect(page).to_have_url(tampered)
    assert "advocacy_ref" not in {cookie["name"] for cookie in page.context.cookies()}

    # The untouched link still works in the same browser, so the 404 was the tampering.
    response = page.goto(link)
    expect(page).to_have_url(live_server.url + "/signup")
    assert "advocacy_ref" in {cookie["name"] for cookie in page.context.cookies()}
