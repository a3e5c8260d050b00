"""The rewards flow in real headless Chromium: a friend pays, the advocate redeems, staff review and adjust.

The demo app is served over HTTP by ``live_server``; its Stripe calls go to the local Stripe-compatible server
(``fake_stripe``), and the friend's payment reaches it as a webhook signed as Stripe signs them, POSTed over
HTTP. Run with ``pytest tests/browser`` (SQLite) or with ``ADVOCACY_TEST_DATABASE_URL`` set (PostgreSQL).
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from advocacy_portal.testing import stripe_events
from tests.browser.test_referral_flow import ARTIFACTS
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import WEBHOOK_PATH
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

REWARDS = "/advocacy/rewards/"
ADMIN = "/advocacy/admin/"
CREDITS = "/v1/customers/*/balance_transactions"
#: The staff pages of the rewards program, in their order in the admin navigation (other areas add theirs).
REWARDS_ADMIN_NAV = ["Overview", "Payments", "Rewards", "Advocates", "Audit log"]


class ErrorWatch:
    """The console errors and uncaught exceptions of every page watched, in :attr:`problems`.

    Chromium logs a document answered with an error status as a console error too. A form this flow
    sends on purpose with a mistake is answered 400: :meth:`refusal_expected` lets exactly one such
    message through for that path, and :attr:`awaited` shows whether it came.
    """

    def __init__(self):
        self.problems: list[str] = []
        self.awaited: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"pageerror on {page.url}: {error}"))

    def refusal_expected(self, path: str) -> None:
        self.awaited.append(path)

    def _console(self, page, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if url.endswith("/favicon.ico"):
            return
        refused = "the server responded with a status of 400 (BAD REQUEST)" in message.text
        for path in self.awaited:
            if refused and url.endswith(path):
                self.awaited.remove(path)
                return
        self.problems.append(f"console on {page.url}: {message.text} {message.location}")


def pay_over_http(live_server, referred, amount_minor: int) -> str:
    """The friend's Checkout payment, delivered to the live server as Stripe would; returns its PaymentIntent."""
    payment_intent = "pi_browser_friend_1"
    event = stripe_events.checkout_session_completed(
        amount_total=amount_minor, metadata=referred.metadata, client_reference_id=str(referred.friend.id),
        payment_intent=payment_intent,
    )
    body, headers = stripe_events.signed_request(event)
    request = urllib.request.Request(live_server.url + WEBHOOK_PATH, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200, response.read()
    return payment_intent


def release_rewards(app) -> None:
    """The daily release job, run as if the hold period were over."""
    from advocacy_portal.services import rewards

    with app.app_context():
        summary = rewards.release_due(now=later(31))
    assert summary.released == 1, summary


def table_rows(table) -> list[dict[str, str]]:
    """The body rows of a table as ``{column header: cell text}``, as a sighted user reads them."""
    headers = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [text.strip() for text in row.locator("th, td").all_inner_texts()]
        rows.append(dict(zip(headers, cells)))
    return rows


def balances(page) -> dict[str, str]:
    """The advocate's USD balances on their rewards page, as its figures show them."""
    figures = page.get_by_role("region", name="Balance").locator('dl[data-currency="usd"]')
    usd = {"Currency": "USD"}
    for label, state in (("Pending", "pending"), ("Available", "available"), ("Being redeemed", "reserved"),
                         ("Redeemed", "redeemed")):
        cell = figures.locator(f'[data-total="{state}"]')
        usd[label] = cell.inner_text().strip() if cell.count() else "$0.00"
    return usd


def masked(email: str) -> str:
    local, domain = email.split("@")
    return f"{local[0]}***@{domain}"


def credits_posted(server) -> list:
    """The account credits the app asked the Stripe-compatible server to post."""
    return server.requests_to(CREDITS, method="POST")


@pytest.mark.browser
@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, REDEMPTION_MINIMUM_MINOR=500)
def test_friend_pays_advocate_redeems_once_and_staff_adjust(
    stripe_app, live_server, new_context, fake_stripe
):
    from playwright.sync_api import Error as PlaywrightError

    errors = ErrorWatch()
    referred = make_referral(stripe_app)
    friend = masked(referred.friend.email)

    # 1. The friend's $120 payment arrives; the advocate sees 10 % of it pending, nothing to redeem yet.
    payment_intent = pay_over_http(live_server, referred, 12000)
    page = new_context().new_page()
    errors.watch(page)
    log_in(page, referred.advocate)
    page.goto(REWARDS)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your rewards")
    assert balances(page) == {"Currency": "USD", "Pending": "$12.00", "Available": "$0.00",
                              "Being redeemed": "$0.00", "Redeemed": "$0.00"}
    history = page.get_by_role("region", name="History")
    accrued = history.get_by_role("row").filter(has_text="Reward for a friend’s payment")
    expect(accrued).to_have_count(1)
    expect(accrued).to_contain_text(f"Reward for a friend’s payment ({friend}, payment of $120.00)")
    expect(accrued).to_contain_text("10% of the payment")
    expect(accrued.get_by_role("cell").last).to_have_text("+$12.00")
    expect(page.get_by_text(referred.friend.email)).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Redeem"))).to_have_count(0)
    expect(page.get_by_text("$0.00 of the $5.00 you need to redeem")).to_be_visible()
    expect(page.get_by_text("$12.00 for " + friend + "’s payment")).to_be_visible()  # and when it comes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rewards-page-pending.png"), full_page=True)

    # 2. The hold ends; the advocate redeems the $12.00 as account credit, confirming on the second page.
    release_rewards(stripe_app)
    page.reload()
    assert balances(page)["Pending"] == "$0.00" and balances(page)["Available"] == "$12.00"
    page.get_by_role("link", name="Redeem $12.00 as account credit").click()
    expect(page).to_have_url(live_server.url + REWARDS + "redeem?currency=usd")
    expect(page.get_by_role("heading", level=1)).to_have_text("Redeem your rewards")
    expect(page.get_by_text("We will add $12.00 to your account as credit.")).to_be_visible()
    confirm = page.get_by_role("checkbox", name="I want this amount as credit on my account")
    expect(confirm).not_to_be_checked()
    expect(confirm).not_to_have_attribute("aria-invalid", "true")
    # The same confirmation page, open in a second tab of the same browser: a stale form, used in step 3.
    second_tab = page.context.new_page()
    errors.watch(second_tab)
    second_tab.goto(REWARDS + "redeem?currency=usd")
    expect(second_tab.get_by_text("We will add $12.00 to your account as credit.")).to_be_visible()

    errors.refusal_expected(REWARDS + "redeem")
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("Tick the box to confirm.")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: Redeem your rewards"))
    confirm = page.get_by_role("checkbox", name="I want this amount as credit on my account")
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(confirm).to_have_accessible_description("Tick the box to confirm.")
    expect(confirm).to_be_focused()
    assert credits_posted(fake_stripe) == []
    assert errors.awaited == [], "the form sent unconfirmed was not answered with a 400"

    confirm.check()
    page.get_by_role("button", name="Redeem").click()
    expect(page).to_have_url(live_server.url + REWARDS)
    expect(page.get_by_role("status")).to_contain_text("$12.00 is now credit on your account.")
    assert balances(page) == {"Currency": "USD", "Pending": "$0.00", "Available": "$0.00",
                              "Being redeemed": "$0.00", "Redeemed": "$12.00"}
    expect(page.get_by_role("region", name="Redemptions")).to_contain_text("$12.00 as account credit Credited to your account")
    expect(page.get_by_role("link", name=re.compile("^Redeem"))).to_have_count(0)
    [credit] = credits_posted(fake_stripe)
    assert credit.params["amount"] == "-1200" and credit.params["currency"] == "usd"
    assert credit.idempotency_key
    page.screenshot(path=str(ARTIFACTS / "rewards-page-redeemed.png"), full_page=True)

    # 3. Back, and the form sent again. The entry before the rewards page is the refused form: a POST
    # answer the browser was told not to keep (no-store), so Chromium will not show it again unasked.
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
        page.go_back()
    expect(page.locator("body")).to_contain_text("Confirm Form Resubmission")
    # One more step back is the confirmation page itself, fetched afresh: nothing is left to redeem.
    page.go_back()
    expect(page).to_have_url(live_server.url + REWARDS)
    expect(page.get_by_role("status")).to_have_text("There is nothing to redeem in that currency yet.")
    assert balances(page)["Redeemed"] == "$12.00" and balances(page)["Available"] == "$0.00"
    # The confirmation still open in the other tab is stale: sending it credits nothing more.
    second_tab.get_by_role("checkbox", name="I want this amount as credit on my account").check()
    second_tab.get_by_role("button", name="Redeem").click()
    expect(second_tab).to_have_url(live_server.url + REWARDS)
    expect(second_tab.get_by_role("status")).to_have_text(
        "Your available balance changed in the meantime. Check it and try again."
    )
    assert balances(second_tab)["Redeemed"] == "$12.00" and balances(second_tab)["Available"] == "$0.00"
    expect(second_tab.get_by_role("region", name="Redemptions").get_by_role("listitem")).to_have_count(1)
    assert len(credits_posted(fake_stripe)) == 1

    # 4. A staff member, in a browser of their own, reviews the program and adjusts the advocate's balance.
    staff = make_customer(stripe_app, "boss@example.com", staff=True)
    admin = new_context().new_page()
    errors.watch(admin)
    log_in(admin, staff)
    admin.goto(ADMIN)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Referral program")
    nav = admin.get_by_role("navigation", name="Advocacy admin")
    nav_labels = [label.strip() for label in nav.get_by_role("link").all_inner_texts()]
    assert [label for label in nav_labels if label in REWARDS_ADMIN_NAV] == REWARDS_ADMIN_NAV
    expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    [revenue] = table_rows(admin.locator('table[data-table="revenue"]'))
    assert revenue["Currency"] == "USD"
    assert revenue["All payments"] == "$120.00" and revenue["From referrals"] == "$120.00"
    assert revenue["Referral share"] == "100.0 %"
    admin.screenshot(path=str(ARTIFACTS / "admin-overview.png"), full_page=True)

    # Keyboard: every admin link is reached with Tab, in order.
    admin.locator("body").focus()
    reached = []
    for _ in range(40):
        admin.keyboard.press("Tab")
        label = admin.evaluate(
            "() => document.activeElement.closest('nav[aria-label=\"Advocacy admin\"]')"
            " ? document.activeElement.textContent.trim() : null"
        )
        if label:
            reached.append(label)
        if reached == nav_labels:
            break
    assert reached == nav_labels

    nav.get_by_role("link", name="Payments").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Payments")
    payments = table_rows(admin.get_by_role("table"))
    assert [row["Stripe"] for row in payments] == [payment_intent]
    assert payments[0]["Amount"] == "$120.00" and payments[0]["Reward"] == "Rewarded"
    assert payments[0]["Advocate"] == referred.advocate.email
    admin.get_by_role("link", name=referred.advocate.email).click()

    expect(admin.get_by_role("heading", level=1)).to_have_text(referred.advocate.email)
    ledger = table_rows(admin.locator('table[data-table="ledger"]'))
    # Newest first, both sides of each transaction: accrued, released, reserved for redemption, redeemed.
    assert [(row["Balance"], row["Amount"]) for row in ledger] == [
        ("Redeemed", "$12.00"), ("Being redeemed", "-$12.00"),
        ("Being redeemed", "$12.00"), ("Available", "-$12.00"),
        ("Available", "$12.00"), ("Pending", "-$12.00"),
        ("Pending", "$12.00"),
    ]
    assert ledger[-1]["What happened"].startswith(f"Reward for a friend’s payment: {friend}, payment of $120.00")
    assert payment_intent in ledger[-1]["What happened"]

    adjust = admin.get_by_role("region", name="Manual adjustment")
    adjust.get_by_role("textbox", name="Amount").fill("5.00")
    expect(adjust.get_by_role("combobox", name="Currency")).to_have_value("USD")
    errors.refusal_expected(f"/advocates/{referred.advocate_id}/adjust")
    adjust.get_by_role("button", name="Post adjustment").click()
    reason = admin.get_by_role("textbox", name="Reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_be_focused()
    expect(reason).to_have_accessible_description(re.compile("Say why: the advocate sees this reason."))
    expect(admin).to_have_title(re.compile("^Error: "))
    assert errors.awaited == [], "the adjustment without a reason was not answered with a 400"
    expect(admin.get_by_role("textbox", name="Amount")).to_have_value("5.00")

    reason.fill("Goodwill for a delayed payout")
    admin.get_by_role("button", name="Post adjustment").click()
    expect(admin.get_by_role("status")).to_have_text("Adjustment of $5.00 posted.")
    [usd] = table_rows(admin.locator('table[data-table="balances"]'))
    assert usd["Available"] == "$5.00" and usd["Redeemed"] == "$12.00"
    expect(admin.get_by_role("region", name="Manual adjustment")).to_contain_text("“Goodwill for a delayed payout”")

    admin.get_by_role("navigation", name="Advocacy admin").get_by_role("link", name="Audit log").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Audit log")
    adjusted = admin.locator("li[data-action='ledger.adjust']")
    expect(adjusted).to_have_count(1)
    expect(adjusted).to_contain_text("Manual adjustment")
    expect(adjusted).to_contain_text("by boss@example.com")
    expect(adjusted).to_contain_text("Reason: Goodwill for a delayed payout")
    expect(adjusted.locator("tr[data-field='amount_minor']")).to_contain_text("$5.00")

    # The advocate sees the adjustment, with its reason, and can redeem it.
    page.goto(REWARDS)
    assert balances(page)["Available"] == "$5.00"
    expect(page.get_by_role("region", name="History")).to_contain_text(
        "Adjustment by our team: Goodwill for a delayed payout"
    )
    expect(page.get_by_role("link", name="Redeem $5.00 as account credit")).to_be_visible()

    # 5. No page logged an error or threw.
    assert errors.problems == []
