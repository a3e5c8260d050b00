"""The local Stripe's Checkout discounts and hosted page, through the real SDK: the restrictions Stripe
checks on coupons and promotion codes, the totals, and a paid session delivered as a signed webhook."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from http.server import HTTPServer
from urllib.parse import urlencode

import pytest
import stripe

from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET


def line_items(amount=5000, currency="usd"):
    return [{"quantity": 1, "price_data": {"currency": currency, "unit_amount": amount,
                                           "product_data": {"name": "Plan"}}}]


@pytest.fixture
def shop(stripe_client):
    """A customer with a single-use $20 code of their own, and a second customer."""
    owner = stripe_client.v1.customers.create({"email": "owner@example.com"})
    other = stripe_client.v1.customers.create({"email": "other@example.com"})
    coupon = stripe_client.v1.coupons.create({"amount_off": 2000, "currency": "usd", "max_redemptions": 1})
    code = stripe_client.v1.promotion_codes.create({
        "promotion": {"type": "coupon", "coupon": coupon.id}, "code": "REWARD-ONE", "customer": owner.id,
        "max_redemptions": 1,
    })
    return owner, other, code


def session(client, customer, **params):
    return client.v1.checkout.sessions.create({
        "mode": "payment", "customer": customer, "line_items": line_items(), "success_url": "https://shop.test/ok",
        **params,
    })


def test_a_promotion_code_takes_its_amount_off_and_is_used_once(stripe_client, fake_stripe, shop):
    owner, _other, code = shop
    paid = session(stripe_client, owner.id, discounts=[{"promotion_code": code.id}])
    assert (paid.amount_subtotal, paid.amount_total, paid.total_details.amount_discount) == (5000, 3000, 2000)
    event = fake_stripe.complete_checkout(paid.id)
    obj = event["data"]["object"]
    assert obj["status"] == "complete" and obj["payment_status"] == "paid" and obj["payment_intent"].startswith("pi_")
    assert obj["discounts"] == [{"coupon": code.promotion.coupon, "promotion_code": code.id}]
    assert stripe_client.v1.promotion_codes.retrieve(code.id).times_redeemed == 1
    with pytest.raises(stripe.InvalidRequestError, match="This promotion code has expired"):
        session(stripe_client, owner.id, discounts=[{"promotion_code": code.id}])


@pytest.mark.parametrize("case, match", [
    ("other_customer", "cannot be redeemed by this customer"),
    ("both", "only specify one of these parameters: allow_promotion_codes, discounts"),
    ("two", "only specify one discount"),
    ("currency", "cannot be applied to a Checkout Session in EUR"),
    ("expired", "has expired"),
])
def test_stripes_restrictions_are_checked(stripe_client, fake_stripe, shop, case, match):
    owner, other, code = shop
    params = {"discounts": [{"promotion_code": code.id}]}
    customer = owner.id
    if case == "other_customer":
        customer = other.id
    elif case == "both":
        params["allow_promotion_codes"] = True
    elif case == "two":
        params["discounts"] = [{"promotion_code": code.id}, {"coupon": code.promotion.coupon}]
    elif case == "currency":
        params["line_items"] = line_items(currency="eur")
    elif case == "expired":
        fake_stripe._objects[code.id]["expires_at"] = int(time.time()) - 1
    with pytest.raises(stripe.InvalidRequestError, match=match):
        session(stripe_client, customer, **params)


def test_first_time_codes_percent_coupons_and_code_rules(stripe_client, fake_stripe, shop):
    owner, other, _code = shop
    coupon = stripe_client.v1.coupons.create({"percent_off": 15, "redeem_by": int(time.time()) + 3600})
    first = stripe_client.v1.promotion_codes.create({
        "promotion": {"type": "coupon", "coupon": coupon.id}, "restrictions": {"first_time_transaction": True}})
    assert session(stripe_client, other.id, discounts=[{"promotion_code": first.id}]).amount_total == 4250
    fake_stripe.complete_checkout(session(stripe_client, other.id).id)  # other has paid now
    with pytest.raises(stripe.InvalidRequestError, match="first-time customers"):
        session(stripe_client, other.id, discounts=[{"promotion_code": first.id}])
    with pytest.raises(stripe.InvalidRequestError, match="may not be after the coupon's `redeem_by`"):
        stripe_client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id},
                                                 "expires_at": int(time.time()) + 7200})
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):  # same customer, any case
        stripe_client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id},
                                                 "code": "reward-one", "customer": owner.id})


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_hosted_page_takes_a_code_pays_and_delivers_a_signed_webhook(stripe_client, fake_stripe, shop):
    owner, _other, code = shop
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        fake_stripe.add_webhook_endpoint(f"http://127.0.0.1:{receiver.server_port}/hook")
        checkout = session(stripe_client, owner.id, allow_promotion_codes=True,
                           success_url="https://shop.test/ok?session={CHECKOUT_SESSION_ID}")
        page = urllib.request.urlopen(checkout.url, timeout=5).read().decode()
        assert "Pay 50.00 USD" in page and "<label for='promotion_code'>Promotion code</label>" in page

        def pay(code_text):
            request = urllib.request.Request(checkout.url, data=urlencode({"promotion_code": code_text}).encode(),
                                             method="POST")

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *args, **kwargs):
                    return None

            try:
                return urllib.request.build_opener(NoRedirect).open(request, timeout=5)
            except urllib.error.HTTPError as answer:
                return answer

        refused = pay("NOPE")
        assert refused.status == 400 and "This code is invalid." in refused.read().decode()
        accepted = pay("reward-one")
        assert accepted.status == 303 and accepted.headers["Location"] == f"https://shop.test/ok?session={checkout.id}"
    finally:
        receiver.shutdown()
        receiver.server_close()
    ((body, signature),) = _Receiver.received
    event = stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    assert event.type == "checkout.session.completed" and event.data.object.amount_total == 3000
