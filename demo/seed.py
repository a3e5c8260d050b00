"""``flask --app wsgi advocacy seed-demo``: the demo's users, referral activity, testimonials and reviews."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from advocacy_portal import migrate
from advocacy_portal import Customer
from advocacy_portal.models import utcnow
from advocacy_portal.services import conversions
from advocacy_portal.services import referrals
from advocacy_portal.services import rewards
from advocacy_portal.services import testimonials
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.testing import stripe_events
from demo.extensions import db
from demo.models import User

DEMO_PASSWORD = "demo-password"


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed again even if demo users exist.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Demo host only: create the tables, demo users (password 'demo-password') and activity."""
    app = current_app._get_current_object()
    db.create_all()
    migrate.upgrade(app)
    if not force and db.session.scalar(select(User).limit(1)) is not None:
        click.echo("Demo data exists already (use --force to add more).")
        return

    rng = random.Random(7)
    password_hash = generate_password_hash(DEMO_PASSWORD)

    def user(email: str, name: str, staff: bool = False) -> User:
        found = db.session.scalar(select(User).where(User.email == email))
        if found is None:
            found = User(email=email, name=name, password_hash=password_hash, is_staff=staff)
            db.session.add(found)
            db.session.flush()
        return found

    user("staff@example.com", "Sam Staff", staff=True)
    alice = user("alice@example.com", "Alice Advocate")
    bob = user("bob@example.com", "Bob Builder")
    user("carol@example.com", "Carol Newcomer")

    agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    ]
    referrers = ["https://x.com/", "https://www.linkedin.com/feed/", None, "https://mail.example/"]
    now = utcnow()
    for advocate_user, clicks in ((alice, 24), (bob, 7)):
        advocate = referrals.ensure_advocate(advocate_user.id, advocate_user.email)
        for n in range(clicks):
            visit = referrals.Visit(
                ip=f"198.51.100.{rng.randrange(1, 250)}",
                user_agent=rng.choice(agents),
                referrer=rng.choice(referrers),
            )
            referrals.record_click(
                advocate, None, visit, now=now - timedelta(days=rng.randrange(0, 20), minutes=n)
            )
    alice_advocate = referrals.get_advocate(alice.id)
    for email, name in (
        ("dave@example.com", "Dave Friend"),
        ("erin@example.com", "Erin Friend"),
        ("frank@example.com", "Frank Friend"),
        ("gina@example.com", "Gina Friend"),
        ("hank@example.com", "Hank Friend"),
    ):
        friend = user(email, name)
        claim = AttributionClaim(alice_advocate.code, None, None, now - timedelta(days=45))
        referrals.attribute_signup(friend.id, friend.email, claim)
    # Bob tried to refer himself with a second address: refused and flagged.
    bob_advocate = referrals.get_advocate(bob.id)
    sneaky = user("bob+second@example.com", "Bob Again")
    referrals.attribute_signup(
        sneaky.id, sneaky.email, AttributionClaim(bob_advocate.code, None, None, now)
    )
    seed_demo_testimonials(now)
    db.session.commit()
    seed_demo_nps(now, rng, password_hash)
    db.session.commit()
    seed_demo_payments(now)
    click.echo(
        "Seeded demo users (password 'demo-password'): staff@example.com, alice@example.com, "
        "bob@example.com, carol@example.com and five of Alice's friends; payments in every state; "
        "six months of NPS answers and follow-up cases in every status."
    )


def seed_demo_payments(now) -> None:
    """Stripe payments in every state, recorded as the webhook records them: Alice's rewards show at
    once (one available to redeem, one pending, one voided by a refund, one held by a dispute), and
    customers who came through no link paid too, so referred revenue is a share, not all of it."""
    def paid(email: str, amount: int, days_ago: int, key: str) -> dict:
        found = db.session.scalar(select(User).where(User.email == email))
        session = stripe_events.checkout_session(
            amount_total=amount, client_reference_id=str(found.id), customer_email=email,
            metadata={"advocacy_user_id": str(found.id)}, payment_intent=f"pi_demo_{key}",
        )
        return stripe_events.event("checkout.session.completed", session,
                                   created=int((now - timedelta(days=days_ago)).timestamp()))

    events = [
        paid("dave@example.com", 9900, 40, "dave"),      # past the hold: available to redeem
        paid("frank@example.com", 4900, 2, "frank"),     # pending
        paid("gina@example.com", 12000, 20, "gina"),     # refunded in full below: reward voided
        paid("hank@example.com", 8000, 10, "hank"),      # disputed below: reward held at zero
        paid("carol@example.com", 29900, 30, "carol"),   # no referral: unreferred revenue
        paid("bob@example.com", 15900, 12, "bob"),
        paid("staff@example.com", 4900, 5, "staff"),
        stripe_events.charge_refunded(amount=12000, amount_refunded=12000, payment_intent="pi_demo_gina",
                                      charge_id="ch_demo_gina"),
        stripe_events.charge_dispute_created(charge="ch_demo_hank", payment_intent="pi_demo_hank",
                                             amount=8000, currency="usd"),
    ]
    for event in events:
        conversions.receive_event(event)
    rewards.release_due(now)
    db.session.commit()


def seed_demo_testimonials(now) -> None:
    """Testimonials and reviews in every state, with their audit history and referral clicks."""
    def customer(email: str) -> Customer:
        found = db.session.scalar(select(User).where(User.email == email))
        return Customer(id=str(found.id), email=found.email)

    staff = customer("staff@example.com")
    entries = [
        # author, kind, product, rating, title, body, name, role, consent, outcome
        ("alice@example.com", "testimonial", None, 5, None,
         "Demo Shop changed how our team buys supplies. Ordering takes minutes, and support answers "
         "within the hour. I recommend it to every small business I meet.",
         "Alice A.", "Owner, Alice's Bakery", "publish_named", "featured"),
        ("dave@example.com", "review", "pro", 4, "Worth the upgrade",
         "The Pro plan pays for itself: the reports alone save me an afternoon every month.",
         "Dave", "Freelance designer", "publish_named", "approve"),
        ("frank@example.com", "review", "pro", 5, "Solid and simple",
         "Setup took ten minutes and nothing has broken since. Exactly what I wanted.",
         "Frank", None, "publish_anonymous", "approve"),
        ("bob@example.com", "testimonial", None, 4, None,
         "Good prices and a friendly team. Delivery could be faster, but they keep you informed.",
         "Bob B.", "Builder", "publish_named", "pending"),
        ("carol@example.com", "review", "starter", 2, "Not for me",
         "Buy now!!! Visit my site for cheap watches and more great deals every day.",
         "Carol", None, "publish_named", "reject"),
        ("erin@example.com", "testimonial", None, 5, None,
         "I told three friends about Demo Shop already. Thank you for the great service!",
         "Erin", None, "publish_named", "withdraw"),
        ("dave@example.com", "testimonial", None, 3, None,
         "Private feedback: the checkout page is slow on my phone, please have a look at it.",
         "Dave", None, "do_not_publish", "approve"),
        ("frank@example.com", "testimonial", None, 5, None,
         "Great product, but the old landing page promised features you no longer offer.",
         "Frank", None, "publish_named", "unpublish"),
    ]
    for email, kind, product, rating, title, body, name, role, consent, outcome in entries:
        author = customer(email)
        submitted = testimonials.submit(
            author, nonce=secrets.token_urlsafe(24), kind=kind, product_key=product, rating=rating,
            title=title, body=body, display_name=name, role=role, consent=consent,
        ).testimonial
        if outcome in ("approve", "featured", "unpublish"):
            testimonials.moderate(submitted.id, "approve", staff)
        if outcome == "featured":
            testimonials.moderate(submitted.id, "feature", staff)
            start = submitted.body.index("Ordering")
            testimonials.set_highlight(submitted.id, staff, start, submitted.body.index(",", start))
        elif outcome == "reject":
            testimonials.moderate(submitted.id, "reject", staff, reason="fake")
        elif outcome == "unpublish":
            testimonials.moderate(submitted.id, "unpublish", staff, reason="Mentions an old offer.")
        elif outcome == "withdraw":
            testimonials.withdraw(submitted, author)
    # Visitors who followed the featured testimonial's link.
    featured = db.session.scalar(
        select(testimonials.Testimonial).where(testimonials.Testimonial.featured.is_(True))
    )
    advocate = referrals.get_advocate(featured.author_user_id)
    for n in range(5):
        visit = referrals.Visit(
            ip=f"192.0.2.{10 + n}",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
            referrer="https://shop.example/",
        )
        referrals.record_click(advocate, featured.campaign, visit, now=now - timedelta(hours=n))


def _months_before(month_start, months: int):
    """The first day of the month ``months`` before ``month_start``'s (negative: after it)."""
    index = month_start.year * 12 + month_start.month - 1 - months
    return month_start.replace(year=index // 12, month=index % 12 + 1)


def seed_demo_nps(now, rng, password_hash) -> None:
    """Six months of NPS surveys and answers (a trend that improves), some never answered, and
    follow-up cases in every status, one overdue."""
    from advocacy_portal.models import NpsCase
    from advocacy_portal.models import NpsCaseEvent
    from advocacy_portal.services import nps

    staff = Customer(id=str(db.session.scalar(select(User.id).where(User.email == "staff@example.com"))),
                     email="staff@example.com")
    comments = {
        "promoter": ["Fast delivery and friendly support.", "Exactly what I needed.", "Great value."],
        "passive": ["Fine, but the app is slow at times.", "Good, a bit pricey."],
        "detractor": ["My order arrived damaged.", "Support took a week to answer.", "Billed twice this month."],
    }
    cases = []
    serial = 0
    # Six calendar months, as the NPS trend groups them; the current one only once it is a few days
    # old (early in a month, a trend ending on a day's few answers would tell no story).
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    skip = 0 if now - this_month >= timedelta(days=4) else 1
    for months_ago in range(5, -1, -1):
        # Later months have more promoters and fewer detractors: the trend goes up.
        weights = [max(1, 4 - months_ago), 3, max(1, 1 + months_ago)]
        month_start = _months_before(this_month, months_ago + skip)
        month_end = min(_months_before(this_month, months_ago + skip - 1), now)
        span = month_end - month_start - timedelta(days=2)  # room for the answer, up to 48 h later
        for _ in range(9):
            serial += 1
            customer = User(email=f"survey{serial}@example.com", name=f"Survey Customer {serial}",
                            password_hash=password_hash)
            db.session.add(customer)
            db.session.flush()
            asked_at = month_start + span * rng.random()
            invitation = nps.send_survey(str(customer.id), customer.email,
                                         channel=rng.choice(["email", "email", "in_app"]))
            invitation.created_at = asked_at
            invitation.expires_at = asked_at + timedelta(days=30)
            if rng.random() < 0.2:
                continue  # asked, never answered: the response rate is under 100 %
            kind = rng.choices(["promoter", "passive", "detractor"], weights=weights)[0]
            score = {"promoter": rng.choice([9, 10]), "passive": rng.choice([7, 8]),
                     "detractor": rng.randint(0, 6)}[kind]
            invitation.expires_at = now + timedelta(days=1)  # answerable while seeding
            response, _first = nps.record_answer(invitation, score, rng.choice(comments[kind] + [None]),
                                                 invitation.channel)
            answered_at = asked_at + timedelta(hours=rng.randint(1, 48))
            invitation.expires_at = asked_at + timedelta(days=30)
            invitation.answered_at = response.created_at = response.updated_at = answered_at
            case = db.session.scalar(select(NpsCase).where(NpsCase.response_id == response.id))
            if case is not None:
                case.opened_at = case.updated_at = answered_at
                case.due_at = answered_at + timedelta(hours=48)
                for event in db.session.scalars(select(NpsCaseEvent).where(NpsCaseEvent.case_id == case.id)):
                    event.created_at = answered_at
                cases.append(case)
    db.session.flush()
    causes = {cause.label: cause for cause in nps.root_cause_choices()}
    # Older cases were resolved or closed; the newest ones are still being worked on.
    cases.sort(key=lambda case: case.opened_at)
    if len(cases) < 5:  # the seeded randomness always gives more; never fail a seed on it
        return
    newest = cases[-4:]
    for case in cases[:-4]:
        nps.assign(case, staff.id, staff.email, "Sam", staff)
        nps.post_message(case, "Sorry about this. We are on it and will update you tomorrow.", staff, "Sam")
        if rng.random() < 0.25:
            nps.set_status(case, "closed", staff)
        else:
            nps.set_status(case, "resolved", staff,
                           root_cause_id=causes[rng.choice(["Product defect", "Delivery or shipping",
                                                            "Billing", "Support response"])].id)
        case.resolved_at = case.opened_at + timedelta(days=rng.randint(1, 5)) if case.status == "resolved" else None
    statuses = ["open", "in_progress", "waiting_on_customer", "in_progress"]
    for case, status in zip(newest, statuses):
        if status != "open":
            nps.assign(case, staff.id, staff.email, "Sam", staff)
            nps.set_status(case, status, staff)
    # One open case is overdue, so the queue and the admin pages show it first.
    newest[0].due_at = now - timedelta(hours=6)
    # A customer's own "I have a problem" request, waiting for an owner.
    carol = db.session.scalar(select(User).where(User.email == "carol@example.com"))
    nps.open_case(str(carol.id), carol.email, source="request", subject="I cannot download my invoice",
                  body="The download button on the billing page does nothing.")
