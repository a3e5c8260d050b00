"""The offer in words, from the same reward rules the ledger uses (:mod:`advocacy_portal.services.rules`).

One place turns a rule into sentences, so the referral page, the rewards page, the friend's landing,
the share texts and the ledger's lines all say the same thing:

- :func:`advocate_offer`: what the advocate earns (``"You earn 10% of each payment a friend makes,
  for their first payment."``);
- :func:`friend_offer`: what the friend gets, in the friend's words (``"You get 10% off your first
  purchase."``) or the advocate's (``"Your friend gets 10% off their first purchase."``);
- :func:`rule_in_words`: a rule snapshot as a ledger line shows it (``"10% of the payment, first
  payment only"``).

Every function takes a :class:`~advocacy_portal.services.rules.RewardRule` or the JSON snapshot a
reward keeps (:meth:`RewardRule.snapshot`), so a posted reward is described by the rule it was
computed with, not by today's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from advocacy_portal.services.formatting import format_number
from advocacy_portal.services.money import format_money
from advocacy_portal.services.rules import FriendReward
from advocacy_portal.services.rules import RewardRule
from advocacy_portal.services.rules import current_rules


def _get(rule: RewardRule | dict[str, Any], key: str, default=None):
    if isinstance(rule, dict):
        value = rule.get(key, default)
        return default if value is None else value
    value = getattr(rule, key, default)
    return default if value is None else value


def _percent(value) -> str:
    number = Decimal(str(value)).normalize()
    decimals = max(0, -number.as_tuple().exponent)
    return format_number(number, decimals) + "%"


def _friend(rule: RewardRule | dict[str, Any]) -> dict[str, Any] | None:
    friend = _get(rule, "friend_reward")
    if friend is None:
        return None
    if isinstance(friend, FriendReward):
        return {"percent_off": friend.percent_off, "amount_off": friend.amount_off, "currency": friend.currency}
    return dict(friend)


def reward_amount(rule: RewardRule | dict[str, Any]) -> str:
    """``"10%"`` or ``"$5.00"``: what one rewarded payment earns."""
    if _get(rule, "type") == "fixed":
        return format_money(_get(rule, "amount_minor", 0), _get(rule, "currency"))
    return _percent(_get(rule, "percent"))


def _payments(rule) -> str:
    months = int(_get(rule, "recurring_months", 0) or 0)
    if months > 1:
        return f"for each of their first {months} monthly payments"
    if months == 1:
        return "for their first monthly payment"
    return "for their first payment"


def _conditions(rule) -> list[str]:
    conditions = []
    currency = _get(rule, "currency")
    minimum = int(_get(rule, "min_purchase_minor", 0) or 0)
    if minimum:
        conditions.append(f"on payments of {format_money(minimum, currency)} or more")
    cap = _get(rule, "monthly_cap_minor")
    if cap:
        conditions.append(f"up to {format_money(cap, currency)} a month")
    return conditions


def advocate_offer(rule: RewardRule | dict[str, Any]) -> str:
    """What the advocate earns, as a sentence to the advocate."""
    if _get(rule, "type") == "fixed":
        text = f"You earn {reward_amount(rule)} for each friend who pays, {_payments(rule)}"
    else:
        text = f"You earn {reward_amount(rule)} of what each friend pays, {_payments(rule)}"
    conditions = _conditions(rule)
    if conditions:
        text += " (" + ", ".join(conditions) + ")"
    return text + "."


def friend_discount(rule: RewardRule | dict[str, Any]) -> str | None:
    """``"10% off"`` / ``"$5.00 off"``: the friend's discount, ``None`` when the rule gives none."""
    friend = _friend(rule)
    if friend is None:
        return None
    if friend.get("percent_off") is not None:
        return f"{_percent(friend['percent_off'])} off"
    return f"{format_money(friend['amount_off'], friend.get('currency') or _get(rule, 'currency'))} off"


def friend_offer(rule: RewardRule | dict[str, Any], *, to_friend: bool = True) -> str | None:
    """The friend's discount as a sentence: to the friend (``"You get 10% off your first purchase."``)
    or to the advocate (``"Your friend gets 10% off their first purchase."``); ``None`` without one."""
    discount = friend_discount(rule)
    if discount is None:
        return None
    if to_friend:
        return f"You get {discount} your first purchase."
    return f"Your friend gets {discount} their first purchase."


def rule_in_words(rule: RewardRule | dict[str, Any] | None) -> str | None:
    """A rule snapshot as the ledger shows it beside a reward: ``"10% of the payment, first payment
    only"``, ``"$5.00 per rewarded payment, for 12 months of a subscription"``."""
    if not rule:
        return None
    if _get(rule, "type") == "fixed":
        text = f"{reward_amount(rule)} per rewarded payment"
    else:
        text = f"{reward_amount(rule)} of the payment"
    months = int(_get(rule, "recurring_months", 0) or 0)
    text += f", for {months} months of a subscription" if months else ", first payment only"
    return text


@dataclass(frozen=True)
class Offer:
    """The whole offer of one campaign, in words, for a page or a share text."""

    #: What the advocate earns (a sentence to the advocate).
    advocate: str
    #: What the friend gets, told to the advocate; ``None`` when friends get no discount.
    friend_for_advocate: str | None
    #: What the friend gets, told to the friend; ``None`` when friends get no discount.
    friend: str | None
    #: ``"10% off"``, or ``None``.
    friend_discount: str | None
    #: A short line for share messages (``"Sign up with my link and get 10% off your first purchase."``).
    share: str | None


def offer_for(campaign: str | None = None) -> Offer:
    """The offer of ``campaign`` (or the default rule), from ``ADVOCACY_REWARD_RULES``."""
    rule = current_rules().for_campaign(campaign)
    discount = friend_discount(rule)
    return Offer(
        advocate=advocate_offer(rule),
        friend_for_advocate=friend_offer(rule, to_friend=False),
        friend=friend_offer(rule),
        friend_discount=discount,
        share=f"Sign up with my link and get {discount} your first purchase." if discount else None,
    )
