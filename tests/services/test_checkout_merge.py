"""Checkout that merges: the shop's own Checkout Session parameters keep their metadata and email
handling, gain the plugin's tracing and the friend's discount, and the shop's own Stripe customer is
used instead of a duplicate; the friend's single-use code is never offered once it is spent."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import StripeCustomer
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import payments
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral

FRIEND_RULES = {"default": {**PERCENT_RULES["default"], "friend_reward": {"percent_off": 20}}, "campaigns": {}}


def shop_params(email: str) -> dict:
    """What a shop already sends: its own email, metadata, and line items."""
    return {
        "mode": "payment",
        "customer_email": email,
        "metadata": {"order_id": "A-1001"},
        "payment_intent_data": {"metadata": {"order_id": "A-1001"}, "statement_descriptor_suffix": "SHOP"},
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 5000,
                                                      "product_data": {"name": "Pro plan"}}}],
        "success_url": "https://shop.test/thanks",
        "allow_promotion_codes": True,
    }


def create_session(params: dict):
    return payments.stripe_client().v1.checkout.sessions.create(params)


@pytest.mark.settings(REWARD_RULES=FRIEND_RULES)
def test_the_shops_params_are_merged_and_stripe_accepts_them(stripe_app, fake_stripe):
    referred = make_referral(stripe_app)
    with stripe_app.test_request_context():
        merged = get_portal(stripe_app).merge_checkout_params(referred.friend, shop_params(referred.friend.email))
        session = create_session(merged)
    friend_id = str(referred.friend.id)
    assert "customer_email" not in merged and merged["customer"].startswith("cus_")
    assert merged["metadata"] == {"order_id": "A-1001", "advocacy_user_id": friend_id,
                                  "advocacy_referral_id": str(referred.referral_id)}
    assert merged["payment_intent_data"]["metadata"]["order_id"] == "A-1001"
    assert merged["payment_intent_data"]["statement_descriptor_suffix"] == "SHOP"
    assert merged["payment_intent_data"]["metadata"]["advocacy_user_id"] == friend_id
    # The friend's discount replaces the free-text box (Stripe takes one or the other).
    (promotion,) = fake_stripe.objects("promotion_code")
    assert merged["discounts"] == [{"promotion_code": promotion["id"]}] and "allow_promotion_codes" not in merged
    assert (session.amount_subtotal, session.amount_total) == (5000, 4000)
    assert session.metadata["order_id"] == "A-1001"


def test_without_the_helper_stripe_refuses_customer_and_customer_email_together(stripe_app, fake_stripe):
    user = make_customer(stripe_app)
    with stripe_app.test_request_context():
        ours = get_portal(stripe_app).checkout_params(user)
        with pytest.raises(stripe.InvalidRequestError, match="only specify one of these parameters"):
            create_session({**shop_params(user.email), **ours})


def test_the_shops_own_stripe_customer_is_used_and_mapped_not_duplicated(stripe_app, fake_stripe):
    user = make_customer(stripe_app)
    with stripe_app.app_context():
        shop_customer = payments.stripe_client().v1.customers.create({"email": user.email}).id
    portal = get_portal(stripe_app)
    asked = []

    @portal.stripe_customer
    def shop_stripe_customer(customer):
        asked.append(customer.id)
        return shop_customer if customer.id == str(user.id) else None

    try:
        with stripe_app.test_request_context():
            merged = portal.merge_checkout_params(user, shop_params(user.email))
            again = portal.merge_checkout_params(user, shop_params(user.email))
            rows = get_session().scalars(select(StripeCustomer)).all()
    finally:
        portal._stripe_customer_callback = None
    assert merged["customer"] == again["customer"] == shop_customer
    assert [(row.user_id, row.stripe_customer_id) for row in rows] == [(str(user.id), shop_customer)]
    assert len(fake_stripe.objects("customer")) == 1  # no duplicate
    assert asked == [str(user.id)]  # asked once, then mapped


def test_a_customer_the_shop_passes_itself_is_kept_and_mapped(stripe_app, fake_stripe):
    user = make_customer(stripe_app)
    with stripe_app.app_context():
        shop_customer = payments.stripe_client().v1.customers.create({"email": user.email}).id
    with stripe_app.test_request_context():
        merged = get_portal(stripe_app).merge_checkout_params(user, {**shop_params(user.email),
                                                                     "customer": shop_customer})
        create_session(merged)
        assert payments.stripe_customer_id_for(user.id) == shop_customer
    assert merged["customer"] == shop_customer and "customer_email" not in merged


@pytest.mark.settings(REWARD_RULES=FRIEND_RULES)
def test_the_friends_code_is_never_offered_once_used_so_the_second_checkout_works(stripe_app, fake_stripe):
    referred = make_referral(stripe_app)
    portal = get_portal(stripe_app)
    with stripe_app.test_request_context():
        first = create_session(portal.merge_checkout_params(referred.friend, shop_params(referred.friend.email)))
        assert portal.friend_promotion_code(referred.friend)
    event = fake_stripe.complete_checkout(first.id)
    # Before the webhook arrives: Stripe says the code is used up, so it is not offered.
    with stripe_app.test_request_context():
        assert portal.friend_promotion_code(referred.friend) is None
        second = create_session(portal.merge_checkout_params(referred.friend, shop_params(referred.friend.email)))
    assert second.amount_total == 5000 and "discounts" not in fake_stripe.requests_to(
        "/v1/checkout/sessions", "POST")[-1].params
    # After the webhook: the friend has paid, so the code is not even looked up.
    assert deliver(stripe_app.test_client(), event).status_code == 200
    lookups = len(fake_stripe.requests_to("/v1/promotion_codes/*", "GET"))
    with stripe_app.test_request_context():
        assert portal.friend_promotion_code(referred.friend) is None
    assert len(fake_stripe.requests_to("/v1/promotion_codes/*", "GET")) == lookups


@pytest.mark.settings(REWARD_RULES=FRIEND_RULES)
def test_an_expired_friend_code_is_not_offered(stripe_app, fake_stripe):
    referred = make_referral(stripe_app)
    portal = get_portal(stripe_app)
    with stripe_app.test_request_context():
        assert portal.friend_promotion_code(referred.friend)
    (promotion,) = fake_stripe.objects("promotion_code")
    fake_stripe._objects[promotion["id"]]["expires_at"] = 1  # long past
    with stripe_app.test_request_context():
        assert portal.friend_promotion_code(referred.friend) is None
        merged = portal.merge_checkout_params(referred.friend, shop_params(referred.friend.email))
    assert "discounts" not in merged and merged["allow_promotion_codes"] is True
