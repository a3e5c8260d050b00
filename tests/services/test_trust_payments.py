"""Trust labels and testimonial revenue come from the payments Stripe reports."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.services import testimonial_queries
from advocacy_portal.services import trust
from advocacy_portal.testing import stripe_events
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import stored_testimonials


def _pay(app, customer, amount, **fields):
    event = stripe_events.checkout_session_completed(
        amount_total=amount, client_reference_id=str(customer.id),
        metadata={"advocacy_user_id": str(customer.id)}, **fields,
    )
    assert deliver(app.test_client(), event).status_code == 200


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_paying_customer_is_verified_and_a_rewarded_advocate_is_incentivised(stripe_app):
    referred = make_referral(stripe_app)
    direct = make_customer(stripe_app)
    with stripe_app.app_context():
        assert not trust.is_verified_customer(direct.id)
        assert trust.incentive_for(referred.advocate.id) is None
    _pay(stripe_app, direct, 3000)              # a customer who came on their own
    _pay(stripe_app, referred.friend, 9000)     # a referred friend: their advocate earns a reward
    with stripe_app.app_context():
        assert trust.is_verified_customer(direct.id)
        assert trust.is_verified_customer(referred.friend.id)
        assert "earned referral rewards" in trust.incentive_for(referred.advocate.id)
        assert trust.incentive_for(direct.id) is None

    staff = make_customer(stripe_app, staff=True)
    make_testimonial(stripe_app, direct, state="approved", staff=staff)
    make_testimonial(stripe_app, referred.advocate, state="approved", staff=staff)
    labels = {row["author_user_id"]: (row["verified_customer"], row["incentivised"])
              for row in stored_testimonials(stripe_app)}
    assert labels[str(direct.id)] == (True, False)
    assert labels[str(referred.advocate.id)] == (False, True)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_staff_see_the_revenue_each_testimonial_brought(stripe_app):
    author = make_customer(stripe_app)
    staff = make_customer(stripe_app, staff=True)
    testimonial_id = make_testimonial(stripe_app, author, state="approved", staff=staff)
    campaign = f"t{testimonial_id}"
    through_it = make_referral(stripe_app, campaign=campaign, advocate=author)
    _pay(stripe_app, through_it.friend, 12000, payment_intent="pi_from_testimonial")
    refund = stripe_events.charge_refunded(amount=12000, amount_refunded=2000, payment_intent="pi_from_testimonial",
                                    metadata=through_it.metadata)
    assert deliver(stripe_app.test_client(), refund).status_code == 200
    # Somebody else's link with the same campaign name is not this testimonial's revenue.
    impostor = make_referral(stripe_app, campaign=campaign)
    _pay(stripe_app, impostor.friend, 50000)

    with stripe_app.app_context():
        figures = testimonial_queries.referral_figures(
            [testimonial_queries.get_own(testimonial_id, author.id)]
        )[testimonial_id]
    assert figures.revenue == {"usd": 10000}
    assert figures.signups == 1

    client = stripe_app.test_client()
    login(client, staff)
    page = client.get(f"/advocacy/admin/testimonials/{testimonial_id}").get_data(as_text=True)
    assert re.search(r"\$100\.00", page), "the moderation page shows the testimonial's net revenue"
