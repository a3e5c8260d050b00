"""The offer in words comes from the same reward rules the ledger uses: one module, two points of view."""

from __future__ import annotations

import pytest

from advocacy_portal.services import offer_text
from advocacy_portal.services.rules import parse_rule


def rule(**data):
    return parse_rule({"currency": "usd", **data})


def test_a_percent_rule_reads_the_same_for_the_advocate_the_friend_and_the_ledger(app_ctx):
    percent = rule(type="percent", percent=10, friend_reward={"percent_off": 15})
    assert offer_text.advocate_offer(percent) == "You earn 10% of what each friend pays, for their first payment."
    assert offer_text.friend_offer(percent) == "You get 15% off your first purchase."
    assert offer_text.friend_offer(percent, to_friend=False) == "Your friend gets 15% off their first purchase."
    # The ledger's line describes a reward by the snapshot it kept, in the same words.
    assert offer_text.rule_in_words(percent.snapshot()) == "10% of the payment, first payment only"
    assert offer_text.advocate_offer(percent.snapshot()) == offer_text.advocate_offer(percent)


def test_a_fixed_recurring_capped_rule_names_every_condition(app_ctx):
    fixed = rule(type="fixed", amount_minor=500, recurring_months=12, min_purchase_minor=2000,
                 monthly_cap_minor=5000, friend_reward={"amount_off": 1000})
    assert offer_text.advocate_offer(fixed) == (
        "You earn $5.00 for each friend who pays, for each of their first 12 monthly payments "
        "(on payments of $20.00 or more, up to $50.00 a month).")
    assert offer_text.friend_discount(fixed) == "$10.00 off"
    assert offer_text.rule_in_words(fixed.snapshot()) == "$5.00 per rewarded payment, for 12 months of a subscription"


def test_fractional_percentages_and_the_locale(app, app_ctx):
    app.config["ADVOCACY_LOCALE"] = "de_DE"
    half = rule(type="percent", percent="12.5", friend_reward={"percent_off": "7.5"})
    assert offer_text.reward_amount(half) == "12,5%"
    assert offer_text.friend_discount(half) == "7,5% off"


def test_no_friend_reward_means_no_friend_sentence(app_ctx):
    plain = rule(type="percent", percent=10)
    assert offer_text.friend_offer(plain) is None and offer_text.friend_discount(plain) is None


@pytest.mark.settings(REWARD_RULES={
    "default": {"type": "percent", "percent": 10, "currency": "usd", "friend_reward": {"percent_off": 10}},
    "campaigns": {"spring": {"type": "fixed", "amount_minor": 2500, "friend_reward": None}},
})
def test_offer_for_a_campaign_uses_that_campaigns_rule(app_ctx):
    default, spring = offer_text.offer_for(None), offer_text.offer_for("spring")
    assert default.share == "Sign up with my link and get 10% off your first purchase."
    assert spring.advocate == "You earn $25.00 for each friend who pays, for their first payment."
    assert spring.friend is None and spring.share is None
