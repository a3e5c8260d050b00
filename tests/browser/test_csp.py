"""A strict Content-Security-Policy on every plugin page, and no page breaking under it.

Every ``GET`` rule of the URL map (so a new page is covered by construction) is opened in real Chromium,
as staff and as a customer, on an app with data: each HTML answer must carry the strict policy (no
``'unsafe-inline'``, no ``'unsafe-eval'``), and Chromium must report no refusal on any of them (the
``new_context`` fixture fails the test on any "Content Security Policy" console message)."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
#: Rules that are not pages: scripts, JSON, feeds, images, the redirect and the webhook.
NOT_PAGES = re.compile(r"widget|/api/|\.json|\.js$|/photos/|/qr|webhooks/stripe|/r/|openapi|/export|\.csv")


def page_urls(app, ids: dict) -> list[str]:
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if (not rule.endpoint.startswith("advocacy_") or rule.endpoint.endswith(".static")
                or "GET" not in rule.methods or NOT_PAGES.search(rule.rule)):
            continue
        urls.append(_VARIABLE.sub(lambda match: str(ids.get(match.group(1), 1)), rule.rule))
    return urls


def strict(policy: str) -> bool:
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (piece.strip() for piece in policy.split(";")) if part
    )
    return (directives.get("default-src") == "'self'"
            and all(directives.get(name, "").startswith("'self'") for name in ("script-src", "style-src"))
            and "unsafe-inline" not in policy and "unsafe-eval" not in policy
            and directives.get("object-src") == "'none'" and directives.get("frame-ancestors") == "'none'")


@pytest.mark.browser
def test_every_plugin_page_is_served_and_rendered_under_a_strict_policy(app, live_server, new_context):
    staff = make_customer(app, staff=True, name="Sam Staff")
    referred = make_referral(app)
    customer = referred.advocate
    testimonial = make_testimonial(app, customer, state="approved", staff=staff)
    ids = {"testimonial_id": testimonial, "advocate_id": referred.advocate_id}

    seen = {}
    for person in (staff, customer):
        context = new_context()
        page = context.new_page()
        log_in(page, person)
        for url in page_urls(app, ids):
            response = page.goto(url)
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            page.wait_for_load_state("load")
            policy = response.headers.get("content-security-policy", "")
            assert strict(policy), f"{url}: {policy!r}"
            assert response.headers.get("x-frame-options") == "DENY", url
            seen.setdefault(url, set()).add(response.status)
    # The staff saw the admin pages and the customer their own: the walk covered real pages.
    assert sum(200 in statuses for statuses in seen.values()) >= 15, seen
