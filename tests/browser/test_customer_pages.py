"""Every customer page and the demo's own chrome, as people see them: at 1280 and 390 px, in the light
and the dark colour scheme, through axe-core, the contrast of every link and button as rendered, and
nothing wider than the screen (``look_at``). Screenshots go to ``test-artifacts/``.

Runs on the demo host (``wsgi.py``), its Stripe calls going to the local Stripe-compatible server.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from advocacy_portal.testing import stripe_events
from tests.browser.a11y import look_at
from tests.browser.test_referral_flow import expect
from tests.browser.test_referral_flow import log_in
from tests.helpers import make_customer
from tests.rewards_helpers import WEBHOOK_PATH
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial

pytestmark = [pytest.mark.browser, pytest.mark.demo]

BOTH = ("light", "dark")
RULES = {
    "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                "min_purchase_minor": 0, "monthly_cap_minor": None, "friend_reward": {"percent_off": 15}},
    "campaigns": {},
}


def pay(live_server, referred, amount_minor: int, payment_intent: str) -> None:
    event = stripe_events.checkout_session_completed(
        amount_total=amount_minor, metadata=referred.metadata, client_reference_id=str(referred.friend.id),
        payment_intent=payment_intent,
    )
    body, headers = stripe_events.signed_request(event)
    request = urllib.request.Request(live_server.url + WEBHOOK_PATH, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200, response.read()


def release(app) -> None:
    from advocacy_portal.db import get_session
    from advocacy_portal.services import rewards

    with app.app_context():
        rewards.release_due(now=later(31))
        get_session().commit()


@pytest.mark.settings(REWARD_RULES=RULES, REDEMPTION_MINIMUM_MINOR=500)
def test_every_customer_page_and_the_demo_chrome(stripe_app, live_server, new_context, fake_stripe):
    app = stripe_app
    staff = make_customer(app, staff=True)
    advocate = make_customer(app, name="Sam Advocate")
    for rating, name, role in ((5, "Nora Named", "Owner, Nora's Bakery"), (5, "Ola Other", None),
                               (4, "Pia Plant", "Florist")):
        make_testimonial(app, advocate, state="approved", staff=staff, rating=rating, display_name=name, role=role)
    make_testimonial(app, advocate, display_name="Sam Advocate")  # waiting for review, on "Your testimonials"

    page = new_context().new_page()
    log_in(page, advocate)
    page.goto("/advocacy/")
    link = page.locator("#advocacy-link").input_value()

    # --- a visitor: the home page with the host macro's wall, the wall, login, the demo's 404 ---
    visitor = new_context().new_page()
    visitor.goto("/")
    wall = visitor.locator(".advocacy-wall")
    expect(wall.get_by_text("4.7 out of 5 from 3 testimonials")).to_be_visible()
    assert wall.locator(".advocacy-testimonial").first.evaluate("e => getComputedStyle(e).borderStyle") == "solid"
    look_at(visitor, "customer-home", schemes=BOTH)
    visitor.goto("/advocacy/wall")
    expect(visitor.get_by_text("4.7 out of 5 from 3 testimonials")).to_be_visible()
    look_at(visitor, "customer-wall", schemes=BOTH)
    visitor.goto("/login")
    look_at(visitor, "demo-login", schemes=BOTH)
    visitor.goto("/no-such-page")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Page not found")
    look_at(visitor, "demo-404", schemes=BOTH)
    # An expired login form: the demo's own friendly 400, with the way back.
    visitor.goto("/login")
    visitor.locator('input[name="csrf_token"]').evaluate("e => e.value = 'expired'")
    visitor.get_by_label("Email").fill("someone@example.com")
    visitor.get_by_label("Password").fill("whatever")
    visitor.get_by_role("button", name="Log in").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("This form expired")
    expect(visitor.get_by_role("link", name="Log in again")).to_be_visible()
    look_at(visitor, "demo-csrf-400", schemes=BOTH)

    # --- the friend: the landing page tells them who invited them and what they get ---
    friend = new_context().new_page()
    friend.goto(link)
    expect(friend).to_have_url(live_server.url + "/signup")
    welcome = friend.get_by_role("region", name="A friend invited you: welcome!")
    expect(welcome).to_contain_text("You get 15% off your first purchase.")
    look_at(friend, "friend-landing", schemes=BOTH)

    # --- the advocate ---
    page.goto("/advocacy/")
    offer = page.get_by_role("region", name="The offer")
    expect(offer).to_contain_text("You earn 10% of what each friend pays, for their first payment.")
    expect(offer).to_contain_text("Your friend gets 15% off their first purchase.")
    page.get_by_label("Your first name, as friends will see it").fill("Sam")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Friends you invite now read “Sam invited you”.")).to_be_visible()
    look_at(page, "customer-referral", schemes=BOTH)
    friend.reload()
    expect(friend.get_by_role("heading", name="Sam invited you: welcome!")).to_be_visible()

    # Their own link takes them to their own page, with a note.
    page.goto(link)
    expect(page).to_have_url(live_server.url + "/advocacy/")
    expect(page.get_by_text("That is your own referral link")).to_be_visible()

    # Rewards: nothing yet, then one available, one pending, one redeemed.
    page.goto("/advocacy/rewards/")
    expect(page.get_by_text("No rewards yet.")).to_be_visible()
    look_at(page, "customer-rewards-empty", schemes=BOTH)
    first = make_referral(app, advocate=advocate)
    pay(live_server, first, 13800, "pi_customer_pages_1")
    release(app)
    second = make_referral(app, advocate=advocate)
    pay(live_server, second, 4000, "pi_customer_pages_2")
    page.goto("/advocacy/rewards/")
    redeem = page.get_by_role("link", name="Redeem $13.80 as account credit")
    expect(redeem).to_be_visible()
    colours = redeem.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert colours[0] != colours[1], colours  # the button that used to be blue on blue
    expect(page.get_by_text("available on")).to_be_visible()
    redeem.click()
    look_at(page, "customer-redeem", schemes=BOTH)
    page.get_by_label("I want this amount as credit on my account").check()
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("$13.80 is now credit on your account")).to_be_visible()
    history = page.get_by_role("region", name="History")
    expect(history.get_by_text("+$13.80")).to_have_count(1)  # no second +$13.80 for the same redemption
    expect(page.get_by_role("region", name="Redemptions").get_by_role("listitem")).to_have_count(1)
    expect(page.locator("progress.advocacy-progress")).to_have_count(1)
    look_at(page, "customer-rewards", schemes=BOTH)

    # Testimonials: their own list, and the form with its star picker, counter and preview.
    page.goto("/advocacy/testimonials/")
    write = page.get_by_role("link", name="Write a testimonial").last
    colours = write.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert colours[0] != colours[1], colours
    look_at(page, "customer-testimonials-mine", schemes=BOTH)
    write.click()
    expect(page.get_by_role("navigation", name="Your Demo Shop referrals")).to_be_visible()
    page.get_by_role("button", name="Send my testimonial").click()  # empty: the error summary
    summary = page.get_by_role("alert").get_by_role("listitem")
    expect(summary.first).to_contain_text("Your rating")
    texts = summary.all_inner_texts()
    assert texts == ["Your rating: Choose a rating from 1 to 5 stars.", "Your words: Write a few words.",
                     "Name to show: Tell us the name to show.", "May we publish it? Choose whether we may publish it."]
    look_at(page, "customer-testimonial-errors", schemes=BOTH)
    # The star picker is keyboard friendly: focus a star, arrow keys choose.
    page.get_by_label("3 stars: fine").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("4 stars: good")).to_be_checked()
    body = page.get_by_label("Your words")
    body.fill("Lovely shop, quick delivery.")
    expect(page.locator("#body-counter")).to_contain_text("28 of 2,000 characters")
    page.get_by_label("Name to show").fill("Sam A.")
    preview = page.get_by_role("region", name="Preview: how it will look once published")
    expect(preview).to_contain_text("Lovely shop, quick delivery.")
    expect(preview.get_by_role("img", name="Rated 4 stars out of 5")).to_have_text("★★★★☆")
    # The preview follows the consent: no name when anonymous, a note when not to be published.
    page.get_by_label("You may publish my testimonial without my name or photo.").check()
    expect(preview).to_contain_text("Anonymous customer")
    expect(preview).not_to_contain_text("Sam A.")
    page.get_by_label("Do not publish my testimonial; it is feedback for the team only.").check()
    expect(preview.get_by_text("You chose not to publish it")).to_be_visible()
    look_at(page, "customer-testimonial-form-private", schemes=BOTH)
    page.get_by_label("You may publish my testimonial with my name, role and photo.").check()
    expect(preview.get_by_text("You chose not to publish it")).to_be_hidden()
    expect(preview).to_contain_text("Sam A.")
    look_at(page, "customer-testimonial-form", schemes=BOTH)
    page.goto("/advocacy/reviews/new")
    expect(page.get_by_text("You may publish my review with the name I give.")).to_be_visible()
    expect(page.get_by_text("role and photo")).to_have_count(0)
    # Its error summary lists the fields in the order the page shows them, each linking to its field.
    page.get_by_role("button", name=re.compile("^Send")).click()
    links = page.get_by_role("alert").get_by_role("link")
    expect(links.first).to_be_visible()
    targets = [href.lstrip("#") for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))")]
    assert len(targets) >= 3, targets
    on_page = page.evaluate("ids => ids.map(id => [...document.querySelectorAll('[id]')].findIndex(e => e.id === id))",
                            targets)
    assert -1 not in on_page and on_page == sorted(on_page), (targets, on_page)
    look_at(page, "customer-review-errors", schemes=BOTH)
    look_at(page, "customer-review-form", schemes=BOTH)

    # An expired logout form: the demo's friendly 400 says they are still logged in, and they are.
    page.locator('form[action="/logout"] input[name="csrf_token"]').evaluate("e => e.value = 'expired'")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form expired")
    expect(page.get_by_text("You were not logged out")).to_be_visible()
    look_at(page, "demo-logout-csrf-400", schemes=BOTH)
    page.get_by_role("button", name="Log out").click()  # the error page's own header: a fresh token
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()


def post_event(live_server, event: dict) -> None:
    body, headers = stripe_events.signed_request(event)
    request = urllib.request.Request(live_server.url + WEBHOOK_PATH, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200, response.read()


#: Tables that scroll sideways inside their box when they must, and how far each one does at a width.
SIDEWAYS_JS = """() => [...document.querySelectorAll('.advocacy-table-scroll, .advocacy-scroll')]
  .map(box => box.scrollWidth - box.clientWidth)"""

#: The balance figures that break over two lines ("$265.8" above "1"), as their text.
BROKEN_FIGURES_JS = """() => [...document.querySelectorAll('.advocacy-stat dd')].filter(dd => {
  const range = document.createRange();
  range.selectNodeContents(dd.firstChild);
  return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1;
}).map(dd => dd.textContent.trim())"""

#: Friends with the longest addresses a real list holds: the masked address keeps the whole domain.
LONG_DOMAINS = ("customer-experience.northwind-traders-international.example",
                "mail.example", "accounts.payable.contoso-holdings.example")


def redeem_all(page) -> None:
    page.goto("/advocacy/rewards/")
    page.get_by_role("link", name="as account credit").click()
    page.get_by_label("I want this amount as credit on my account").check()
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("is now credit on your account")).to_be_visible()


@pytest.mark.settings(REWARD_RULES=RULES, REDEMPTION_MINIMUM_MINOR=500, FRAUD_VELOCITY_COUNT=9)
def test_a_busy_referral_page_and_a_long_rewards_history_fit_a_phone(stripe_app, live_server, new_context, fake_stripe):
    """The pages with a real program's data: a dozen friends (long addresses, paying or not), payments,
    a refund and a dispute, pending rewards (two held for review: the tenth and eleventh payment within an
    hour) and two redemptions. Nothing reaches past a 390 px screen,
    and the tables fit their boxes there: nobody has to scroll sideways to read a friend's status."""
    app = stripe_app
    advocate = make_customer(app, name="Maximiliana Advocate-Featherstonehaugh")
    referred = [make_referral(app, advocate=advocate,
                              friend_email=f"friend.number.{n}@{LONG_DOMAINS[n % len(LONG_DOMAINS)]}")
                for n in range(12)]
    amounts = (13800, 4000, 25000, 9900, 120000, 5000)
    for n, amount in enumerate(amounts):
        pay(live_server, referred[n], amount, f"pi_busy_{n}")
    # Part of one payment is refunded, another is disputed: both lines say which.
    post_event(live_server, stripe_events.charge_refunded(amount=25000, amount_refunded=10000,
                                                         payment_intent="pi_busy_2", charge_id="ch_busy_2"))
    post_event(live_server, stripe_events.charge_dispute_created(charge="ch_busy_3", payment_intent="pi_busy_3",
                                                                 amount=9900))
    release(app)

    page = new_context().new_page()
    log_in(page, advocate)
    redeem_all(page)
    for n in (6, 7):
        pay(live_server, referred[n], 7500, f"pi_busy_{n}")
    release(app)
    redeem_all(page)
    for n in (8, 9, 10):
        pay(live_server, referred[n], 31000 + n, f"pi_busy_{n}")  # pending: "available on <date>"

    page.goto("/advocacy/")
    table = page.get_by_role("table", name="Your latest referrals")
    expect(table.get_by_role("row")).to_have_count(13)  # the header and 12 friends
    expect(table.get_by_text("Paying customer")).to_have_count(11)
    expect(table.get_by_text("f***@customer-experience.northwind-traders-international.example").first).to_be_visible()
    look_at(page, "customer-referral-busy", schemes=BOTH)
    page.set_viewport_size({"width": 390, "height": 900})
    assert all(extra <= 0 for extra in page.evaluate(SIDEWAYS_JS)), page.evaluate(SIDEWAYS_JS)

    page.goto("/advocacy/rewards/")
    expect(page.get_by_role("region", name="Redemptions").get_by_role("listitem")).to_have_count(2)
    pending = page.get_by_role("region", name="On its way").get_by_role("listitem")
    expect(pending).to_have_count(3)
    expect(pending.first).to_contain_text("available on")
    # A reward held for review will not be released on its date, so it does not promise one.
    expect(pending.filter(has_text="being checked by our team")).to_have_count(2)
    look_at(page, "customer-rewards-busy", schemes=BOTH)
    for width in (1280, 390, 360):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(BROKEN_FIGURES_JS) == [], width
    assert all(extra <= 0 for extra in page.evaluate(SIDEWAYS_JS)), page.evaluate(SIDEWAYS_JS)
    # The history goes on over pages; its older lines say what was refunded and what is disputed.
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
    history = page.get_by_role("region", name="History")
    expect(history.get_by_text("part of the payment was refunded")).to_be_visible()
    expect(history.get_by_text("the payment is disputed", exact=False)).to_be_visible()
    look_at(page, "customer-rewards-busy-page-2", schemes=BOTH)
    page.set_viewport_size({"width": 390, "height": 900})
    assert all(extra <= 0 for extra in page.evaluate(SIDEWAYS_JS)), page.evaluate(SIDEWAYS_JS)
