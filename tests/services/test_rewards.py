"""Hold and release, clawback after release, netting a negative balance, staff adjustments, and the
read services of the rewards and admin pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal import Customer
from advocacy_portal.models import Advocate
from advocacy_portal.models import Reward
from advocacy_portal.services import audit
from advocacy_portal.services import ledger
from advocacy_portal.services import reward_queries
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral
from tests.rewards_helpers import snapshot

pytestmark = pytest.mark.settings(REWARD_RULES=PERCENT_RULES)


def pay(client, referred, amount=5000, n=1):
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=amount, payment_intent=f"pi_{referred.referral_id}_{n}", metadata=referred.metadata))


def refund(client, referred, refunded, amount=5000, n=1):
    deliver(client, stripe_events.charge_refunded(
        amount=amount, amount_refunded=refunded, payment_intent=f"pi_{referred.referral_id}_{n}",
        charge_id=f"ch_{referred.referral_id}_{n}"))


def money(app, referred):
    return flat(advocate_balances(app, referred.advocate_id))


def release(app, days=31):
    with app.app_context():
        return rewards.release_due(now=later(days))


def test_a_reward_is_held_then_released_once(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred)
    assert release(stripe_app, days=29).released == 0
    assert money(stripe_app, referred)["pending"] == 500
    summary = release(stripe_app)
    assert (summary.released, summary.amounts) == (1, {"usd": 500})
    assert release(stripe_app).released == 0  # again: nothing left to do
    with stripe_app.app_context():
        assert rewards.release(get_session().scalar(select(Reward.id)), now=later(40)) is False
    assert money(stripe_app, referred) == {"pending": 0, "available": 500, "reserved": 0, "redeemed": 0}


def test_the_release_command_is_safe_from_cron(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred)
    stripe_app.config["ADVOCACY_REWARD_HOLD_DAYS"] = 0
    other = make_referral(stripe_app)
    pay(client, other, amount=12345)
    runner = stripe_app.test_cli_runner()
    first = runner.invoke(args=["advocacy", "rewards", "release"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Released 1 rewards ($12.34); 0 skipped, 0 failed."
    second = runner.invoke(args=["advocacy", "rewards", "release"])
    assert second.output.strip() == "Released 0 rewards (nothing); 0 skipped, 0 failed."
    assert money(stripe_app, other)["available"] == 1234
    assert money(stripe_app, referred)["pending"] == 500


def test_an_open_dispute_holds_the_reward_and_a_won_one_restores_it(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred)
    deliver(client, stripe_events.charge_dispute_created(charge="ch_d", payment_intent=f"pi_{referred.referral_id}_1"))
    assert money(stripe_app, referred)["pending"] == 0
    assert release(stripe_app).released == 0
    deliver(client, stripe_events.charge_dispute_closed(status="won", charge="ch_d",
                                                 payment_intent=f"pi_{referred.referral_id}_1"))
    assert money(stripe_app, referred)["pending"] == 500
    assert release(stripe_app).released == 1
    assert money(stripe_app, referred)["available"] == 500


def test_a_refund_after_release_reverses_from_available(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred)
    release(stripe_app)
    refund(client, referred, 1000)  # a fifth of the payment: a fifth of the reward
    assert money(stripe_app, referred) == {"pending": 0, "available": 400, "reserved": 0, "redeemed": 0}
    with stripe_app.app_context():
        assert ledger.program_balances()["clawbacks"] == {"usd": 100}
    deliver(client, stripe_events.charge_dispute_created(charge=f"ch_{referred.referral_id}_1",
                                                  payment_intent=f"pi_{referred.referral_id}_1"))
    deliver(client, stripe_events.charge_dispute_closed(status="lost", charge=f"ch_{referred.referral_id}_1",
                                                 payment_intent=f"pi_{referred.referral_id}_1"))
    assert money(stripe_app, referred)["available"] == 0
    snapshot(stripe_app)


def test_a_clawback_of_redeemed_money_goes_negative_and_nets_against_later_rewards(stripe_app, fake_stripe):
    from advocacy_portal.services import redemptions

    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred, amount=10000)
    release(stripe_app)
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        assert redemptions.request_redemption(advocate, None, "usd").state == "completed"
    refund(client, referred, 10000, amount=10000)
    assert money(stripe_app, referred) == {"pending": 0, "available": -1000, "reserved": 0, "redeemed": 1000}
    # The advocate's next friend pays: the new reward first fills the hole.
    second = make_referral(stripe_app, advocate=referred.advocate)
    pay(client, second, amount=15000)
    release(stripe_app)
    assert money(stripe_app, referred)["available"] == 500
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        with pytest.raises(redemptions.RedemptionRefused) as refused:
            redemptions.request_redemption(advocate, 600, "usd")
        assert refused.value.code == "insufficient_funds"
    snapshot(stripe_app)


def test_staff_adjustments_are_posted_once_and_audited(stripe_app):
    referred = make_referral(stripe_app)
    staff = Customer(id="99", email="staff@example.com")
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        first = rewards.post_adjustment(advocate, 750, "USD", "Goodwill for a late payout", staff, "form-1")
        again = rewards.post_adjustment(advocate, 750, "usd", "Goodwill for a late payout", staff, "form-1")
        assert first.id == again.id
        get_session().commit()
        with pytest.raises(ledger.IdempotencyConflict):
            rewards.post_adjustment(advocate, 751, "usd", "Goodwill", staff, "form-1")
        get_session().rollback()
        rewards.post_adjustment(advocate, -250, "usd", "Duplicate credit", staff)
        for bad in ((0, "usd", "x"), (10, "usd", " "), (10, "dollars", "x"), (1.5, "usd", "x")):
            with pytest.raises(ValueError):
                rewards.post_adjustment(advocate, bad[0], bad[1], bad[2], staff)
        get_session().commit()
        actions = audit.history("advocate", advocate.id)
        assert [(a.action, a.after["amount_minor"], a.reason) for a in actions] == [
            ("ledger.adjust", 750, "Goodwill for a late payout"), ("ledger.adjust", -250, "Duplicate credit")]
        assert actions[0].actor_email == "staff@example.com"
        lines = reward_queries.entries_for(advocate).items
        assert [(line.reason, line.amount_minor, line.memo) for line in lines] == [
            ("adjustment", -250, "Duplicate credit"), ("adjustment", 750, "Goodwill for a late payout")]
    assert money(stripe_app, referred)["available"] == 500


def test_read_services_explain_the_ledger_and_the_revenue(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    pay(client, referred, amount=8000)
    refund(client, referred, 2000, amount=8000)
    deliver(client, stripe_events.checkout_session_completed(amount_total=3000, customer="cus_unknown"))
    deliver(client, stripe_events.checkout_session_completed(amount_total=1000, currency="eur", customer="cus_unknown"))
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        assert reward_queries.balances(advocate)["pending"] == {"usd": 600}
        lines = reward_queries.entries_for(advocate, page=1, per_page=10)
        assert lines.total == 2 and not lines.has_next
        void, accrue = lines.items
        assert (accrue.reason, accrue.amount_minor, accrue.account) == ("reward.accrue", 800, "pending")
        assert (void.reason, void.amount_minor) == ("reward.void", -200)
        assert accrue.friend.endswith("@example.com") and "***" in accrue.friend
        assert (accrue.payment_amount_minor, accrue.payment_currency) == (8000, "usd")
        assert accrue.rule == "10% of the payment, first payment only"

        summary = reward_queries.revenue_summary()
        assert summary["usd"]["total_minor"] == 11000 and summary["usd"]["attributed_minor"] == 8000
        assert summary["usd"]["attributed_net_minor"] == 6000 and summary["usd"]["payments"] == 2
        assert summary["eur"]["attributed_minor"] == 0 and summary["eur"]["total_minor"] == 1000
        assert reward_queries.revenue_summary(start=later(1)) == {}

        assert reward_queries.list_conversions({"attributed": True}).total == 1
        assert reward_queries.list_conversions({"attributed": False}).total == 2
        assert reward_queries.list_conversions({"currency": "EUR"}).items[0].amount_minor == 1000
        assert reward_queries.list_conversions({"search": f"pi_{referred.referral_id}_1"}).total == 1
        assert reward_queries.list_conversions(page=2, per_page=2).items and reward_queries.list_conversions(per_page=2).has_next

        cost = reward_queries.reward_cost_by_state()["usd"]
        assert (cost["pending"], cost["expense"], cost["available"]) == (600, 600, 0)
        overview = reward_queries.advocate_overview(advocate)
        assert overview["conversion_count"] == 1 and overview["referral_count"] == 1
        assert overview["rewards"][0].amount_minor == 800
