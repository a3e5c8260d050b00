"""Reward rules: what an advocate earns for a friend's payment (``ADVOCACY_REWARD_RULES``).

Plain values, no database: the settings are parsed and checked when the app starts, and every reward
keeps a snapshot of the rule it was computed with (:meth:`RewardRule.snapshot`), so changing the
settings never changes rewards already posted.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from flask import current_app

from advocacy_portal.config import config_value

_CURRENCY = re.compile(r"^[a-z]{3}$")
_RULE_KEYS = {
    "type",
    "amount_minor",
    "percent",
    "currency",
    "recurring_months",
    "min_purchase_minor",
    "monthly_cap_minor",
    "friend_reward",
}


class RuleError(ValueError):
    """A reward rule in the settings is invalid."""


@dataclass(frozen=True)
class FriendReward:
    """The discount a referred friend gets on their first purchase (a Stripe promotion code)."""

    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None

    def coupon_params(self) -> dict[str, Any]:
        """Parameters of the Stripe coupon behind the friend's promotion codes."""
        if self.percent_off is not None:
            return {"percent_off": float(self.percent_off), "duration": "once"}
        return {"amount_off": self.amount_off, "currency": self.currency, "duration": "once"}


@dataclass(frozen=True)
class RewardRule:
    """One parsed rule. Amounts are integers in minor units of ``currency``."""

    type: str
    currency: str
    amount_minor: int | None = None
    percent: Decimal | None = None
    recurring_months: int = 0
    min_purchase_minor: int = 0
    monthly_cap_minor: int | None = None
    friend_reward: FriendReward | None = None

    def reward_for(self, amount_minor: int) -> int:
        """The reward for a payment of ``amount_minor`` (before the monthly cap); percentages round
        down to a whole minor unit."""
        if self.type == "fixed":
            return int(self.amount_minor or 0)
        exact = Decimal(amount_minor) * self.percent / Decimal(100)
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    @property
    def rewarded_payments(self) -> int:
        """How many of a friend's payments (subscription invoices) earn a reward: at least the first."""
        return max(1, self.recurring_months)

    def snapshot(self) -> dict[str, Any]:
        """The rule as JSON, kept with each reward."""
        data = asdict(self)
        if self.percent is not None:
            data["percent"] = str(self.percent)
        if self.friend_reward is not None and self.friend_reward.percent_off is not None:
            data["friend_reward"]["percent_off"] = str(self.friend_reward.percent_off)
        return data


@dataclass(frozen=True)
class RewardRules:
    """The default rule and the per-campaign overrides."""

    default: RewardRule
    campaigns: dict[str, RewardRule]

    def for_campaign(self, campaign: str | None) -> RewardRule:
        """The rule of a campaign, or the default one."""
        if campaign and campaign in self.campaigns:
            return self.campaigns[campaign]
        return self.default


def _whole(value, name: str, *, optional: bool = False, minimum: int = 0) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RuleError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return value


def _decimal(value, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise RuleError(f"{name} must be a number, not {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RuleError(f"{name} must be a number, not {value!r}") from None
    if not number.is_finite() or number <= 0 or number > 100:
        raise RuleError(f"{name} must be more than 0 and at most 100, not {value!r}")
    return number


def _currency(value, name: str) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.lower()):
        raise RuleError(f"{name} must be a three-letter ISO currency code, not {value!r}")
    return value.lower()


def parse_rule(data: dict[str, Any], where: str = "default") -> RewardRule:
    """Check and parse one rule.

    :raises RuleError: naming the first thing that is wrong.
    """
    if not isinstance(data, dict):
        raise RuleError(f"the {where} rule must be a dict, not {data!r}")
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise RuleError(f"the {where} rule has unknown keys: {', '.join(sorted(unknown))}")
    kind = data.get("type")
    if kind not in ("fixed", "percent"):
        raise RuleError(f"the {where} rule's type must be 'fixed' or 'percent', not {kind!r}")
    amount_minor = percent = None
    if kind == "fixed":
        amount_minor = _whole(data.get("amount_minor"), f"{where}.amount_minor", minimum=1)
    else:
        percent = _decimal(data.get("percent"), f"{where}.percent")
    friend = data.get("friend_reward")
    friend_reward = None
    if friend is not None:
        if not isinstance(friend, dict) or ("percent_off" in friend) == ("amount_off" in friend):
            raise RuleError(f"{where}.friend_reward must have either percent_off or amount_off")
        if "percent_off" in friend:
            friend_reward = FriendReward(percent_off=_decimal(friend["percent_off"], f"{where}.friend_reward.percent_off"))
        else:
            friend_reward = FriendReward(
                amount_off=_whole(friend["amount_off"], f"{where}.friend_reward.amount_off", minimum=1),
                currency=_currency(friend.get("currency", data.get("currency")), f"{where}.friend_reward.currency"),
            )
    return RewardRule(
        type=kind,
        currency=_currency(data.get("currency"), f"{where}.currency"),
        amount_minor=amount_minor,
        percent=percent,
        recurring_months=_whole(data.get("recurring_months", 0), f"{where}.recurring_months"),
        min_purchase_minor=_whole(data.get("min_purchase_minor", 0), f"{where}.min_purchase_minor"),
        monthly_cap_minor=_whole(
            data.get("monthly_cap_minor"), f"{where}.monthly_cap_minor", optional=True
        ),
        friend_reward=friend_reward,
    )


def parse_rules(data: dict[str, Any]) -> RewardRules:
    """Check and parse ``ADVOCACY_REWARD_RULES``. A campaign rule inherits what it leaves out from the
    default rule (a campaign that switches between fixed and percent names its amount anew).

    :raises RuleError: naming the first thing that is wrong.
    """
    if not isinstance(data, dict) or "default" not in data:
        raise RuleError("must be a dict with a 'default' rule (and optionally 'campaigns')")
    unknown = set(data) - {"default", "campaigns"}
    if unknown:
        raise RuleError(f"unknown keys: {', '.join(sorted(unknown))}")
    default = parse_rule(data["default"])
    campaigns_data = data.get("campaigns") or {}
    if not isinstance(campaigns_data, dict):
        raise RuleError("'campaigns' must map campaign slugs to rules")
    campaigns = {}
    for slug, override in campaigns_data.items():
        if not isinstance(override, dict):
            raise RuleError(f"the rule of campaign {slug!r} must be a dict")
        merged = dict(data["default"])
        if "type" in override and override["type"] != merged.get("type"):
            merged.pop("amount_minor", None)
            merged.pop("percent", None)
        merged.update(override)
        campaigns[str(slug)] = parse_rule(merged, f"campaigns.{slug}")
    return RewardRules(default=default, campaigns=campaigns)


def current_rules() -> RewardRules:
    """The rules of the current app (parsed once per value of the setting)."""
    raw = config_value("REWARD_RULES")
    cached = current_app.extensions.get("advocacy_rules")
    if cached is None or cached[0] is not raw or cached[1] != repr(raw):
        cached = (raw, repr(raw), parse_rules(raw))
        current_app.extensions["advocacy_rules"] = cached
    return cached[2]
