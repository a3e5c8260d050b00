"""Fraud review: block rules never reward, hold rules wait for staff, decisions are audited and
reversible until release, the allow-list and the deadline action."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy import update as sa_update

from advocacy_portal import Customer
from advocacy_portal.db import get_session
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Conversion
from advocacy_portal.models import FraudReview
from advocacy_portal.models import utcnow
from advocacy_portal.services import fraud
from advocacy_portal.services import ledger
from advocacy_portal.services import referrals
from advocacy_portal.services import rewards
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.services.payments import link_customer
from advocacy_portal.testing import stripe_events
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import Referred
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import later

pytestmark = pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
STAFF = Customer(id="99", email="boss@example.com")


def referral_of(app, friend_email=None, advocate_email=None) -> Referred:
    advocate = make_customer(app, advocate_email)
    friend = make_customer(app, friend_email)
    with app.app_context():
        row = referrals.ensure_advocate(advocate.id, advocate.email)
        result = referrals.attribute_signup(friend.id, friend.email, AttributionClaim(row.code, None, None, utcnow()))
        get_session().commit()
        return Referred(advocate, friend, row.id, result.referral.id)


def pay(app, referred, amount=10000, **fields):
    fields.setdefault("payment_intent", stripe_events.random_id("pi_"))
    event = stripe_events.checkout_session_completed(amount_total=amount, metadata=referred.metadata, **fields)
    assert deliver(app.test_client(), event).get_json()["outcome"] == "applied"
    return fields["payment_intent"]


def card_charge(app, payment_intent, fingerprint, user_id):
    obj = {"id": stripe_events.random_id("ch_"), "object": "charge", "payment_intent": payment_intent,
           "amount": 100, "currency": "usd", "metadata": {"advocacy_user_id": str(user_id)},
           "payment_method_details": {"type": "card", "card": {"fingerprint": fingerprint}}}
    return deliver(app.test_client(), stripe_events.event("charge.succeeded", obj)).get_json()


def balances(app, referred):
    return flat(advocate_balances(app, referred.advocate_id))


def review_of(app, payment_intent) -> FraudReview | None:
    with app.app_context():
        conversion = get_session().scalar(select(Conversion).where(Conversion.payment_intent_id == payment_intent))
        review = get_session().scalar(select(FraudReview).where(FraudReview.conversion_id == conversion.id))
        if review is not None:
            get_session().expunge(review)
        return review


def decide(app, review_id, decision, reason="checked"):
    with app.app_context():
        fraud.decide(review_id, decision, reason, STAFF)
        get_session().commit()


def test_a_disposable_address_is_held_until_staff_approve(stripe_app):
    referred = referral_of(stripe_app, "someone@mailinator.com")
    pi = pay(stripe_app, referred)
    review = review_of(stripe_app, pi)
    assert review.state == "held" and review.rules == ["disposable_email"]
    assert balances(stripe_app, referred)["pending"] == 1000  # accrued, shown as pending
    with stripe_app.app_context():
        assert rewards.release_due(now=later(31)).released == 0  # never released while held
        get_session().commit()
    decide(stripe_app, review.id, "approve", "Known customer, real address")
    with stripe_app.app_context():
        assert rewards.release_due(now=later(31)).released == 1
        get_session().commit()
        entry = get_session().scalar(select(AuditEntry).where(AuditEntry.action == "fraud.approve"))
        assert entry.before["state"] == "held" and entry.after["state"] == "approved"
        assert entry.actor_email == "boss@example.com" and entry.reason == "Known customer, real address"
        with pytest.raises(fraud.DecisionError, match="released already"):
            fraud.decide(review.id, "void", "too late", STAFF)
    assert balances(stripe_app, referred)["available"] == 1000


def test_voiding_takes_the_reward_back_and_reopening_restores_it(stripe_app):
    referred = referral_of(stripe_app, "someone@yopmail.com")
    review = review_of(stripe_app, pay(stripe_app, referred))
    decide(stripe_app, review.id, "void", "Fake friend")
    assert balances(stripe_app, referred)["pending"] == 0
    with stripe_app.app_context():
        with pytest.raises(fraud.DecisionError, match="reason"):
            fraud.decide(review.id, "reopen", "  ", STAFF)
        assert fraud.review_figures()["voided"] == {"count": 1, "amounts": {"usd": 1000}}
    decide(stripe_app, review.id, "reopen", "Voided by mistake")
    assert balances(stripe_app, referred)["pending"] == 1000
    with stripe_app.app_context():
        assert fraud.review_figures()["held"]["count"] == 1
        assert ledger.verify() == []


def test_paying_with_the_advocates_card_is_blocked(stripe_app):
    referred = referral_of(stripe_app)
    own = stripe_events.random_id("pi_")
    card_charge(stripe_app, own, "fp_advocate_card", referred.advocate.id)
    friend_pi = stripe_events.random_id("pi_")
    card_charge(stripe_app, friend_pi, "fp_advocate_card", referred.friend.id)
    pay(stripe_app, referred, payment_intent=friend_pi)
    review = review_of(stripe_app, friend_pi)
    assert review.state == "blocked" and review.rules == ["same_card"]
    assert balances(stripe_app, referred) == {"pending": 0, "available": 0, "reserved": 0, "redeemed": 0}
    with stripe_app.app_context():
        conversion = get_session().scalar(select(Conversion).where(Conversion.payment_intent_id == friend_pi))
        assert conversion.reward_outcome == "fraud_blocked"
        with pytest.raises(fraud.DecisionError, match="never rewarded"):
            fraud.decide(review.id, "approve", "please", STAFF)


def test_paying_as_the_advocates_stripe_customer_is_blocked(stripe_app):
    referred = referral_of(stripe_app)
    with stripe_app.app_context():
        link_customer(referred.advocate.id, "cus_advocate")
        get_session().commit()
    # A subscription invoice of the advocate's own Stripe customer, with the friend's metadata.
    event = stripe_events.invoice_paid(customer="cus_advocate", amount_paid=10000,
                                       subscription_metadata=referred.metadata)
    assert deliver(stripe_app.test_client(), event).get_json()["outcome"] == "applied"
    with stripe_app.app_context():
        review = get_session().scalar(select(FraudReview))
        assert review.state == "blocked" and review.rules == ["same_stripe_customer"]
    assert balances(stripe_app, referred)["pending"] == 0


def test_an_allowed_household_is_not_held(stripe_app):
    referred = referral_of(stripe_app, "someone@mailinator.com")
    with stripe_app.app_context():
        fraud.allow("pair", "Same family", STAFF, advocate_id=referred.advocate_id,
                    friend_user_id=str(referred.friend.id))
        get_session().commit()
    pi = pay(stripe_app, referred)
    assert review_of(stripe_app, pi) is None
    assert balances(stripe_app, referred)["pending"] == 1000


@pytest.mark.settings(FRAUD_SIMILAR_EMAIL_RATIO=0.9)
def test_look_alike_addresses_are_held(stripe_app):
    referred = referral_of(stripe_app, "john.smith7@example.org", "johnsmith@example.com")
    assert review_of(stripe_app, pay(stripe_app, referred)).rules == ["similar_email"]
    assert fraud.similar_emails("jane@x.org", "bob@x.org", 0.9) is False


@pytest.mark.settings(FRAUD_VELOCITY_COUNT=2)
def test_a_burst_of_purchases_is_held(stripe_app):
    advocate = make_customer(stripe_app)
    held = []
    for _ in range(4):
        friend = make_customer(stripe_app)
        with stripe_app.app_context():
            row = referrals.ensure_advocate(advocate.id, advocate.email)
            result = referrals.attribute_signup(friend.id, friend.email, AttributionClaim(row.code, None, None, utcnow()))
            get_session().commit()
            referred = Referred(advocate, friend, row.id, result.referral.id)
        review = review_of(stripe_app, pay(stripe_app, referred))
        held.append(review.rules if review else None)
    assert held == [None, None, ["velocity"], ["velocity"]]


@pytest.mark.parametrize("action, state, pending", [("keep", "held", 1000), ("void", "voided", 0),
                                                     ("approve", "approved", 1000)])
def test_the_deadline_action(stripe_app, action, state, pending):
    stripe_app.config["ADVOCACY_FRAUD_DEADLINE_ACTION"] = action
    referred = referral_of(stripe_app, "someone@mailinator.com")
    pi = pay(stripe_app, referred)
    with stripe_app.app_context():
        assert fraud.apply_deadline(now=later(10)) == 0  # not due yet
        fraud.apply_deadline(now=later(31))
        get_session().commit()
    assert review_of(stripe_app, pi).state == state
    assert balances(stripe_app, referred)["pending"] == pending


PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def clicked_referral(app, advocate, ip, user_agent, language="en-GB,en;q=0.9") -> Referred:
    """A friend who followed the advocate's link from ``ip`` with this browser, then signed up."""
    friend = make_customer(app)
    with app.app_context():
        row = referrals.ensure_advocate(advocate.id, advocate.email)
        visit = referrals.Visit(ip=ip, user_agent=user_agent, referrer=None, accept_language=language)
        outcome = referrals.record_click(row, None, visit)
        get_session().commit()
        assert outcome.click_id
        claim = AttributionClaim(row.code, None, outcome.click_id, utcnow())
        result = referrals.attribute_signup(friend.id, friend.email, claim)
        get_session().commit()
        return Referred(advocate, friend, row.id, result.referral.id)


@pytest.mark.settings(FRAUD_MAX_PURCHASES_PER_DEVICE=2, CLICK_DEDUPE_SECONDS=0, FRAUD_VELOCITY_COUNT=100)
def test_purchases_from_one_device_hopping_addresses_are_held(stripe_app):
    """One phone on one carrier network, a new address each time: no two purchases share an IP hash,
    but they share a device cluster, and the third is held. A laptop on the same network is another
    device, and a phone of the same model elsewhere another cluster."""
    advocate = make_customer(stripe_app)
    held = []
    for number in range(4):
        referred = clicked_referral(stripe_app, advocate, f"203.0.113.{10 + number}", PHONE)
        review = review_of(stripe_app, pay(stripe_app, referred))
        held.append(review.rules if review else None)
    assert held == [None, None, ["shared_device"], ["shared_device"]]
    for ip, agent in (("203.0.113.20", LAPTOP), ("198.51.100.7", PHONE)):
        other = clicked_referral(stripe_app, advocate, ip, agent)
        assert review_of(stripe_app, pay(stripe_app, other)) is None
    with stripe_app.app_context():
        review = get_session().scalar(select(FraudReview).where(FraudReview.state == "held").limit(1))
        assert fraud.RULE_LABELS["shared_device"] in fraud._describe(review.rules)


def test_a_device_cluster_is_the_browser_on_one_neighbourhood_network(app):
    from advocacy_portal.services.visitors import hash_device

    with app.app_context():
        phone = hash_device("203.0.113.10", PHONE, "en-GB")
        assert len(phone) == 32 and phone == hash_device("203.0.113.250", PHONE, "EN-gb ")
        assert phone != hash_device("203.0.114.10", PHONE, "en-GB")  # another /24
        assert phone != hash_device("203.0.113.10", LAPTOP, "en-GB")
        assert phone != hash_device("203.0.113.10", PHONE, "fr-FR")
        v6 = hash_device("2001:db8:1:aaaa::1", PHONE, "en-GB")
        assert v6 == hash_device("2001:db8:1:ffff:1234::9", PHONE, "en-GB")  # one /48
        assert v6 != hash_device("2001:db8:2::1", PHONE, "en-GB")
        assert hash_device("::ffff:203.0.113.99", PHONE, "en-GB") == phone  # IPv4-mapped
        assert hash_device("not an address", None, None) != phone


@pytest.mark.settings(FRAUD_HASH_RETENTION_DAYS=30)
def test_the_purge_keeps_the_hashes_of_signups_for_the_fraud_rules_only(stripe_app):
    from datetime import timedelta

    from advocacy_portal.models import ReferralClick

    advocate = make_customer(stripe_app)
    referred = clicked_referral(stripe_app, advocate, "203.0.113.10", PHONE)
    with stripe_app.app_context():
        row = referrals.ensure_advocate(advocate.id, advocate.email)
        lone = referrals.record_click(row, None, referrals.Visit(ip="198.51.100.1", user_agent=LAPTOP, referrer=None))
        session = get_session()
        session.execute(sa_update(ReferralClick).values(clicked_at=utcnow() - timedelta(days=2)))
        session.commit()

        def hashes():
            session.expire_all()
            return {click.id: (bool(click.ip_hash), bool(click.device_hash))
                    for click in session.scalars(select(ReferralClick))}

        assert referrals.forget_ip_hashes() == 1  # the click that brought nobody
        session.commit()
        signup_click = session.get(referrals.Referral, referred.referral_id).click_id
        assert hashes() == {signup_click: (True, True), lone.click_id: (False, False)}
        assert referrals.forget_ip_hashes(now=utcnow() + timedelta(days=27)) == 0
        assert referrals.forget_ip_hashes(now=utcnow() + timedelta(days=29)) == 1
        session.commit()
        assert hashes() == {signup_click: (False, False), lone.click_id: (False, False)}
