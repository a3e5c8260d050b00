"""The embeddable widget in real headless Chromium, on a page of another origin (another port).

Every page here is served by the ``embedding_site`` fixture with a strict Content-Security-Policy
(exactly the directives the README lists) and loads the widget from the live server, as a customer's
marketing site would.
"""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest

from tests.browser.test_referral_flow import ARTIFACTS
from tests.browser.test_referral_flow import expect
from tests.browser.test_testimonials_xss import PAYLOADS
from tests.browser.test_testimonials_xss import batches
from tests.helpers import make_customer
from tests.testimonials_support import make_testimonial

pytestmark = pytest.mark.browser

#: Listens to the widget's events and adds up layout shifts, from the embedding site itself.
RECORDER = """
window.__events = [];
["ready", "copy", "share"].forEach(function (name) {
  document.addEventListener("advocacy:" + name, function (event) { window.__events.push([name, event.detail]); });
});
window.__shift = 0;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (entry) {
    if (entry.hadRecentInput) return;
    window.__shift += entry.value;
    window.__shifts = (window.__shifts || []).concat([[entry.startTime, entry.value, entry.sources.map(function (s) { return s.node && (s.node.id || s.node.nodeName); })]]);
  });
}).observe({ type: "layout-shift", buffered: true });
"""

#: A page stylesheet that tries everything to restyle whatever it can reach.
HOSTILE_CSS = """
* { font-family: "Courier New", monospace !important; font-size: 31px !important; color: #f0f !important;
    background: #ff0 !important; padding: 23px !important; margin: 11px !important; border: 7px dashed red !important;
    line-height: 3 !important; letter-spacing: 4px !important; text-transform: uppercase !important;
    box-sizing: content-box !important; width: auto !important; visibility: visible !important; }
div, section, button, a, input, svg { display: inline !important; float: left !important; }
"""

WIDGET_SCRIPT = "/advocacy/widget/widget.js"


def csp(live_server) -> str:
    """The README's directives for the widget, and nothing else beyond the embedding site's own files."""
    portal = live_server.url
    return (f"default-src 'none'; script-src 'self' {portal}; connect-src {portal}; img-src {portal}; "
            "style-src 'self'")


def embed(site, live_server, path: str, body: str, *, hostile: bool = False) -> str:
    """Serve ``body`` at ``path`` on the embedding site under the strict CSP; returns its URL."""
    site.page("/record.js", RECORDER)
    site.page("/hostile.css", HOSTILE_CSS)
    style = '<link rel="stylesheet" href="/hostile.css">' if hostile else ""
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Partner site</title>"
        f'<script src="/record.js"></script>{style}</head><body><main><h1>Partner site</h1>'
        f'{body.replace("WIDGET", live_server.url + WIDGET_SCRIPT)}'
        '<p id="after">The partner page goes on below the widget.</p></main></body></html>'
    )
    return site.page(path, html, {"Content-Security-Policy": csp(live_server)})


class Console:
    """Every console message and page error of a page, by type."""

    def __init__(self, page):
        self.messages: list[tuple[str, str]] = []
        page.on("console", lambda message: self.messages.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.messages.append(("pageerror", str(error))))

    def of(self, *types: str) -> list[str]:
        return [text for kind, text in self.messages if kind in types]


def open_page(new_context, url: str, **options):
    context = new_context(**options)
    page = context.new_page()
    console = Console(page)
    page.goto(url)
    return context, page, console


def wait_ready(page, count: int = 1) -> list:
    page.wait_for_function(f"() => window.__events.filter(e => e[0] === 'ready').length >= {count}")
    return page.evaluate("window.__events")


def token_for(app, customer, **kwargs) -> str:
    from advocacy_portal import get_portal

    with app.test_request_context():
        return get_portal(app).widget_token(customer, **kwargs)


def clicks(app) -> list[tuple[int, str]]:
    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import ReferralClick

    with app.app_context():
        return [(row.advocate_id, row.source) for row in get_session().scalars(select(ReferralClick))]


def shadow_styles(page, selector: str, inner: list[str]) -> dict:
    """Computed look of elements inside the widget's shadow root, and their heights."""
    return page.evaluate(
        """([selector, inner]) => {
          const host = document.querySelector(selector), root = host.shadowRoot, out = {};
          const rect = host.getBoundingClientRect();
          // Widths follow the room the page gives the widget (its body's margins, say): compare heights.
          out.height = Math.round(rect.height);
          for (const name of inner) {
            const element = root.querySelector(name), style = getComputedStyle(element);
            out[name] = ["font-family", "font-size", "color", "background-color", "padding-top", "margin-top",
                         "border-top-width", "line-height", "letter-spacing", "text-transform", "display"]
              .map(property => style.getPropertyValue(property));
            const box = element.getBoundingClientRect();
            out[name].push(Math.round(box.height));
          }
          return out;
        }""",
        [selector, inner],
    )


def test_referral_mode_shows_a_customers_link_copies_it_shares_it_and_counts_clicks_as_widget(
    app, live_server, embedding_site, new_context
):
    customer = make_customer(app, email="ada@example.com", name="Ada")
    token = token_for(app, customer)
    url = embed(embedding_site, live_server, "/account",
                f'<script src="WIDGET" data-mode="referral" data-token="{token}"></script>')
    context, page, console = open_page(new_context, url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=embedding_site.origin)
    events = wait_ready(page)
    assert events[0] == ["ready", {"mode": "referral", "signedIn": True}]

    widget = page.locator(".advocacy-widget")
    link_box = widget.get_by_role("textbox", name="Your referral link")
    link = link_box.input_value()
    assert link.startswith(live_server.url + "/r/") and link.endswith("?via=widget")
    expect(widget.get_by_role("heading", name="Test Shop referrals")).to_be_visible()
    expect(widget.get_by_text("You earn 10% of what each friend pays")).to_be_visible()

    # Keyboard: Tab reaches the link box, the copy button and every share link, in order.
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(page.evaluate(
            "() => { const a = document.activeElement.shadowRoot?.activeElement; return a && (a.getAttribute('aria-label') || a.textContent); }"))
    assert order == ["Your referral link", "Copy link", "Share on Email", "Share on X", "Share on LinkedIn",
                     "Share on WhatsApp", "Share on Facebook"]

    # Copy: the clipboard holds the link, the status says so (politely, to screen readers too).
    widget.get_by_role("button", name="Copy link").click()
    expect(widget.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert ["copy", {"link": link}] in page.evaluate("window.__events")

    # Share: each network's link carries the referral link; a click announces itself. The popup is
    # answered locally: nothing here goes to the internet.
    context.route("https://x.com/**", lambda route: route.fulfill(body="share stub", content_type="text/plain"))
    share_list = widget.get_by_role("list", name="Share on")
    labels = share_list.get_by_role("link").all_inner_texts()
    assert labels == ["Email", "X", "LinkedIn", "WhatsApp", "Facebook"]
    with page.expect_popup() as popup:
        share_list.get_by_role("link", name="Share on X").click()
    assert popup.value.url.startswith("https://x.com/intent/post?")
    assert ["share", {"network": "x", "link": link}] in page.evaluate("window.__events")

    # The QR code is the link's, drawn inline (no img-src needed).
    from advocacy_portal.services.widget import qr_path

    with app.app_context():
        expected = qr_path(link)
    qr = widget.get_by_role("img", name="QR code of your referral link")
    assert qr.locator("path").get_attribute("d") == expected["path"]

    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / "widget-referral.png"))

    # A friend follows the copied link: the click is counted as coming through the widget.
    friend = new_context().new_page()
    friend.goto(link)
    assert clicks(app) == [(clicks(app)[0][0], "widget")]
    assert page.evaluate("window.__shift") == 0, page.evaluate("window.__shifts")
    assert console.of("error", "pageerror", "warning") == []


def test_referral_mode_shows_the_call_to_action_for_no_forged_expired_or_deleted_tokens(
    app, live_server, embedding_site, new_context
):
    from sqlalchemy import delete

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate

    customer = make_customer(app)
    gone = make_customer(app)
    valid = token_for(app, customer)
    forged = valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB")
    with mock.patch("itsdangerous.timed.time.time", return_value=time.time() - 7200):
        expired = token_for(app, customer)
    deleted = token_for(app, gone)
    with app.app_context():
        get_session().execute(delete(Advocate).where(Advocate.user_id == str(gone.id)))
        get_session().commit()
    spots = "".join(
        f'<div data-advocacy-widget data-mode="referral" data-token="{token}" id="{name}"></div>'
        for name, token in [("none", ""), ("forged", forged), ("expired", expired), ("deleted", deleted),
                            ("garbage", "<script>alert(1)</script>")]
    )
    url = embed(embedding_site, live_server, "/blog", spots + '<script src="WIDGET" async></script>')
    _context, page, console = open_page(new_context, url)
    events = wait_ready(page, 5)
    assert [detail["signedIn"] for name, detail in events] == [False] * 5
    for name in ("none", "forged", "expired", "deleted", "garbage"):
        spot = page.locator(f"#{name}")
        cta = spot.get_by_role("link", name="Sign in to get your link")
        expect(cta).to_have_attribute("href", "http://" + live_server.url.split("//")[1] + "/advocacy/")
        expect(spot.get_by_role("textbox")).to_have_count(0)
        expect(spot.get_by_text("Give friends a warm welcome to Test Shop")).to_be_visible()
    page.locator("#forged").screenshot(path=str(ARTIFACTS / "widget-referral-anonymous.png"))
    assert console.of("error", "pageerror", "warning") == []


def publish(app, count: int = 4, **fields) -> None:
    staff = make_customer(app, staff=True)
    author = make_customer(app, name="Author")
    with app.app_context():
        from advocacy_portal import get_portal

        with app.test_request_context():
            get_portal(app).referral_link(author)
    for n in range(count):
        values = {"display_name": f"Customer {n + 1}", "role": "Owner, Shop", "rating": 5 - n % 5}
        values.update(fields)
        make_testimonial(app, author, state="approved", staff=staff, **values)


def test_testimonial_grid_and_carousel_show_stars_labels_and_referral_links(
    app, live_server, embedding_site, new_context
):
    publish(app, 4)
    url = embed(embedding_site, live_server, "/reviews",
                '<script src="WIDGET" data-mode="testimonials" data-limit="3"></script>'
                '<div data-advocacy-widget data-mode="testimonials" data-layout="carousel" id="carousel"'
                ' data-text-heading="Ils en parlent" data-theme="dark"></div>')
    _context, page, console = open_page(new_context, url)
    wait_ready(page, 2)
    grid = page.locator(".advocacy-widget")
    expect(grid.get_by_role("heading", name="What our customers say")).to_be_visible()
    cards = grid.get_by_role("listitem")
    expect(cards).to_have_count(3)
    first = cards.first
    expect(first.get_by_role("img", name="Rated 2 out of 5")).to_have_text("★★☆☆☆")
    join = first.get_by_role("link", name="Join Customer 4")
    assert join.get_attribute("href").startswith(live_server.url + "/r/")
    assert join.get_attribute("href").endswith("?via=widget")
    expect(grid.get_by_text("3.5 out of 5 from 4 testimonials")).to_be_visible()
    grid.screenshot(path=str(ARTIFACTS / "widget-testimonials-grid.png"))

    carousel = page.locator("#carousel")
    expect(carousel.get_by_role("heading", name="Ils en parlent")).to_be_visible()
    expect(carousel.get_by_role("group", name="1 of 4")).to_be_visible()
    carousel.get_by_role("button", name="Next").click()
    expect(carousel.get_by_role("group", name="2 of 4")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(carousel.get_by_role("group", name="3 of 4")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(carousel.get_by_role("group", name="4 of 4")).to_be_visible()
    background = carousel.evaluate("host => getComputedStyle(host.shadowRoot.querySelector('.w')).backgroundColor")
    assert background == "rgb(29, 30, 34)"  # data-theme="dark"
    carousel.screenshot(path=str(ARTIFACTS / "widget-testimonials-carousel.png"))

    # A friend follows a card's link: a widget click.
    friend = new_context().new_page()
    friend.goto(join.get_attribute("href"))
    assert [source for _advocate, source in clicks(app)] == ["widget"]
    assert page.evaluate("window.__shift") == 0, page.evaluate(
        "[window.__shifts, [...document.querySelectorAll('.advocacy-widget, #carousel')].map(h => [h.style.cssText, h.getBoundingClientRect().height])]")
    assert console.of("error", "pageerror", "warning") == []


def test_the_widget_writes_the_rating_as_the_wall_does(app, live_server, embedding_site, new_context):
    """One testimonial of 5 stars: "5.0 out of 5 from 1 testimonial" on the wall and in the widget alike."""
    publish(app, 1)
    url = embed(embedding_site, live_server, "/one", '<script src="WIDGET" data-mode="testimonials"></script>')
    _context, page, _console = open_page(new_context, url)
    wait_ready(page)
    expect(page.locator(".advocacy-widget").get_by_text("5.0 out of 5 from 1 testimonial", exact=True)).to_be_visible()
    wall = new_context().new_page()
    wall.goto("/advocacy/wall")
    expect(wall.get_by_text(re.compile(r"(^|\s)5\.0 out of 5 from 1 testimonial$"))).to_be_visible()


def test_the_page_does_not_move_while_the_widget_loads(app, live_server, embedding_site, new_context):
    """Space is reserved before the data arrives: nothing below the widget shifts (no layout shift)."""
    publish(app, 3)
    customer = make_customer(app)
    token = token_for(app, customer)
    for mode, attributes in [("referral", f'data-token="{token}"'), ("testimonials", 'data-limit="3"'),
                             ("testimonials", 'data-layout="carousel"')]:
        url = embed(embedding_site, live_server, f"/{mode}",
                    f'<script src="WIDGET" data-mode="{mode}" {attributes}></script>')
        context = new_context()

        def slow(route):
            time.sleep(0.4)
            route.continue_()

        context.route(f"{live_server.url}/advocacy/**/api/**", slow)
        context.route(f"{live_server.url}/advocacy/api/**", slow)
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        before = page.locator("#after").bounding_box()["y"]
        wait_ready(page)
        after = page.locator("#after").bounding_box()["y"]
        assert (mode, after) == (mode, before)
        assert page.evaluate("window.__shift") == 0, (mode, attributes, page.evaluate(
            "[window.__shifts, [...document.querySelectorAll('.advocacy-widget')].map(h => [h.style.cssText, h.getBoundingClientRect().height])]"))


def test_hostile_page_css_does_not_change_the_widget(app, live_server, embedding_site, new_context):
    publish(app, 2)
    token = token_for(app, make_customer(app))
    body = (f'<script src="WIDGET" data-mode="referral" data-token="{token}"></script>'
            '<div data-advocacy-widget data-mode="testimonials" data-limit="2" id="wall"></div>')
    looks = {}
    for hostile in (False, True):
        url = embed(embedding_site, live_server, f"/hostile-{hostile}", body, hostile=hostile)
        _context, page, console = open_page(new_context, url, viewport={"width": 1400, "height": 900})
        wait_ready(page, 2)
        looks[hostile] = (
            shadow_styles(page, ".advocacy-widget", [".w", "h2", "input", "button", "ul a", "svg"]),
            shadow_styles(page, "#wall", [".w", "h2", "article", "blockquote", "[role=img]"]),
        )
        if hostile:
            page.screenshot(path=str(ARTIFACTS / "widget-hostile-css.png"), full_page=True)
        assert console.of("error", "pageerror", "warning") == []
    for hostile_look, plain_look in zip(looks[True], looks[False]):
        differences = {key: (value, plain_look[key]) for key, value in hostile_look.items() if value != plain_look[key]}
        assert differences == {}, repr(differences)


def test_xss_payloads_in_testimonials_stay_inert_text_in_the_widget(app, live_server, embedding_site, new_context):
    bodies = batches(PAYLOADS, 4000)
    short = [payload for payload in PAYLOADS if len(payload) <= 80]
    assert len(bodies) <= 12
    staff = make_customer(app, staff=True)
    author = make_customer(app)
    for n, body in enumerate(bodies):
        make_testimonial(app, author, state="approved", staff=staff, body=body,
                         display_name=short[2 * n][:80], role=short[2 * n + 1][:80], rating=5)
    url = embed(embedding_site, live_server, "/xss",
                '<script src="WIDGET" data-mode="testimonials" data-limit="12"></script>')
    dialogs: list = []
    context = new_context()
    page = context.new_page()
    console = Console(page)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    wait_ready(page)
    problems = page.evaluate("""() => {
      const bad = [], root = document.querySelector('.advocacy-widget').shadowRoot;
      for (const element of root.querySelectorAll('*')) {
        for (const attribute of element.attributes) {
          if (attribute.name.startsWith('on')) bad.push(element.tagName + ' ' + attribute.name);
          if (/^(href|src)$/.test(attribute.name) && !/^https?:/.test(attribute.value)) bad.push(attribute.value);
        }
        if (/^(SCRIPT|IFRAME|OBJECT|EMBED|IMG|STYLE|TEMPLATE|FORM|BASE|META)$/.test(element.tagName)) bad.push(element.tagName);
        if (element.tagName === 'svg' && element.closest('article')) bad.push('svg in a card');
      }
      if (window.__xss) bad.push('window.__xss');
      return bad;
    }""")
    assert problems == []
    assert dialogs == []
    shown = page.locator(".advocacy-widget blockquote").all_text_contents()
    assert sorted(shown) == sorted(bodies)
    assert console.of("error", "pageerror") == []


def test_bad_embeds_each_get_one_clear_console_warning_and_no_broken_widget(
    app, live_server, embedding_site, new_context
):
    cases = {
        "missing-mode": ('<script src="WIDGET"></script>', "data-mode is missing"),
        "unknown-mode": ('<script src="WIDGET" data-mode="popup"></script>', 'unknown data-mode "popup"'),
        "twice": ('<script src="WIDGET" data-mode="testimonials"></script>' * 2, "loaded twice"),
    }
    for name, (body, warning) in cases.items():
        _context, page, console = open_page(new_context, embed(embedding_site, live_server, f"/{name}", body))
        if name == "twice":
            wait_ready(page)
            expect(page.locator(".advocacy-widget")).to_have_count(1)
        else:
            page.wait_for_load_state("load")
            assert page.evaluate("window.__events") == []
        warnings = console.of("warning")
        assert len(warnings) == 1 and warning in warnings[0], (name, console.messages)
        assert console.of("error", "pageerror") == [], name

    # The API fails or is slow: the widget takes no room and says why once.
    for name, handler in [("server-error", lambda route: route.fulfill(status=500, json={"error": {}})),
                          ("timeout", lambda route: None)]:
        context = new_context()
        context.route(f"{live_server.url}/advocacy/widget/api/**", handler)
        page = context.new_page()
        console = Console(page)
        page.goto(embed(embedding_site, live_server, f"/{name}",
                        '<script src="WIDGET" data-mode="referral" data-timeout="300"></script>'))
        page.wait_for_function("() => getComputedStyle(document.querySelector('.advocacy-widget')).display === 'none'")
        warnings = console.of("warning")
        assert len(warnings) == 1, console.messages
        assert ("HTTP 500" if name == "server-error" else "timed out") in warnings[0]
        assert page.evaluate("window.__events") == []

    # A site that is not on ADVOCACY_WIDGET_ORIGINS cannot read the data.
    app.config["ADVOCACY_WIDGET_ORIGINS"] = ()
    _context, page, console = open_page(
        new_context, embed(embedding_site, live_server, "/unlisted", '<script src="WIDGET" data-mode="testimonials"></script>'))
    page.wait_for_function("() => getComputedStyle(document.querySelector('.advocacy-widget')).display === 'none'")
    warnings = console.of("warning")
    assert len(warnings) == 1 and "ADVOCACY_WIDGET_ORIGINS" in warnings[0]
    assert page.evaluate("window.__events") == []


@pytest.mark.demo
def test_the_demo_shows_both_modes_on_another_origin(app, live_server, new_context):
    """The demo's "Widget on another site": the shop at 127.0.0.1 mints a token and sends the visitor to
    the partner page at localhost (another origin), which embeds both modes under a strict CSP."""
    from tests.browser.test_referral_flow import log_in

    publish(app, 3)
    port = live_server.url.rsplit(":", 1)[1]
    partner_origin = f"http://localhost:{port}"
    app.config["ADVOCACY_WIDGET_ORIGINS"] = (partner_origin,)
    customer = make_customer(app, email="ada@example.com")
    context = new_context()
    page = context.new_page()
    console = Console(page)
    log_in(page, customer)
    page.get_by_role("link", name="Widget on another site").click()
    page.wait_for_url(partner_origin + "/partner?token=*")
    expect(page.get_by_role("heading", name="Tools we love")).to_be_visible()
    referral = page.locator(".advocacy-widget")
    link = referral.get_by_role("textbox", name="Your referral link")
    expect(link).to_have_value(re.compile(re.escape(live_server.url) + r"/r/.+\?via=widget$"))
    expect(page.get_by_role("group", name="1 of 3")).to_be_visible()
    expect(page.get_by_role("heading", name="More reviews")).to_be_visible()
    expect(page.get_by_text("This origin is not in ADVOCACY_WIDGET_ORIGINS")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "widget-demo-partner.png"), full_page=True)
    assert console.of("error", "pageerror", "warning") == []

    # Signed out, the same page invites the visitor to sign in at the shop.
    anonymous = new_context().new_page()
    anonymous.goto(live_server.url + "/widget-demo")
    anonymous.wait_for_url(partner_origin + "/partner")
    expect(anonymous.locator(".advocacy-widget").get_by_role("link", name="Sign in to get your link")).to_be_visible()
