"""Every payload of tests/xss_payloads.txt, submitted through the real forms in Chromium, then shown to
the author, to staff in moderation and to the public on the wall: no dialog opens, no injected element,
attribute or script exists, no ``javascript:`` link is in the page, and the text reads as written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer

PAYLOADS = [
    line
    for line in (Path(__file__).resolve().parents[1] / "xss_payloads.txt").read_text().split("\n")
    if line and not line.startswith("# ")
]

#: Finds what an injection would leave in the DOM. The plugin's and the demo's own markup has no
#: event-handler attributes, no javascript: URLs, no frames or objects, and only its own scripts.
DOM_PROBE = """() => {
  const bad = [];
  const urlAttributes = ["href", "src", "action", "formaction", "data", "xlink:href", "background", "poster", "srcdoc"];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value;
      if (name.startsWith("on")) bad.push(`${element.tagName} has ${name}`);
      if (name.includes("xssmark") || ((name === "id" || name === "class") && value.includes("xssmark"))) {
        bad.push(`marker on ${element.tagName}`);
      }
      if (urlAttributes.includes(name) && /^[\\s\\u0000-\\u001f]*(javascript|vbscript|data):/i.test(value)) {
        bad.push(`${name}=${value} on ${element.tagName}`);
      }
      if (name === "style" && /expression|javascript:/i.test(value)) bad.push(`style on ${element.tagName}`);
    }
  }
  for (const selector of ["iframe", "object", "embed", "frame", "frameset", "base", "meta[http-equiv]", "svg",
                          "math", "form[action^='javascript' i]", "link[rel=import]", "template", "xmp", "plaintext"]) {
    if (document.querySelector(selector)) bad.push(`injected <${selector}>`);
  }
  for (const script of document.querySelectorAll("script")) {
    const own = script.src && new URL(script.src).origin === location.origin && script.src.includes("/static/");
    if (own) continue;
    if (script.type === "application/ld+json") {
      try { JSON.parse(script.textContent); } catch (error) { bad.push("broken JSON-LD"); }
      continue;
    }
    bad.push(`script: ${script.outerHTML.slice(0, 80)}`);
  }
  if (window.__xss) bad.push("window.__xss was set");
  return bad;
}"""


def batches(payloads: list[str], limit: int) -> list[str]:
    """Payloads joined by newlines into bodies of at most ``limit`` characters."""
    bodies, current = [], ""
    for payload in payloads:
        candidate = f"{current}\n{payload}" if current else payload
        if len(candidate) > limit:
            bodies.append(current)
            current = payload
        else:
            current = candidate
    bodies.append(current)
    return bodies


def check_page(page, dialogs: list, where: str) -> None:
    assert dialogs == [], f"a dialog opened on {where}: {dialogs}"
    problems = page.evaluate(DOM_PROBE)
    assert problems == [], f"{where}: {problems}"


@pytest.mark.browser
@pytest.mark.settings(TESTIMONIAL_SUBMIT_LIMIT="1000 per minute", WALL_PAGE_SIZE=100)
def test_xss_payloads_stay_text_for_the_author_staff_and_the_public(app, live_server, new_context):
    assert len(PAYLOADS) >= 200
    bodies = batches(PAYLOADS, app.config["ADVOCACY_TESTIMONIAL_MAX_LENGTH"])
    short = [payload for payload in PAYLOADS if len(payload) <= 80]
    author = make_customer(app, name="Xavier Author")
    staff = make_customer(app, staff=True)
    dialogs: list = []

    # The author submits every payload through the real form, in the body, name and role fields.
    page = new_context().new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, author)
    names = []
    for n, body in enumerate(bodies):
        name, role = short[(2 * n) % len(short)], short[(2 * n + 1) % len(short)]
        names.append(name)
        page.goto("/advocacy/testimonials/new")
        page.get_by_label("5 stars: excellent").check()
        page.get_by_label("Your words").fill(body)
        page.get_by_label("Name to show").fill(name)
        page.get_by_label("Role or company (optional)").fill(role)
        page.get_by_label(app.config["ADVOCACY_CONSENT_PUBLISH_NAMED_TEXT"]).check()
        page.get_by_role("button", name="Send my testimonial").click()
        expect(page.get_by_text("Thank you! We read every testimonial")).to_be_visible()
    # A review carries a payload in its title.
    page.goto("/advocacy/reviews/new")
    page.get_by_label("Product").select_option("pro")
    page.get_by_label("4 stars: good").check()
    page.get_by_label("Title").fill('<img src=x onerror=alert(1) id=xssmark>"><script>alert(1)</script>'[:120])
    page.get_by_label("Your words").fill("{{7*7}} <svg/onload=alert(1)> javascript:alert(1) works well")
    page.get_by_label("Name to show").fill("<b id=xssmark>Bold</b>")
    page.get_by_label(app.config["ADVOCACY_CONSENT_REVIEW_PUBLISH_NAMED_TEXT"]).check()
    page.get_by_role("button", name="Send my review").click()
    expect(page.get_by_text("Thank you! We read every testimonial")).to_be_visible()
    check_page(page, dialogs, "the author's page")
    mine = [text for text in page.locator("article.advocacy-mine blockquote").all_text_contents()]
    assert sorted(mine[1:]) == sorted(bodies)  # newest (the review) first; all as written

    # Staff see them in the queue, pick a highlight containing markup, and approve them all at once.
    staff_page = new_context().new_page()
    staff_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(staff_page, staff)
    staff_page.goto("/advocacy/admin/testimonials/?state=pending")
    check_page(staff_page, dialogs, "the moderation queue")
    ids = [int(value) for value in staff_page.locator("tr[data-testimonial-id]").evaluate_all(
        "rows => rows.map(row => row.dataset.testimonialId)")]
    assert len(ids) == len(bodies) + 1
    first = min(ids)
    staff_page.goto(f"/advocacy/admin/testimonials/{first}")
    check_page(staff_page, dialogs, f"moderation item {first}")
    assert staff_page.locator("[data-advocacy-body]").text_content() == bodies[0]
    staff_page.get_by_label("…or paste the words to highlight").fill(PAYLOADS[0])
    staff_page.get_by_role("button", name="Save the highlight").click()
    expect(staff_page.locator("[data-advocacy-highlight]")).to_have_text(PAYLOADS[0])
    check_page(staff_page, dialogs, "moderation item with a highlight")

    staff_page.goto("/advocacy/admin/testimonials/?state=pending")
    for checkbox in staff_page.locator("input[name=selected]").all():
        checkbox.check()
    staff_page.get_by_label("With the selected").select_option("approve")
    staff_page.get_by_role("button", name="Apply").click()
    expect(staff_page.get_by_text(f"Approve: done for {len(ids)} testimonials.")).to_be_visible()
    for testimonial_id in ids:
        staff_page.goto(f"/advocacy/admin/testimonials/{testimonial_id}")
        check_page(staff_page, dialogs, f"moderation item {testimonial_id}")

    # The public wall shows every payload as text, with valid JSON-LD.
    visitor = new_context().new_page()
    visitor.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    visitor.goto("/advocacy/wall")
    check_page(visitor, dialogs, "the wall")
    shown = visitor.locator(".advocacy-wall__items blockquote").all_text_contents()
    assert sorted(shown) == sorted(bodies + ["{{7*7}} <svg/onload=alert(1)> javascript:alert(1) works well"])
    shown_names = visitor.locator(".advocacy-testimonial__name").all_text_contents()
    assert set(names) <= set(shown_names) and "<b id=xssmark>Bold</b>" in shown_names
    expect(visitor.locator(f'[data-testimonial-id="{first}"] .advocacy-testimonial__highlight')).to_have_text(
        f"“{PAYLOADS[0]}”")
    ld = json.loads(visitor.locator("script[type='application/ld+json']").text_content())
    review_bodies = [review["reviewBody"] for node in ld["@graph"] for review in node.get("review", [])]
    assert sorted(review_bodies) == sorted(shown)
    # Links on the wall are only the plugin's own referral links.
    hrefs = visitor.locator(".advocacy-wall__items a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and all(href.startswith(live_server.url + "/r/") for href in hrefs)
    # The API returns the same text, as JSON.
    api = visitor.request.get("/advocacy/api/testimonials?per_page=100").json()
    assert sorted(item["body"] for item in api["items"]) == sorted(shown)
    assert dialogs == []
    print(f"\n{len(PAYLOADS)} XSS payloads in {len(bodies)} testimonials and one review: none executed")
