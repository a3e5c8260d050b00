"""Staff pick a testimonial's highlighted excerpt by selecting its words in Chromium
(portal/static/advocacy-moderation.js), save it, and the wall shows it; no console errors."""

from __future__ import annotations

import pytest

from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.testimonials_support import make_testimonial

#: Characters outside the Basic Multilingual Plane before the excerpt: the script must count code
#: points as the server does, not UTF-16 units, or the saved excerpt would be shifted.
BODY = "Fast 🚀🚀 delivery.\nThe team was patient and friendly support fixed everything in a day."
EXCERPT = "patient and friendly support"

#: Selects ``text`` inside the quote with the Selection API, as a mouse drag does.
SELECT_WORDS = """([selector, text]) => {
  const quote = document.querySelector(selector);
  const node = quote.firstChild;
  const at = node.data.indexOf(text);
  const range = document.createRange();
  range.setStart(node, at);
  range.setEnd(node, at + text.length);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}"""


def watch_console(page) -> list:
    problems: list = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


@pytest.mark.browser
def test_selecting_words_in_the_quote_saves_the_highlight_shown_on_the_wall(app, live_server, new_context):
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    testimonial_id = make_testimonial(app, author, state="approved", staff=staff, body=BODY)

    page = new_context().new_page()
    problems = watch_console(page)
    log_in(page, staff)
    page.goto(f"/advocacy/admin/testimonials/{testimonial_id}")
    expect(page.locator("[data-advocacy-body]")).to_have_text(BODY)
    page.get_by_label("…or paste the words to highlight").fill("stale words")

    page.evaluate(SELECT_WORDS, ["[data-advocacy-body]", EXCERPT])
    expect(page.locator("[data-advocacy-excerpt-preview]")).to_have_text(f"Selected: “{EXCERPT}”")
    start = BODY.index(EXCERPT)
    expect(page.get_by_label("First character")).to_have_value(str(start))
    expect(page.get_by_label("After the last character")).to_have_value(str(start + len(EXCERPT)))
    expect(page.get_by_label("…or paste the words to highlight")).to_have_value("")  # offsets win

    page.get_by_role("button", name="Save the highlight").click()
    expect(page.get_by_text(f"Highlighted: “{EXCERPT}”")).to_be_visible()
    expect(page.locator("[data-advocacy-highlight]")).to_have_text(EXCERPT)
    expect(page.locator("[data-advocacy-body]")).to_have_text(BODY)  # the quote itself is unchanged

    # A selection outside the quote (here: the history table) changes nothing.
    page.evaluate(SELECT_WORDS, ["h2#advocacy-history-heading", "History"])
    expect(page.locator("[data-advocacy-excerpt-preview]")).to_have_text("")
    expect(page.get_by_label("First character")).to_have_value(str(start))

    visitor = new_context().new_page()
    visitor_problems = watch_console(visitor)
    visitor.goto("/advocacy/wall")
    card = visitor.locator(f'[data-testimonial-id="{testimonial_id}"]')
    expect(card.locator(".advocacy-testimonial__highlight")).to_have_text(f"“{EXCERPT}”")
    expect(card.locator("blockquote")).to_have_text(BODY)
    api = visitor.request.get("/advocacy/api/testimonials").json()
    [item] = api["items"]
    assert item["highlight"] == {"start": start, "end": start + len(EXCERPT), "text": EXCERPT}
    assert problems == [] and visitor_problems == []
