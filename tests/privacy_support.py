"""A customer present in every plugin table, for the privacy tests: the advocate side (clicks, a friend,
the friend's payment, a reward, an adjustment, a redemption, a testimonial with a photo, emails,
webhook messages, audit entries) and the friend side (referred by another advocate, then paying)."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import select

from advocacy_portal import Customer
from advocacy_portal.db import get_session
from advocacy_portal.models import Base
from advocacy_portal.models import Testimonial
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import redemptions
from advocacy_portal.services import referrals
from advocacy_portal.services import rewards
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.services.webhook_events import EVENT_TYPES
from advocacy_portal.testing import stripe_events
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup
from tests.rewards_helpers import deliver
from tests.testimonials_support import moderate
from tests.testimonials_support import png_bytes
from tests.testimonials_support import submit_testimonial

#: The rule of the privacy tests: 10% of a friend's first payment, and a friend discount code.
PRIVACY_RULES = {
    "default": {"type": "percent", "percent": 10, "currency": "usd", "recurring_months": 0,
                "min_purchase_minor": 0, "monthly_cap_minor": None, "friend_reward": {"percent_off": 10}},
    "campaigns": {},
}


@dataclass
class Subject:
    """The person (``user``), their name, the other advocate and friend, and their old link path."""

    user: object
    name: str
    other_advocate: object
    friend: object
    link_path: str
    advocate_id: int
    staff: object


def build_subject(app, fake_stripe, receiver=None) -> Subject:
    token = uuid.uuid4().hex[:8]
    name = f"Adelina Quintessa {token}"
    staff = make_customer(app, f"staff-{token}@shop.test", staff=True, name="Sam Staff")
    person = _customer_with_distinct_id(app, f"adelina.q+{token}@example.com", name)
    other = make_customer(app, f"other-{token}@example.com", name="Otto Other")
    if receiver is not None:
        with app.app_context():
            outgoing_webhooks.create_endpoint(receiver.url, "CRM", list(EVENT_TYPES),
                                              Customer(str(staff.id), staff.email))
            get_session().commit()

    # Friend side: the person followed the other advocate's link, signed up, and paid.
    with app.app_context():
        other_row = referrals.ensure_advocate(other.id, other.email)
        referrals.attribute_signup(person.id, person.email, AttributionClaim(other_row.code, None, None,
                                                                             rewards.utcnow()))
        get_session().commit()
    from advocacy_portal import get_portal

    with app.app_context():
        get_portal(app).friend_promotion_code(person)
    client = app.test_client()
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=8000, payment_intent=f"pi_subject_{token}", metadata={"advocacy_user_id": str(person.id)},
        client_reference_id=str(person.id), customer_email=person.email,
    ))

    # Advocate side: the widget shows the person's link (its QR code is kept); a friend clicks the
    # link, signs up and pays.
    with app.test_request_context("/"):
        get_portal(app).widget_token(person)
    path = referral_path(app, person)
    visitor = app.test_client()
    assert follow(visitor, path).status_code == 302
    friend_email = f"friend-{token}@example.com"
    assert signup(visitor, friend_email, name="Fred Friend").status_code == 302
    with app.app_context():
        friend_id = get_session().execute(sa.text("select id from shop_users where email = :e"),
                                          {"e": friend_email}).scalar_one()
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=5000, payment_intent=f"pi_friend_{token}", metadata={"advocacy_user_id": str(friend_id)},
        client_reference_id=str(friend_id), customer_email=friend_email,
    ))
    staff_customer = Customer(str(staff.id), staff.email)
    with app.app_context():
        advocate = referrals.get_advocate(person.id)
        # Staff memos name the person (erasure must scrub them from the append-only ledger too).
        rewards.post_adjustment(advocate, 3000, "usd", f"Thank you bonus for {name} <{person.email}>",
                                staff_customer)
        get_session().commit()
        redemptions.request_redemption(advocate, 1000, "usd", requested_by=Customer(str(person.id), person.email))
        advocate_id = advocate.id

    # A testimonial with a photo, approved (published email, webhook, audit).
    author = app.test_client()
    login(author, person)
    response = submit_testimonial(author, display_name=name, photo=(io.BytesIO(png_bytes()), "me.png", "image/png"))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    with app.app_context():
        testimonial_id = get_session().scalar(select(Testimonial.id).where(Testimonial.author_user_id == str(person.id)))
    moderate(app, testimonial_id, "approve", staff)

    # An NPS survey answered as a detractor (a follow-up case with a reply), and an unsubscribe.
    from advocacy_portal.services import nps

    with app.test_request_context("/"):
        invitation = nps.send_survey(str(person.id), person.email)
        _response, _first = nps.record_answer(invitation, 3, f"Slow delivery, says {name}", "email")
        case = get_session().scalar(select(nps.NpsCase).where(nps.NpsCase.user_id == str(person.id)))
        nps.customer_reply(case, f"Still waiting, {name}")
        nps.unsubscribe(str(person.id), person.email)
        get_session().commit()

    # A fraud review of one of the advocate's rewards (approved by staff) and a household allowance.
    from advocacy_portal.models import Conversion
    from advocacy_portal.models import FraudAllowance
    from advocacy_portal.models import FraudReview
    from advocacy_portal.models import Referral

    with app.app_context():
        session = get_session()
        conversion_id = session.scalar(select(Conversion.id).join(Referral, Conversion.referral_id == Referral.id)
                                       .where(Referral.advocate_id == advocate_id).limit(1))
        assert conversion_id is not None
        session.add(FraudReview(conversion_id=conversion_id, advocate_id=advocate_id, state="approved",
                                rules=["similar_email"], detail="looks alike", amount_minor=500, currency="usd",
                                decided_by_user_id=str(staff.id),
                                decision_reason=f"Known household: {person.email} confirmed by phone"))
        session.add(FraudAllowance(kind="pair", advocate_id=advocate_id, friend_user_id=str(person.id),
                                   reason=f"{name} lives with their friend"))
        session.commit()

    # What staff wrote about the person elsewhere: a note on someone else's case, a key's label.
    from advocacy_portal.services import api_keys

    with app.test_request_context("/"):
        other_case = nps.open_case(str(other.id), other.email, source="request", subject="Where is my order?")
        nps.add_note(other_case, f"Same courier as {name} ({person.email.upper()})", staff_customer, "Sam")
        api_keys.create_key(f"CRM sync, asked by {name}", ["advocates:read"], staff_customer)
        get_session().commit()

    class Friend:
        id = friend_id
        email = friend_email

    return Subject(person, name, other, Friend, path, advocate_id, staff)


def _customer_with_distinct_id(app, email, name):
    """A host user whose id (7 digits) cannot be mistaken for another row's number in a search."""
    import random

    from werkzeug.security import generate_password_hash

    from tests.helpers import PASSWORD
    from tests.helpers import CustomerRef
    from tests.helpers import host_of

    host = host_of(app)
    with app.app_context():
        user = host.User(id=random.randint(7_000_000, 7_999_999), email=email, name=name,
                         password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), is_staff=False)
        host.db.session.add(user)
        host.db.session.commit()
        return CustomerRef(id=user.id, email=user.email)


def text_columns(table):
    return [column for column in table.columns
            if isinstance(column.type, (sa.String, sa.Text, sa.JSON))]


def find_traces(app, user_id, needles) -> list[tuple[str, str, object]]:
    """Every (table, column, row id) of the plugin's tables where ``user_id`` (7 digits, see
    :func:`build_subject`) or a needle (email, name) occurs anywhere in a text or JSON value,
    case-insensitively."""
    import json

    found = []
    needles = [needle.lower() for needle in needles]
    with app.app_context():
        connection = get_session().connection()
        for table in Base.metadata.sorted_tables:
            columns = text_columns(table)
            if not columns:
                continue
            for row in connection.execute(select(table)).mappings():
                for column in columns:
                    value = row[column.key]
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value)
                    if str(user_id) in text or any(needle in text.lower() for needle in needles):
                        found.append((table.name, column.key, row.get("id")))
    return found
