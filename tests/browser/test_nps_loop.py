"""The advocacy loop in real headless Chromium: staff send the survey, the email (caught by a real SMTP
server) carries eleven score links, a detractor confirms a low score and gets a case, staff assign and
reply, the customer reads the update through the signed link and replies, staff resolve it with a root
cause, and the staff's NPS figures and cases per root cause change; a promoter is invited to write a
testimonial and to share their referral link. Every page is checked with ``look_at``."""

from __future__ import annotations

import re

import pytest

from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.helpers import wait_for


def texts(smtp) -> list[tuple[str, str, str]]:
    """``(to, subject, plain text)`` of every message the SMTP server received."""
    return [(str(m["To"]), str(m["Subject"]), m.get_body(preferencelist=("plain",)).get_content())
            for m in list(smtp.messages)]


def score_link(smtp, to: str, score: int) -> str:
    for address, subject, text in texts(smtp):
        if address == to and "/advocacy/nps/s/" in text:
            return re.search(rf"^{score}: (\S+)", text, re.M).group(1)
    raise AssertionError(f"no survey email to {to}")


def case_links(smtp, to: str) -> list[str]:
    return [re.search(r"(http\S+/advocacy/nps/case/\S+)", text).group(1)
            for address, _subject, text in texts(smtp) if address == to and "/advocacy/nps/case/" in text]


@pytest.mark.browser
def test_the_whole_advocacy_loop(app, live_server, new_context, smtp):
    staff = make_customer(app, "sam.staff@example.com", staff=True, name="Sam Staff")
    detractor = make_customer(app, "dana@example.com", name="Dana Detractor")
    promoter = make_customer(app, "pat@example.com", name="Pat Promoter")

    admin = new_context().new_page()
    log_in(admin, staff)
    admin.goto("/advocacy/admin/nps/send")
    admin.get_by_label("Customers: one id or email per line, or a CSV of id,email").fill(
        f"{detractor.id},{detractor.email}\n{promoter.id},{promoter.email}")
    admin.get_by_role("button", name="Send the survey").click()
    expect(admin.get_by_text("Survey sent to 2; 0 skipped")).to_be_visible()
    look_at(admin, "admin-nps-send")
    assert wait_for(lambda: sum("/advocacy/nps/s/" in text for _to, _s, text in texts(smtp)) == 2)
    survey = next(m for m in smtp.messages if str(m["To"]) == detractor.email)
    assert "How likely are you to recommend" in survey.get_body(preferencelist=("plain",)).get_content()
    assert survey.get_body(preferencelist=("html",)).get_content().count("/advocacy/nps/s/") == 11

    # The detractor follows the "3" link: the score is pre-selected, nothing recorded until they confirm.
    customer = new_context().new_page()
    customer.goto(score_link(smtp, detractor.email, 3))
    expect(customer.locator("#score-3")).to_be_checked()
    look_at(customer, "nps-score")
    customer.get_by_label("What is the main reason? (optional)").fill("My order arrived broken")
    customer.get_by_role("button", name="Send my answer").click()
    expect(customer.get_by_role("heading", name="Thank you for your answer")).to_be_visible()
    expect(customer.get_by_role("link", name="Write a testimonial")).to_be_visible()
    expect(customer.locator("#advocacy-nps-referral")).to_have_count(0)
    look_at(customer, "nps-thanks-detractor")

    admin.goto("/advocacy/admin/nps/")
    expect(admin.locator('[data-figure="nps"]')).to_have_text("-100")
    admin.goto("/advocacy/admin/nps/cases")
    expect(admin.locator('[data-figure="status-open"]')).to_have_text("1")
    look_at(admin, "admin-nps-cases")
    admin.get_by_role("link", name=re.compile("Scored 3 out of 10")).click()
    look_at(admin, "admin-nps-case")
    admin.get_by_label("Owner").select_option(label=f"Me ({staff.email})")
    admin.get_by_role("button", name="Assign").click()
    expect(admin.locator("#advocacy-case-owner")).to_have_text("Sam")
    admin.get_by_label("Message to the customer (emailed to them)").fill("So sorry, Dana. A new one ships today.")
    admin.get_by_role("button", name="Send message").click()
    admin.get_by_label("Status", exact=True).select_option(label="Waiting on you")
    admin.get_by_role("button", name="Change status").click()
    expect(admin.locator("#advocacy-case-status")).to_have_text("Waiting on you")

    # The customer opens the newest case email's signed link: status, owner's first name, the message.
    assert wait_for(lambda: len(case_links(smtp, detractor.email)) >= 3)
    customer.goto(case_links(smtp, detractor.email)[-1])
    expect(customer.locator("#advocacy-case-status")).to_have_text("Waiting on you")
    expect(customer.locator("#advocacy-case-owner")).to_have_text("Sam")
    expect(customer.get_by_text("So sorry, Dana. A new one ships today.")).to_be_visible()
    customer.get_by_label("Your reply").fill("Thanks, it arrived and works.")
    customer.get_by_role("button", name="Send reply").click()
    expect(customer.get_by_text("Your reply was sent.")).to_be_visible()
    expect(customer.locator("#advocacy-case-status")).to_have_text("In progress")
    look_at(customer, "nps-case-customer")

    # Staff see the reply and resolve with a root cause.
    admin.reload()
    expect(admin.get_by_text("Thanks, it arrived and works.")).to_be_visible()
    admin.get_by_label("Status", exact=True).select_option(label="Resolved")
    admin.get_by_label("Root cause (required to resolve)").select_option(label="Product defect")
    admin.get_by_role("button", name="Change status").click()
    expect(admin.locator("#advocacy-case-status")).to_have_text("Resolved")
    admin.goto("/advocacy/admin/nps/cases?status=all")
    expect(admin.locator('[data-figure="status-resolved"]')).to_have_text("1")
    expect(admin.locator('[data-root-cause="Product defect"] td').last).to_have_text("1")

    # The promoter answers 10: thanked, invited to write a testimonial and to share their link.
    promoter_page = new_context().new_page()
    promoter_page.goto(score_link(smtp, promoter.email, 10))
    promoter_page.get_by_role("button", name="Send my answer").click()
    expect(promoter_page.get_by_role("link", name="Write a testimonial")).to_be_visible()
    expect(promoter_page.get_by_label("Your referral link")).to_have_value(re.compile(r"/r/[A-Za-z0-9_.-]+$"))
    look_at(promoter_page, "nps-thanks-promoter")

    admin.goto("/advocacy/admin/nps/")
    expect(admin.locator('[data-figure="nps"]')).to_have_text("0")
    expect(admin.locator('[data-figure="response-rate"]')).to_have_text("100%")
    look_at(admin, "admin-nps-figures")


@pytest.mark.browser
def test_the_in_app_question_and_get_help_pages(app, live_server, new_context):
    from tests.nps_support import invite

    customer = make_customer(app, "ina@example.com", name="Ina App")
    invite(app, customer, channel="in_app")
    page = new_context().new_page()
    log_in(page, customer)
    page.goto("/advocacy/")
    prompt = page.locator("#advocacy-nps-prompt")
    expect(prompt).to_be_visible()
    look_at(page, "nps-in-app-prompt")
    prompt.locator('label[for="nps-score-8"]').click()
    prompt.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_text("You gave us 8 out of 10")).to_be_visible()
    page.goto("/advocacy/nps/help")
    expect(page.locator("#advocacy-nps-prompt")).to_have_count(0)
    page.get_by_label("In a few words, what is wrong?").fill("I cannot download my invoice")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name=re.compile("I cannot download my invoice"))).to_be_visible()
    look_at(page, "nps-case-signed-in")
    page.goto("/advocacy/nps/help")
    look_at(page, "nps-help")
