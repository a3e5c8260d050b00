"""Customer pages, what people notice: a corrected field loses its error at once; the in-app question
keeps its answer across an expired page; the widget and the wall write a rating alike, in German too.
Each page at 1280 and 390 px, light and dark, through axe-core and the rendered contrast (``look_at``).
"""

from __future__ import annotations

import re

import pytest

from advocacy_portal.models import NpsResponse
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.browser.test_widget import embed
from tests.browser.test_widget import open_page
from tests.browser.test_widget import wait_ready
from tests.helpers import make_customer
from tests.nps_support import invite
from tests.nps_support import rows
from tests.testimonials_support import make_testimonial

pytestmark = pytest.mark.browser

BOTH = ("light", "dark")

#: A field's error state as a screen reader meets it: its message, aria-invalid, aria-describedby.
STATE_JS = """selector => {
  const input = document.querySelector(selector), field = input.closest('.advocacy-field');
  return {error: !!field.querySelector('.advocacy-error'), invalid: input.getAttribute('aria-invalid'),
          described: input.getAttribute('aria-describedby') || field.getAttribute('aria-describedby')};
}"""


def test_a_corrected_field_loses_its_error_and_its_line_in_the_summary(app, live_server, new_context):
    author = make_customer(app, name="Eve Writer")
    page = new_context().new_page()
    log_in(page, author)
    page.goto("/advocacy/testimonials/new")
    page.get_by_role("button", name="Send my testimonial").click()
    alert = page.get_by_role("alert")
    summary = alert.get_by_role("listitem")
    expect(summary).to_have_count(4)
    expect(alert).to_contain_text("4 fields need attention")
    assert page.title().startswith("Error: ")
    assert page.evaluate(STATE_JS, "#display_name") == {
        "error": True, "invalid": "true", "described": "display_name-error"}

    # Still too short for the browser's own check (minlength): the error stays.
    body = page.get_by_label("Your words")
    body.fill("Nice")
    assert page.evaluate(STATE_JS, "#body")["error"] is True
    expect(summary).to_have_count(4)
    # Long enough: its message, its summary line and aria-invalid go; the hint stays described.
    body.fill("Lovely shop, quick delivery, kind people.")
    assert page.evaluate(STATE_JS, "#body") == {"error": False, "invalid": None, "described": "body-hint"}
    expect(summary).to_have_count(3)
    expect(alert).not_to_contain_text("Your words")
    expect(alert).to_contain_text("3 fields need attention")
    page.get_by_label("Name to show").fill("Eve W.")
    assert page.evaluate(STATE_JS, "#display_name") == {"error": False, "invalid": None, "described": None}
    expect(alert).to_contain_text("2 fields need attention")
    page.get_by_label("4 stars: good").check()
    assert page.evaluate(STATE_JS, "#rating-0")["error"] is False
    expect(summary).to_have_count(1)
    expect(alert).to_contain_text("1 field needs attention")
    look_at(page, "customer-testimonial-errors-corrected", schemes=BOTH)
    page.get_by_label("You may publish my testimonial with my name, role and photo.").check()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert not page.title().startswith("Error: ")
    page.get_by_role("button", name="Send my testimonial").click()
    expect(page.get_by_text("Thank you! We read every testimonial")).to_be_visible()

    # Without JavaScript nothing changes: the errors stay until the form is sent again.
    plain = new_context(java_script_enabled=False).new_page()
    log_in(plain, author)
    plain.goto("/advocacy/testimonials/new")
    plain.get_by_role("button", name="Send my testimonial").click()
    plain.get_by_label("Name to show").fill("Eve W.")
    assert plain.evaluate(STATE_JS, "#display_name")["error"] is True
    expect(plain.get_by_role("alert").get_by_role("listitem")).to_have_count(4)


def test_the_in_app_question_keeps_the_score_and_reason_across_an_expired_page(app, live_server, new_context):
    customer = make_customer(app, name="Nia Answer")
    invite(app, customer)
    page = new_context().new_page()
    log_in(page, customer)
    page.goto("/advocacy/")
    prompt = page.get_by_role("region", name=re.compile("How likely are you to recommend"))
    expect(prompt).to_be_visible()
    look_at(page, "nps-in-app-prompt", schemes=BOTH)
    reason = "The checkout forgot my address twice, and support answered only after a week."
    prompt.locator('input[name="nps-csrf_token"]').evaluate("e => e.value = 'expired'")
    prompt.get_by_label("6", exact=True).check()
    prompt.get_by_label("What is the main reason? (optional)").fill(reason)
    prompt.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("alert")).to_contain_text("This page had expired, so your answer was not sent yet")
    expect(page.get_by_label("6", exact=True)).to_be_checked()
    expect(page.get_by_label("What is the main reason? (optional)")).to_have_value(reason)
    assert rows(app, NpsResponse) == []
    look_at(page, "nps-in-app-expired", schemes=BOTH)
    page.get_by_role("button", name="Send my answer").click()
    expect(page).to_have_url(re.compile("/advocacy/nps/thanks/"))
    [response] = rows(app, NpsResponse)
    assert (response["score"], response["comment"], response["channel"]) == (6, reason, "in_app")


@pytest.mark.settings(LOCALE="de_DE", BUSINESS_NAME="Acme Pflanzen")
def test_the_widget_and_the_wall_write_the_rating_alike_in_german(app, live_server, embedding_site, new_context):
    """Testimonials rated 5, 5 and 4: "4,7 out of 5 from 3 testimonials" on the wall and in the widget,
    never the widget's own "4.7"."""
    staff = make_customer(app, staff=True)
    author = make_customer(app, name="Author")
    for n, rating in enumerate((5, 5, 4)):
        make_testimonial(app, author, state="approved", staff=staff, rating=rating, display_name=f"Kundin {n + 1}")
    url = embed(embedding_site, live_server, "/de", '<script src="WIDGET" data-mode="testimonials"></script>')
    _context, page, console = open_page(new_context, url)
    wait_ready(page)
    expect(page.locator(".advocacy-widget").get_by_text("4,7 out of 5 from 3 testimonials", exact=True)).to_be_visible()
    look_at(page, "widget-testimonials-de", schemes=BOTH)
    wall = new_context().new_page()
    wall.goto("/advocacy/wall")
    expect(wall.locator(".advocacy-rating-summary")).to_have_text(re.compile(r"4,7 out of 5 from 3 testimonials$"))
    look_at(wall, "customer-wall-de", schemes=BOTH)
    assert console.of("error", "pageerror") == []
