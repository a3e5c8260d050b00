"""The fake Stripe API through the real ``stripe`` SDK, and signed webhook events through ``stripe.Webhook``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
import stripe

from advocacy_portal.testing import stripe_events
from advocacy_portal.testing.stripe_server import make_stripe_client
from advocacy_portal.testing.stripe_server import FakeStripe
from advocacy_portal.testing.stripe_server import parse_params


def credit(client, customer_id, amount=-500, key=None, **extra):
    params = {"amount": amount, "currency": "usd", "description": "Referral reward", **extra}
    options = {"idempotency_key": key} if key else None
    return client.v1.customers.balance_transactions.create(customer_id, params=params, options=options)


@pytest.fixture
def customer(stripe_client):
    return stripe_client.v1.customers.create(params={"email": "ada@example.com", "metadata": {"advocate": "7"}})


# Customers and balance credits


def test_customer_has_stripe_shape_and_can_be_found_by_email(stripe_client, customer):
    stripe_client.v1.customers.create(params={"email": "other@example.com"})

    found = stripe_client.v1.customers.list(params={"email": "ada@example.com"})

    assert [item.id for item in found.data] == [customer.id]
    assert customer.id.startswith("cus_")
    assert customer.object == "customer" and customer.livemode is False and customer.balance == 0
    assert customer.metadata.to_dict() == {"advocate": "7"}


def test_update_merges_metadata_and_empty_value_unsets_a_key(stripe_client, customer):
    updated = stripe_client.v1.customers.update(
        customer.id, params={"email": "ada@new.example", "metadata": {"advocate": "", "tier": "gold"}})

    assert updated.email == "ada@new.example"
    assert stripe_client.v1.customers.retrieve(customer.id).metadata.to_dict() == {"tier": "gold"}


def test_balance_credit_lowers_the_customer_balance(stripe_client, customer):
    first = credit(stripe_client, customer.id, -500, metadata={"reward": "r1"})
    credit(stripe_client, customer.id, -250)

    assert first.id.startswith("cbtxn_") and first.object == "customer_balance_transaction"
    assert (first.amount, first.currency, first.ending_balance) == (-500, "usd", -500)
    assert first.metadata.to_dict() == {"reward": "r1"}
    refreshed = stripe_client.v1.customers.retrieve(customer.id)
    assert (refreshed.balance, refreshed.currency) == (-750, "usd")
    listed = stripe_client.v1.customers.balance_transactions.list(customer.id)
    assert [txn.amount for txn in listed.data] == [-250, -500]


def test_unknown_customer_is_404_resource_missing(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        credit(stripe_client, "cus_doesnotexist")

    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


def test_missing_amount_is_400_parameter_missing(stripe_client, customer):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.customers.balance_transactions.create(customer.id, params={"currency": "usd"})

    assert caught.value.http_status == 400
    assert (caught.value.code, caught.value.param) == ("parameter_missing", "amount")


def test_unknown_parameter_is_refused_like_stripe(stripe_client, customer):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        credit(stripe_client, customer.id, reward_id="r1")

    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "reward_id")


# Idempotency


def test_same_idempotency_key_replays_and_credits_once(stripe_client, fake_stripe, customer):
    first = credit(stripe_client, customer.id, key="reward-1")
    again = credit(stripe_client, customer.id, key="reward-1")

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -500
    assert len(fake_stripe.objects("customer_balance_transaction")) == 1
    posts = fake_stripe.requests_to("/v1/customers/*/balance_transactions", "POST")
    assert [(request.idempotency_key, request.replayed) for request in posts] == [
        ("reward-1", False), ("reward-1", True)]


def test_same_key_with_other_params_is_an_idempotency_error(stripe_client, customer):
    credit(stripe_client, customer.id, -500, key="reward-1")

    with pytest.raises(stripe.IdempotencyError) as caught:
        credit(stripe_client, customer.id, -900, key="reward-1")

    assert caught.value.http_status == 400
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -500


def test_idempotency_keys_are_per_api_key(fake_stripe, stripe_client, customer):
    other_client, other_http = make_stripe_client(fake_stripe, api_key="sk_test_another_account")
    try:
        first = credit(stripe_client, customer.id, key="reward-1")
        second = credit(other_client, customer.id, key="reward-1")
    finally:
        other_http.close()

    assert first.id != second.id
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -1000


def test_sdk_sends_an_idempotency_key_on_every_post(stripe_client, fake_stripe, customer):
    credit(stripe_client, customer.id)

    (request,) = fake_stripe.requests_to("/v1/customers/*/balance_transactions")
    assert request.idempotency_key
    assert request.stripe_version == stripe.api_version
    assert request.params == {"amount": "-500", "currency": "usd", "description": "Referral reward"}


# Fault injection


def test_fail_next_raises_api_error_and_a_retry_with_the_same_key_succeeds(stripe_client, fake_stripe, customer):
    fake_stripe.fail_next("POST", "/v1/customers/*/balance_transactions")

    with pytest.raises(stripe.APIError) as caught:
        credit(stripe_client, customer.id, key="reward-1")
    assert caught.value.http_status == 500
    assert stripe_client.v1.customers.retrieve(customer.id).balance == 0

    retried = credit(stripe_client, customer.id, key="reward-1")

    assert retried.last_response.headers.get("Idempotent-Replayed") is None
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -500
    assert [request.fault for request in fake_stripe.requests_to("/v1/customers/*/balance_transactions")] == [
        "fail", None]


def test_fail_next_can_answer_a_rate_limit(stripe_client, fake_stripe, customer):
    fake_stripe.fail_next("POST", "/v1/coupons", status=429, error_type="invalid_request_error", code="rate_limit",
                          message="Too many requests", times=2)

    for _ in range(2):
        with pytest.raises(stripe.RateLimitError):
            stripe_client.v1.coupons.create(params={"percent_off": 10})

    assert stripe_client.v1.coupons.create(params={"percent_off": 10}).percent_off == 10


def test_hang_with_effect_times_out_and_the_retry_replays_the_applied_credit(stripe_client, fake_stripe, customer):
    fake_stripe.hang_next("POST", "/v1/customers/*/balance_transactions", seconds=3, apply=True)

    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        credit(stripe_client, customer.id, key="reward-1")
    assert time.monotonic() - started < 2.5

    retried = credit(stripe_client, customer.id, key="reward-1")

    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.objects("customer_balance_transaction")) == 1
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -500


def test_hang_without_effect_times_out_and_the_retry_applies_once(stripe_client, fake_stripe, customer):
    fake_stripe.hang_next("POST", "/v1/customers/*/balance_transactions", seconds=3, apply=False)

    with pytest.raises(stripe.APIConnectionError):
        credit(stripe_client, customer.id, key="reward-1")
    assert fake_stripe.objects("customer_balance_transaction") == []

    retried = credit(stripe_client, customer.id, key="reward-1")

    assert retried.last_response.headers.get("Idempotent-Replayed") is None
    assert stripe_client.v1.customers.retrieve(customer.id).balance == -500


# Coupons, promotion codes, Checkout


def test_promotion_code_with_first_time_restriction(stripe_client, fake_stripe):
    coupon = stripe_client.v1.coupons.create(params={
        "amount_off": 1000, "currency": "usd", "duration": "once", "max_redemptions": 5,
        "metadata": {"advocate": "7"}})
    code = stripe_client.v1.promotion_codes.create(params={
        "promotion": {"type": "coupon", "coupon": coupon.id},
        "code": "ADA-FRIEND",
        "max_redemptions": 5,
        "restrictions": {"first_time_transaction": True, "minimum_amount": 2000, "minimum_amount_currency": "usd"},
        "metadata": {"advocate": "7"},
    })

    assert coupon.object == "coupon" and coupon.amount_off == 1000 and coupon.valid
    assert code.id.startswith("promo_") and code.code == "ADA-FRIEND" and code.active
    assert code.promotion.coupon == coupon.id
    assert code.restrictions.first_time_transaction is True
    assert (code.restrictions.minimum_amount, code.restrictions.minimum_amount_currency) == (2000, "usd")
    found = stripe_client.v1.promotion_codes.list(params={"code": "ada-friend"})
    assert [item.id for item in found.data] == [code.id]
    expanded = stripe_client.v1.promotion_codes.retrieve(code.id, params={"expand": ["promotion.coupon"]})
    assert expanded.promotion.coupon.amount_off == 1000
    (request,) = fake_stripe.requests_to("/v1/promotion_codes", "POST")
    assert request.params["restrictions"]["first_time_transaction"] == "true"


def test_promotion_code_needs_an_existing_coupon_and_a_free_code(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": "NOPE"}})
    assert (caught.value.http_status, caught.value.code) == (400, "resource_missing")

    coupon = stripe_client.v1.coupons.create(params={"percent_off": 15, "duration": "repeating",
                                                      "duration_in_months": 3})
    stripe_client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                    "code": "SAME"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id},
                                                        "code": "same"})
    assert caught.value.code == "resource_already_exists"


def test_coupon_needs_currency_with_amount_off(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.coupons.create(params={"amount_off": 500})

    assert (caught.value.code, caught.value.param) == ("parameter_missing", "currency")


def test_checkout_session_has_a_local_url(stripe_client, fake_stripe, customer):
    session = stripe_client.v1.checkout.sessions.create(params={
        "mode": "payment",
        "customer": customer.id,
        "client_reference_id": "advocate-7",
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 1250, "product_data": {"name": "Gift"}},
                        "quantity": 2}],
        "metadata": {"referral": "r9"},
        "payment_intent_data": {"metadata": {"referral": "r9"}},
        "success_url": "https://shop.example/ok",
    })

    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert (session.amount_total, session.currency, session.payment_status) == (2500, "eur", "unpaid")
    assert session.url.startswith(fake_stripe.base_url)
    with urllib.request.urlopen(session.url, timeout=2) as page:
        assert session.id in page.read().decode()
    (request,) = fake_stripe.requests_to("/v1/checkout/sessions")
    assert request.params["payment_intent_data"] == {"metadata": {"referral": "r9"}}


def test_subscription_data_is_refused_in_payment_mode(stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.checkout.sessions.create(params={
            "mode": "payment", "line_items": [{"price": "price_123", "quantity": 1}],
            "subscription_data": {"metadata": {"a": "b"}}})

    assert caught.value.param == "subscription_data"


def test_seeded_invoice_and_its_payments_can_be_retrieved(stripe_client, fake_stripe, customer):
    invoice = fake_stripe.put(stripe_events.invoice(customer=customer.id, amount_paid=1500))
    fake_stripe.put(stripe_events.invoice_payment(invoice_id=invoice["id"], amount_paid=1500, payment_intent="pi_123"))

    retrieved = stripe_client.v1.invoices.retrieve(invoice["id"])
    payments = stripe_client.v1.invoice_payments.list(params={"invoice": invoice["id"]})

    assert retrieved.parent.subscription_details.subscription == invoice["parent"]["subscription_details"][
        "subscription"]
    assert [payment.payment.payment_intent for payment in payments.data] == ["pi_123"]


# Authentication and the ways to point the SDK at the server


def test_request_without_api_key_is_401(fake_stripe):
    request = urllib.request.Request(f"{fake_stripe.base_url}/v1/customers")

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=2)

    assert caught.value.code == 401
    body = json.loads(caught.value.read())
    caught.value.close()
    assert body["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in body["error"]["message"]


def test_sdk_with_a_publishable_key_gets_authentication_error(fake_stripe):
    client, http_client = make_stripe_client(fake_stripe, api_key="pk_test_publishable")
    try:
        with pytest.raises(stripe.AuthenticationError) as caught:
            client.v1.customers.list()
    finally:
        http_client.close()

    assert caught.value.http_status == 401


def test_module_level_api_base_reaches_the_fake(stripe_globals):
    created = stripe.Customer.create(email="global@example.com")

    assert stripe.Customer.retrieve(created.id).email == "global@example.com"
    assert stripe_globals.requests_to("/v1/customers", "POST")[0].api_key == stripe_globals.api_key


def test_server_stops_cleanly_while_a_request_hangs():
    with FakeStripe() as server:
        client, http_client = make_stripe_client(server, timeout=0.3)
        server.hang_next("GET", "/v1/customers", seconds=30)
        with pytest.raises(stripe.APIConnectionError):
            client.v1.customers.list()
        http_client.close()
        started = time.monotonic()
    assert time.monotonic() - started < 2


def test_form_parsing_handles_nested_keys_and_lists():
    params = parse_params([("metadata[k]", "v"), ("expand[]", "a"), ("expand[]", "b"),
                           ("line_items[0][price_data][unit_amount]", "5"), ("line_items[1][price]", "p")])

    assert params == {"metadata": {"k": "v"}, "expand": ["a", "b"],
                      "line_items": [{"price_data": {"unit_amount": "5"}}, {"price": "p"}]}


# Signed webhook events


@pytest.mark.parametrize("build, event_type", [
    (lambda: stripe_events.checkout_session_completed(customer="cus_1", client_reference_id="7", amount_total=4200,
                                               metadata={"referral": "r1"}), "checkout.session.completed"),
    (lambda: stripe_events.checkout_session_async_payment_succeeded(mode="subscription"),
     "checkout.session.async_payment_succeeded"),
    (lambda: stripe_events.invoice_paid(customer="cus_1", billing_reason="subscription_cycle",
                                 subscription_metadata={"referral": "r1"}), "invoice.paid"),
    (lambda: stripe_events.charge_refunded(amount=5000, amount_refunded=2000), "charge.refunded"),
    (lambda: stripe_events.charge_dispute_created(charge="ch_1", payment_intent="pi_1"), "charge.dispute.created"),
    (lambda: stripe_events.charge_dispute_closed(charge="ch_1", status="won"), "charge.dispute.closed"),
])
def test_signed_events_are_accepted_by_the_sdk(build, event_type):
    built = build()
    body, headers = stripe_events.signed_request(built, stripe_events.WEBHOOK_SECRET)

    constructed = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], stripe_events.WEBHOOK_SECRET)

    assert constructed.id == built["id"] and constructed.id.startswith("evt_")
    assert constructed.type == event_type
    assert constructed.api_version == stripe.api_version
    assert constructed.livemode is False
    assert constructed.data.object.id == built["data"]["object"]["id"]


def test_event_shapes_follow_the_current_api():
    completed = stripe_events.checkout_session_completed(payment_status="unpaid", metadata={"referral": "r1"})
    session = completed["data"]["object"]
    assert (session["payment_status"], session["status"]) == ("unpaid", "complete")
    assert session["payment_intent"].startswith("pi_") and session["subscription"] is None

    paid = stripe_events.invoice_paid(customer="cus_1", subscription="sub_1", subscription_metadata={"referral": "r1"})
    invoice = paid["data"]["object"]
    assert invoice["parent"]["subscription_details"] == {"metadata": {"referral": "r1"}, "subscription": "sub_1"}
    assert "subscription" not in invoice and "payment_intent" not in invoice and "charge" not in invoice

    partial = stripe_events.charge_refunded(amount=5000, amount_refunded=2000)["data"]["object"]
    full = stripe_events.charge_refunded(amount=5000)["data"]["object"]
    assert (partial["refunded"], full["refunded"]) == (False, True)

    lost = stripe_events.charge_dispute_closed(charge="ch_1", amount=5000)
    assert lost["data"]["object"]["status"] == "lost" and lost["data"]["object"]["charge"] == "ch_1"


def test_signature_with_a_wrong_secret_is_rejected():
    body, headers = stripe_events.signed_request(stripe_events.invoice_paid(customer="cus_1"), "whsec_someone_else")

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], stripe_events.WEBHOOK_SECRET)


def test_changed_body_is_rejected():
    body, headers = stripe_events.signed_request(stripe_events.charge_refunded(amount=5000), stripe_events.WEBHOOK_SECRET)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"5000", b"9000"), headers["Stripe-Signature"],
                                       stripe_events.WEBHOOK_SECRET)


def test_old_timestamp_is_rejected():
    old = int(time.time()) - stripe.Webhook.DEFAULT_TOLERANCE - 10
    body, headers = stripe_events.signed_request(stripe_events.charge_refunded(), stripe_events.WEBHOOK_SECRET, timestamp=old)

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], stripe_events.WEBHOOK_SECRET)


def test_the_testing_kit_imports_without_pytest():
    """A demo or a benchmark uses the kit without the test extras: only the pytest plugin needs pytest."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['pytest'] = None\n"
            "import advocacy_portal.testing, advocacy_portal.testing.stripe_server\n"
            "import advocacy_portal.testing.stripe_events, advocacy_portal.testing.chromium\n")
    subprocess.run([sys.executable, "-c", code], check=True)
