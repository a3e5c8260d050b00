"""`flask advocacy stripe pay|refund|dispute|release` on any host app: signed test events to the app's
own webhook, so a shop sees rewards move without the Stripe CLI; refused with a live key."""

from __future__ import annotations

import pytest

from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral


def balances(app, referred):
    return flat(advocate_balances(app, referred.advocate_id))


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_pay_refund_dispute_and_release_move_the_rewards(stripe_app):
    runner = stripe_app.test_cli_runner()
    referred = make_referral(stripe_app)
    friend = str(referred.friend.id)
    paid = runner.invoke(args=["advocacy", "stripe", "pay", friend, "--amount", "8000"])
    assert paid.exit_code == 0, paid.output
    assert "checkout.session.completed" in paid.output and '"outcome":"applied"' in paid.output
    assert balances(stripe_app, referred)["pending"] == 800
    by_email = runner.invoke(args=["advocacy", "stripe", "refund", referred.friend.email, "--amount", "2000"])
    assert by_email.exit_code == 0, by_email.output
    assert balances(stripe_app, referred)["pending"] == 600
    disputed = runner.invoke(args=["advocacy", "stripe", "dispute", friend])
    assert disputed.exit_code == 0 and balances(stripe_app, referred)["pending"] == 0
    won = runner.invoke(args=["advocacy", "stripe", "dispute", friend, "--outcome", "won"])
    assert won.exit_code == 0 and balances(stripe_app, referred)["pending"] == 600
    released = runner.invoke(args=["advocacy", "stripe", "release"])
    assert released.exit_code == 0 and "Released 1 reward(s) early" in released.output
    assert balances(stripe_app, referred) == {"pending": 0, "available": 600, "reserved": 0, "redeemed": 0}


def test_a_user_who_has_not_paid_and_a_live_key_are_refused(stripe_app):
    runner = stripe_app.test_cli_runner()
    referred = make_referral(stripe_app)
    refused = runner.invoke(args=["advocacy", "stripe", "refund", str(referred.friend.id)])
    assert refused.exit_code == 1 and "has not paid yet" in refused.output
    stripe_app.config["ADVOCACY_STRIPE_SECRET_KEY"] = "sk_live_not_for_tests"
    live = runner.invoke(args=["advocacy", "stripe", "pay", str(referred.friend.id)])
    assert live.exit_code == 1 and "live Stripe key" in live.output
    assert runner.invoke(args=["advocacy", "stripe", "release"]).exit_code == 1
