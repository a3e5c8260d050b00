"""Redeeming rewards as a single-use Stripe promotion code, against the local Stripe server: the code
is made exactly once whatever Stripe answers, is shown to its owner only, takes its amount off a
Checkout, and an expired unused code or a refunded order gives the amount back through the ledger."""

from __future__ import annotations

import pytest
import stripe

from advocacy_portal import Customer
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Redemption
from advocacy_portal.services import payments
from advocacy_portal.services import redemptions
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral

STAFF = Customer(id="1", email="staff@example.com")
CODES = dict(REDEMPTION_METHOD="promotion_code", PROMOTION_CODE_DAYS=30)


def funded(app, amount=5000, currency="usd"):
    referred = make_referral(app)
    with app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        rewards.post_adjustment(advocate, amount, currency, "Opening balance", STAFF)
        get_session().commit()
    return referred


def redeem(app, referred, amount, currency="usd") -> Redemption:
    with app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        redemption = redemptions.request_redemption(advocate, amount, currency)
        get_session().refresh(redemption)
        get_session().expunge(redemption)
        return redemption


def retry(app) -> redemptions.RetrySummary:
    with app.app_context():
        return redemptions.retry_pending()


def reload(app, redemption_id) -> Redemption:
    with app.app_context():
        redemption = get_session().get(Redemption, redemption_id)
        get_session().expunge(redemption)
        return redemption


def money(app, referred, currency="usd"):
    return flat(advocate_balances(app, referred.advocate_id), currency)


def codes(fake):
    return fake.objects("promotion_code")


@pytest.mark.settings(**CODES)
def test_a_code_for_the_amount_restricted_to_the_advocate_used_once_with_an_expiry(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    assert (redemption.state, redemption.method, redemption.code_state) == ("completed", "promotion_code", "issued")
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}
    (coupon,) = fake_stripe.objects("coupon")
    (code,) = codes(fake_stripe)
    assert (coupon["amount_off"], coupon["currency"], coupon["duration"], coupon["max_redemptions"]) == (
        2000, "usd", "once", 1)
    with stripe_app.app_context():
        customer = payments.stripe_customer_id_for(referred.advocate.id)
    assert code["customer"] == customer and code["max_redemptions"] == 1
    assert code["code"] == redemption.promotion_code and code["promotion"]["coupon"] == coupon["id"]
    expires = int(redemption.expires_at.replace(tzinfo=later(0).tzinfo).timestamp())
    assert code["expires_at"] == coupon["redeem_by"] == expires
    assert abs(expires - later(30).timestamp()) < 120
    # Nothing went to the customer balance.
    assert fake_stripe.objects("customer_balance_transaction") == []


@pytest.mark.settings(REDEMPTION_METHOD={"usd": "promotion_code", "*": "balance_credit"})
def test_the_method_is_chosen_per_currency(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    with stripe_app.app_context():
        rewards.post_adjustment(get_session().get(Advocate, referred.advocate_id), 4000, "eur", "EUR", STAFF)
        get_session().commit()
    assert redeem(stripe_app, referred, 1000, "usd").method == "promotion_code"
    assert redeem(stripe_app, referred, 1000, "eur").method == "balance_credit"
    assert len(codes(fake_stripe)) == 1
    assert [txn["currency"] for txn in fake_stripe.objects("customer_balance_transaction")] == ["eur"]


@pytest.mark.settings(**CODES)
@pytest.mark.parametrize("path", ["/v1/coupons", "/v1/promotion_codes"])
def test_a_refusal_4xx_at_either_step_returns_the_money(stripe_app, fake_stripe, path):
    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", path, status=400, error_type="invalid_request_error", message="Refused")
    redemption = redeem(stripe_app, referred, 2000)
    assert redemption.state == "failed" and "Refused" in redemption.last_error
    assert money(stripe_app, referred) == {"pending": 0, "available": 5000, "reserved": 0, "redeemed": 0}
    assert codes(fake_stripe) == []


@pytest.mark.settings(**CODES)
@pytest.mark.parametrize("path", ["/v1/coupons", "/v1/promotion_codes"])
def test_a_5xx_keeps_the_money_reserved_and_a_retry_makes_one_code(stripe_app, fake_stripe, path):
    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", path, status=500)
    redemption = redeem(stripe_app, referred, 2000)
    assert redemption.state == "unknown"
    assert money(stripe_app, referred)["reserved"] == 2000
    assert retry(stripe_app).completed == 1
    assert reload(stripe_app, redemption.id).state == "completed"
    assert len(codes(fake_stripe)) == 1 and len(fake_stripe.objects("coupon")) == 1
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}


@pytest.mark.settings(**CODES)
@pytest.mark.parametrize("applied", [False, True])
def test_a_timeout_applied_or_not_ends_in_exactly_one_code(stripe_app, fake_stripe, applied):
    referred = funded(stripe_app)
    fake_stripe.hang_next("POST", "/v1/promotion_codes", seconds=3, apply=applied)
    redemption = redeem(stripe_app, referred, 2000)
    assert redemption.state == "unknown"
    assert len(codes(fake_stripe)) == (1 if applied else 0)
    assert retry(stripe_app).completed == 1
    assert len(codes(fake_stripe)) == 1 and len(fake_stripe.objects("coupon")) == 1
    (code,) = codes(fake_stripe)
    assert reload(stripe_app, redemption.id).stripe_promotion_code_id == code["id"]
    # Every attempt sent the same Idempotency-Key for the same step.
    keys = {request.idempotency_key for request in fake_stripe.requests_to("/v1/promotion_codes", "POST")}
    assert keys == {redemption.idempotency_key + "-promotion"}


@pytest.mark.settings(**CODES)
def test_a_retry_after_stripe_forgot_the_keys_finds_the_code_instead_of_making_another(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    fake_stripe.hang_next("POST", "/v1/promotion_codes", seconds=3, apply=True)
    redemption = redeem(stripe_app, referred, 2000)
    assert redemption.state == "unknown"
    fake_stripe.forget_idempotency_keys()  # a day later
    assert retry(stripe_app).completed == 1
    assert len(codes(fake_stripe)) == 1 and len(fake_stripe.objects("coupon")) == 1
    assert money(stripe_app, referred)["redeemed"] == 2000


@pytest.mark.settings(**CODES)
def test_settling_twice_posts_and_calls_once(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    with stripe_app.app_context():
        redemptions.settle(get_session().get(Redemption, redemption.id))
    assert len(fake_stripe.requests_to("/v1/promotion_codes", "POST")) == 1
    assert money(stripe_app, referred)["redeemed"] == 2000


def _expire(app, days=31):
    with app.app_context():
        return redemptions.expire_codes(now=later(days))


@pytest.mark.settings(**CODES)
def test_an_unused_expired_code_returns_its_amount_and_is_switched_off(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    assert _expire(stripe_app, days=29) == redemptions.ExpirySummary(0, 0, 0)
    assert _expire(stripe_app) == redemptions.ExpirySummary(returned=1, used=0, failed=0)
    assert money(stripe_app, referred) == {"pending": 0, "available": 5000, "reserved": 0, "redeemed": 0}
    assert reload(stripe_app, redemption.id).code_state == "expired"
    assert codes(fake_stripe)[0]["active"] is False
    assert _expire(stripe_app) == redemptions.ExpirySummary(0, 0, 0)  # once only
    assert money(stripe_app, referred)["available"] == 5000


@pytest.mark.settings(**CODES)
def test_expiry_asks_stripe_first_a_used_code_keeps_its_amount_and_a_failure_waits(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    fake_stripe.fail_next("GET", "/v1/promotion_codes/*", status=500)
    assert _expire(stripe_app) == redemptions.ExpirySummary(0, 0, failed=1)
    assert reload(stripe_app, redemption.id).code_state == "issued"
    code = fake_stripe._objects[redemption.stripe_promotion_code_id]
    code["times_redeemed"] = 1  # used at a checkout whose webhook has not come yet
    assert _expire(stripe_app) == redemptions.ExpirySummary(0, used=1, failed=0)
    assert money(stripe_app, referred)["redeemed"] == 2000


def _checkout_with_code(app, client, fake, referred, redemption, amount=5000):
    """The advocate's own one-off Checkout at the local Stripe, paid with the code; the event delivered."""
    with app.app_context():
        customer = payments.stripe_customer_id_for(referred.advocate.id)
        session = payments.stripe_client().v1.checkout.sessions.create({
            "mode": "payment", "customer": customer, "allow_promotion_codes": True,
            "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": amount,
                                                          "product_data": {"name": "Pro plan"}}}],
            "success_url": "https://shop.test/thanks",
            "metadata": {"advocacy_user_id": str(referred.advocate.id)},
        })
    event = fake.complete_checkout(session.id, redemption.promotion_code.lower())
    assert deliver(client, event).status_code == 200
    return event["data"]["object"]


@pytest.mark.settings(**CODES)
def test_the_code_takes_its_amount_off_a_checkout_once(stripe_app, fake_stripe, client):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    paid = _checkout_with_code(stripe_app, client, fake_stripe, referred, redemption)
    assert (paid["amount_subtotal"], paid["amount_total"]) == (5000, 3000)
    assert reload(stripe_app, redemption.id).code_state == "used"
    # A second checkout with the used code is refused, as Stripe refuses it.
    with stripe_app.app_context(), pytest.raises(stripe.InvalidRequestError, match="expired"):
        payments.stripe_client().v1.checkout.sessions.create({
            "mode": "payment", "customer": redemption.stripe_customer_id, "success_url": "https://shop.test/",
            "discounts": [{"promotion_code": redemption.stripe_promotion_code_id}],
            "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 5000,
                                                          "product_data": {"name": "Pro"}}}],
        })


@pytest.mark.settings(**CODES)
def test_refunds_of_the_order_that_used_the_code_return_the_refunded_share(stripe_app, fake_stripe, client):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    paid = _checkout_with_code(stripe_app, client, fake_stripe, referred, redemption)
    charge = dict(amount=3000, currency="usd", payment_intent=paid["payment_intent"], charge_id="ch_code_1")
    assert deliver(client, stripe_events.charge_refunded(amount_refunded=1500, **charge)).status_code == 200
    assert money(stripe_app, referred) == {"pending": 0, "available": 4000, "reserved": 0, "redeemed": 1000}
    # The same refund again, then the rest: all of the code back, never more.
    assert deliver(client, stripe_events.charge_refunded(amount_refunded=1500, **charge)).status_code == 200
    assert deliver(client, stripe_events.charge_refunded(amount_refunded=3000, **charge)).status_code == 200
    assert money(stripe_app, referred) == {"pending": 0, "available": 5000, "reserved": 0, "redeemed": 0}
    assert reload(stripe_app, redemption.id).returned_minor == 2000


@pytest.mark.settings(**CODES)
def test_a_dispute_of_the_order_returns_nothing(stripe_app, fake_stripe, client):
    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    paid = _checkout_with_code(stripe_app, client, fake_stripe, referred, redemption)
    event = stripe_events.charge_dispute_created(charge="ch_code_2", payment_intent=paid["payment_intent"],
                                                 amount=3000, currency="usd")
    assert deliver(client, event).status_code == 200
    assert money(stripe_app, referred)["redeemed"] == 2000


@pytest.mark.settings(**CODES)
def test_the_rewards_page_shows_the_code_with_a_copy_button_to_its_owner_only(stripe_app, fake_stripe, auth, client):
    from tests.helpers import csrf_token
    from tests.helpers import make_customer

    referred = funded(stripe_app)
    auth.login(referred.advocate)
    page = client.get("/advocacy/rewards/").get_data(as_text=True)
    assert "Redeem $50.00 as a promotion code" in page
    confirm = client.get("/advocacy/rewards/redeem?currency=usd").get_data(as_text=True)
    assert "promotion code worth" in confirm and "works once, for 30 days" in confirm
    answer = client.post("/advocacy/rewards/redeem", data={
        "advocacy-redeem-csrf_token": csrf_token(client, "/advocacy/rewards/redeem?currency=usd"),
        "advocacy-redeem-currency": "usd", "advocacy-redeem-amount_minor": "5000", "advocacy-redeem-confirm": "y",
    }, follow_redirects=True)
    page = answer.get_data(as_text=True)
    (code,) = codes(fake_stripe)
    assert f"Your promotion code for $50.00 is ready: {code['code']}" in page
    assert f'value="{code["code"]}" readonly' in page and "Copy code" in page
    assert f"Code <code>{code['code']}</code>" in page  # kept in the history
    auth.logout()
    auth.login(make_customer(stripe_app))
    assert code["code"] not in client.get("/advocacy/rewards/").get_data(as_text=True)


@pytest.mark.settings(**CODES)
def test_staff_see_the_code_and_what_became_of_it_on_the_advocates_page(stripe_app, fake_stripe, auth, client):
    from tests.helpers import make_customer

    referred = funded(stripe_app)
    redemption = redeem(stripe_app, referred, 2000)
    _expire(stripe_app)
    auth.login(make_customer(stripe_app, staff=True))
    page = client.get(f"/advocacy/admin/advocates/{referred.advocate_id}").get_data(as_text=True)
    assert f"<code>{redemption.promotion_code}</code>" in page
    assert "Completed (code expired, $20.00 returned)" in page
