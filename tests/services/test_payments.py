"""Payments from Stripe's events to the ledger: every event type, every order, the reward rules,
the Checkout helper and the friend's promotion code, through the real webhook and the real SDK."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import signals
from advocacy_portal.db import get_session
from advocacy_portal import get_portal
from advocacy_portal.models import Conversion
from advocacy_portal.models import Referral
from advocacy_portal.models import Reward
from advocacy_portal.models import StripeCustomer
from advocacy_portal.services import payments
from advocacy_portal.testing import stripe_events
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral
from tests.rewards_helpers import snapshot


def rules(**default) -> dict:
    return {"default": {**PERCENT_RULES["default"], **default}, "campaigns": {}}


def pending(app, referred, currency="usd") -> int:
    return flat(advocate_balances(app, referred.advocate_id), currency)["pending"]


def one_payment(referred, n: int, amount: int = 5000):
    """The events of one payment: paid, partly refunded, disputed, dispute closed."""
    payment_intent, charge = f"pi_perm_{n}", f"ch_perm_{n}"
    return {
        "paid": stripe_events.checkout_session_completed(
            amount_total=amount, payment_intent=payment_intent, metadata=referred.metadata,
            client_reference_id=str(referred.friend.id),
        ),
        "refunded": stripe_events.charge_refunded(
            amount=amount, amount_refunded=2000, payment_intent=payment_intent, charge_id=charge
        ),
        "disputed": stripe_events.charge_dispute_created(charge=charge, payment_intent=payment_intent, amount=amount),
    }


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
@pytest.mark.parametrize("closing", ["won", "lost"])
def test_every_order_of_paid_refunded_and_disputed_gives_the_same_ledger(stripe_app, closing):
    client = stripe_app.test_client()
    finals = set()
    names = ["paid", "refunded", "disputed", "closed"]
    for n, order in enumerate(itertools.permutations(names)):
        referred = make_referral(stripe_app)
        payment = one_payment(referred, n)
        payment["closed"] = stripe_events.charge_dispute_closed(
            status=closing, charge=f"ch_perm_{n}", payment_intent=f"pi_perm_{n}"
        )
        for name in order:
            response = deliver(client, payment[name])
            assert response.status_code == 200, (order, response.get_data(as_text=True))
            # Stripe retries: a duplicate of every event changes nothing.
            assert deliver(client, payment[name]).get_json()["duplicate"] is True
        finals.add(tuple(sorted(flat(advocate_balances(stripe_app, referred.advocate_id)).items())))
    # 10% of 5000 = 500; the refund of 2000 of 5000 takes 200; a won dispute keeps 300, a lost one 0.
    expected = 300 if closing == "won" else 0
    assert finals == {(("available", 0), ("pending", expected), ("redeemed", 0), ("reserved", 0))}
    with stripe_app.app_context():
        assert get_session().scalar(select(func.count()).select_from(Conversion)) == 24
    snapshot(stripe_app)  # verifies the whole ledger


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_partial_refunds_take_back_in_proportion_and_only_the_largest_total_counts(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=9999, payment_intent="pi_partial", metadata=referred.metadata))
    assert pending(stripe_app, referred) == 999  # 10% rounded down
    deliver(client, stripe_events.charge_refunded(amount=9999, amount_refunded=3333, payment_intent="pi_partial",
                                           charge_id="ch_partial"))
    assert pending(stripe_app, referred) == 999 * 6666 // 9999
    # A late, older refund event (smaller cumulative total) changes nothing.
    deliver(client, stripe_events.charge_refunded(amount=9999, amount_refunded=1000, payment_intent="pi_partial",
                                           charge_id="ch_partial"))
    assert pending(stripe_app, referred) == 666
    deliver(client, stripe_events.charge_refunded(amount=9999, amount_refunded=9999, payment_intent="pi_partial",
                                           charge_id="ch_partial"))
    assert pending(stripe_app, referred) == 0
    with stripe_app.app_context():
        reward = get_session().scalar(select(Reward))
        assert (reward.status, reward.amount_minor, reward.pending_minor) == ("void", 999, 0)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_an_async_payment_is_rewarded_when_it_succeeds(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    fields = dict(amount_total=4000, payment_intent="pi_async", session_id="cs_async", metadata=referred.metadata)
    deliver(client, stripe_events.checkout_session_completed(payment_status="unpaid", **fields))
    assert pending(stripe_app, referred) == 0
    with stripe_app.app_context():
        assert get_session().scalar(select(Conversion)).reward_outcome == "not_paid"
    deliver(client, stripe_events.checkout_session_async_payment_succeeded(**fields))
    assert pending(stripe_app, referred) == 400
    deliver(client, stripe_events.checkout_session_async_payment_failed(**fields))  # not a payment fact: ignored
    assert pending(stripe_app, referred) == 400


def subscription_invoices(referred, months: int, amount: int = 2000, subscription: str = "sub_friend"):
    start = int(time.time()) - 86400 * 31 * months
    invoices = []
    for month in range(months):
        event = stripe_events.invoice_paid(
            customer=f"cus_{referred.friend.id}", subscription=subscription, amount_paid=amount,
            subscription_metadata=referred.metadata,
            billing_reason="subscription_create" if month == 0 else "subscription_cycle",
        )
        event["data"]["object"]["status_transitions"]["paid_at"] = start + month * 86400 * 31
        invoices.append(event)
    return invoices


@pytest.mark.settings(REWARD_RULES=rules(type="fixed", amount_minor=300, percent=None, recurring_months=3))
def test_recurring_rewards_for_n_months_then_none_in_any_order(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    invoices = subscription_invoices(referred, 5)
    # The subscription's checkout teaches the plugin who the customer is; it is not itself a payment.
    deliver(client, stripe_events.checkout_session_completed(
        mode="subscription", customer=f"cus_{referred.friend.id}", client_reference_id=str(referred.friend.id),
        subscription="sub_friend", metadata=referred.metadata))
    # The latest invoices arrive first: they are rewarded until the earlier ones push them out.
    for event in reversed(invoices):
        assert deliver(client, event).status_code == 200
    assert pending(stripe_app, referred) == 900
    with stripe_app.app_context():
        outcomes = [
            conversion.reward_outcome
            for conversion in get_session().scalars(select(Conversion).order_by(Conversion.paid_at))
        ]
        assert outcomes == ["rewarded"] * 3 + ["not_rewarded_payment"] * 2
    snapshot(stripe_app)


@pytest.mark.settings(REWARD_RULES=rules(recurring_months=0))
def test_first_payment_only_by_default(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    for event in subscription_invoices(referred, 3):
        deliver(client, event)
    deliver(client, stripe_events.checkout_session_completed(amount_total=10000, metadata=referred.metadata))
    assert pending(stripe_app, referred) == 200  # 10% of the first invoice only


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_refund_before_the_invoice_payment_link_still_reaches_the_invoice(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    invoice = subscription_invoices(referred, 1, amount=4000)[0]
    invoice_id = invoice["data"]["object"]["id"]
    deliver(client, invoice)
    assert pending(stripe_app, referred) == 400
    deliver(client, stripe_events.charge_refunded(amount=4000, amount_refunded=4000, payment_intent="pi_invoice"))
    assert pending(stripe_app, referred) == 400  # the refund names a payment intent not yet linked
    deliver(client, stripe_events.invoice_payment_paid(invoice_id=invoice_id, amount_paid=4000,
                                                payment_intent="pi_invoice"))
    assert pending(stripe_app, referred) == 0
    with stripe_app.app_context():
        conversion = get_session().scalar(select(Conversion))
        assert (conversion.invoice_id, conversion.payment_intent_id, conversion.refunded_minor) == (
            invoice_id, "pi_invoice", 4000)
        assert get_session().scalar(select(func.count()).select_from(Conversion)) == 1


@pytest.mark.settings(REWARD_RULES=rules(min_purchase_minor=3000))
def test_payments_below_the_minimum_are_stored_but_not_rewarded(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    deliver(client, stripe_events.checkout_session_completed(amount_total=2999, metadata=referred.metadata))
    assert pending(stripe_app, referred) == 0
    with stripe_app.app_context():
        assert get_session().scalar(select(Conversion)).reward_outcome == "below_minimum"
    other = make_referral(stripe_app)
    deliver(client, stripe_events.checkout_session_completed(amount_total=3000, metadata=other.metadata))
    assert pending(stripe_app, other) == 300


@pytest.mark.settings(REWARD_RULES=rules(type="fixed", amount_minor=1000, percent=None, monthly_cap_minor=2500))
def test_the_monthly_cap_limits_what_one_advocate_earns(stripe_app):
    client = stripe_app.test_client()
    first = make_referral(stripe_app)
    friends = [first] + [make_referral(stripe_app, advocate=first.advocate) for _ in range(3)]
    for referred in friends:
        deliver(client, stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata))
    assert pending(stripe_app, first) == 2500
    with stripe_app.app_context():
        amounts = sorted(reward.amount_minor for reward in get_session().scalars(select(Reward)))
        assert amounts == [500, 1000, 1000]
        outcomes = sorted(c.reward_outcome for c in get_session().scalars(select(Conversion)))
        assert outcomes == ["monthly_cap_reached", "rewarded", "rewarded", "rewarded"]
    # Another advocate has a cap of their own.
    other = make_referral(stripe_app)
    deliver(client, stripe_events.checkout_session_completed(amount_total=5000, metadata=other.metadata))
    assert pending(stripe_app, other) == 1000


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_unrewarded_currencies_and_empty_amounts_are_stored_with_their_reason(stripe_app, caplog):
    client = stripe_app.test_client()
    cases = {"currency_not_rewarded": dict(amount_total=5000, currency="eur")}
    for outcome, fields in cases.items():
        referred = make_referral(stripe_app)
        with caplog.at_level("INFO"):
            assert deliver(client, stripe_events.checkout_session_completed(metadata=referred.metadata, **fields)).status_code == 200
        assert outcome in caplog.text
        assert flat(advocate_balances(stripe_app, referred.advocate_id), "eur")["pending"] == 0
        assert pending(stripe_app, referred) == 0
    negative = make_referral(stripe_app)
    event = stripe_events.checkout_session_completed(metadata=negative.metadata)
    event["data"]["object"]["amount_total"] = -500
    # A negative amount is no payment Stripe makes: rejected with its reason, no conversion.
    answer = deliver(client, event)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "rejected"
    assert "amount out of range" in answer.get_json()["reason"]
    with stripe_app.app_context():
        outcomes = sorted(c.reward_outcome for c in get_session().scalars(select(Conversion)))
        assert outcomes == ["currency_not_rewarded"]
    # A paid payment of zero is refused the same way: never counted, never rewarded.
    free = make_referral(stripe_app)
    answer = deliver(client, stripe_events.checkout_session_completed(metadata=free.metadata, amount_total=0))
    assert answer.get_json()["outcome"] == "rejected" and "not a positive amount" in answer.get_json()["reason"]
    assert snapshot(stripe_app) == {}


@pytest.mark.settings(REWARD_RULES={**PERCENT_RULES, "campaigns": {"vip": {"type": "fixed", "amount_minor": 2500}}})
def test_campaign_rules_override_the_default(stripe_app):
    client = stripe_app.test_client()
    vip = make_referral(stripe_app, campaign="vip")
    plain = make_referral(stripe_app)
    for referred in (vip, plain):
        deliver(client, stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata))
    assert (pending(stripe_app, vip), pending(stripe_app, plain)) == (2500, 500)
    with stripe_app.app_context():
        rule = get_session().scalar(select(Reward).where(Reward.advocate_id == vip.advocate_id)).rule
        assert rule["type"] == "fixed" and rule["amount_minor"] == 2500


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_paying_friend_is_marked_and_signals_follow_the_commit(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    received = []
    converted = lambda app, **kw: received.append(("converted", kw["conversion"].amount_minor))  # noqa: E731
    posted = lambda app, **kw: received.append(("posted", kw["reason"]))  # noqa: E731
    signals.referral_converted.connect(converted)
    signals.reward_posted.connect(posted)
    try:
        event = stripe_events.checkout_session_completed(amount_total=5000, metadata=referred.metadata)
        deliver(client, event)
        deliver(client, event)
    finally:
        signals.referral_converted.disconnect(converted)
        signals.reward_posted.disconnect(posted)
    assert sorted(received) == [("converted", 5000), ("posted", "reward.accrue")]
    with stripe_app.app_context():
        assert get_session().get(Referral, referred.referral_id).first_paid_at is not None


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_checkout_params_trace_the_payment_back_to_the_referral(stripe_app, fake_stripe):
    referred = make_referral(stripe_app)
    with stripe_app.test_request_context():
        portal = get_portal(stripe_app)
        params = portal.checkout_params(referred.friend)
        again = portal.checkout_params(referred.friend, mode="subscription")
        # The README's example, against the local Stripe server.
        session = payments.stripe_client().v1.checkout.sessions.create({
            **params,
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 5000,
                                           "product_data": {"name": "Plan"}}, "quantity": 1}],
            "success_url": "https://shop.test/thanks",
        })
        mapped = get_session().scalars(select(StripeCustomer)).all()
    friend_id = str(referred.friend.id)
    assert params["client_reference_id"] == friend_id
    assert params["metadata"] == {"advocacy_user_id": friend_id, "advocacy_referral_id": str(referred.referral_id)}
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert again["subscription_data"]["metadata"] == params["metadata"]
    assert again["customer"] == params["customer"]
    assert [(row.user_id, row.stripe_customer_id) for row in mapped] == [(friend_id, params["customer"])]
    assert len(fake_stripe.requests_to("/v1/customers", method="POST")) == 1
    assert session.client_reference_id == friend_id and session.customer == params["customer"]

    event = stripe_events.checkout_session_completed(
        amount_total=5000, customer=session.customer, client_reference_id=session.client_reference_id,
        metadata=session.metadata.to_dict(), session_id=session.id)
    deliver(stripe_app.test_client(), event)
    assert pending(stripe_app, referred) == 500


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_an_invoice_of_a_mapped_customer_is_attributed_without_metadata(stripe_app):
    referred = make_referral(stripe_app)
    with stripe_app.app_context():
        payments.link_customer(referred.friend.id, "cus_mapped")
        get_session().commit()
    event = stripe_events.invoice_paid(customer="cus_mapped", amount_paid=3000)
    deliver(stripe_app.test_client(), event)
    assert pending(stripe_app, referred) == 300


@pytest.mark.settings(REWARD_RULES=rules(friend_reward={"percent_off": 15}))
def test_the_friend_gets_one_first_time_promotion_code(stripe_app, fake_stripe):
    referred = make_referral(stripe_app)
    stranger = make_referral(stripe_app).advocate  # an advocate, but referred by nobody
    with stripe_app.test_request_context():
        portal = get_portal(stripe_app)
        code = portal.friend_promotion_code(referred.friend)
        assert portal.friend_promotion_code(referred.friend) == code
        assert portal.friend_promotion_code(stranger) is None
    assert code
    (promotion,) = fake_stripe.objects("promotion_code")
    assert promotion["code"] == code
    assert promotion["restrictions"]["first_time_transaction"] is True
    (coupon,) = fake_stripe.objects("coupon")
    assert coupon["percent_off"] == 15 and coupon["duration"] == "once"
    assert len(fake_stripe.requests_to("/v1/promotion_codes", method="POST")) == 1


def test_bad_reward_rules_fail_at_startup(database_url):
    from tests.host_app import create_app

    for bad in (
        {"default": {"type": "percent", "percent": 150, "currency": "usd"}},
        {"default": {"type": "fixed", "currency": "usd"}},
        {"default": {"type": "fixed", "amount_minor": 100, "currency": "dollars"}},
        {"default": {"type": "percent", "percent": 5, "currency": "usd", "monthly_cap": 1}},
        {"default": {"type": "percent", "percent": 5, "currency": "usd"}, "campaigns": {"x": {"percent": -1}}},
        {"default": {"type": "percent", "percent": 5, "currency": "usd", "friend_reward": {}}},
    ):
        with pytest.raises(RuntimeError, match="ADVOCACY_REWARD_RULES"):
            create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_REWARD_RULES": bad})
    with pytest.raises(RuntimeError, match="STRIPE_WEBHOOK_SECRETS"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "ADVOCACY_STRIPE_WEBHOOK_SECRETS": "whsec_x"})


@pytest.mark.demo
def test_the_demo_sends_signed_events_to_its_own_webhook(app, runner):
    from advocacy_portal.models import Advocate

    assert runner.invoke(args=["advocacy", "seed-demo"]).exit_code == 0
    paid = runner.invoke(args=["advocacy", "stripe", "pay", "dave@example.com", "--amount", "4900"])
    assert paid.exit_code == 0, paid.output
    assert '200 {"duplicate":false,"outcome":"applied"' in paid.output
    refunded = runner.invoke(args=["advocacy", "stripe", "refund", "dave@example.com", "--amount", "2450"])
    assert refunded.exit_code == 0, refunded.output
    with app.app_context():
        alice = get_session().scalar(select(Advocate).where(Advocate.email == "alice@example.com"))
        before = flat(advocate_balances(app, alice.id))
    missing = runner.invoke(args=["advocacy", "stripe", "refund", "nobody@example.com"])
    assert missing.exit_code == 2 and "no advocate or referred friend has the email" in missing.output
    released = runner.invoke(args=["advocacy", "stripe", "release"])
    assert released.exit_code == 0 and "reward(s) early" in released.output
    after = flat(advocate_balances(app, alice.id))
    assert after["pending"] == 0 and after["available"] == before["available"] + before["pending"]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_two_users_paying_through_one_stripe_customer_are_both_applied(stripe_app, caplog):
    """A shop may let two of its users share one Stripe customer (a family, a team). The first mapping
    wins; the second user's payment is still applied and rewarded, instead of its event failing on the
    unique Stripe customer id and being retried for ever."""
    first, second = make_referral(stripe_app), make_referral(stripe_app)
    client = stripe_app.test_client()
    for n, referred in enumerate((first, second)):
        event = stripe_events.checkout_session_completed(
            amount_total=4000, customer="cus_shared", client_reference_id=str(referred.friend.id),
            metadata=referred.metadata, payment_intent=f"pi_shared_{n}")
        answer = deliver(client, event)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert pending(stripe_app, first) == 400
    assert pending(stripe_app, second) == 400
    with stripe_app.app_context():
        mapped = get_session().execute(select(StripeCustomer.user_id)).scalars().all()
        assert mapped == [str(first.friend.id)]
        assert payments.link_customer(second.friend.id, "cus_shared") == "cus_shared"
    assert "mapped to another user already" in caplog.text
