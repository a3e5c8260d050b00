"""Guardrails of staff adjustments: the currencies the program uses, the largest amount, and when a
confirmation step (showing the balance the adjustment leads to) is needed.

The posting itself is :func:`advocacy_portal.services.rewards.post_adjustment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import LedgerAccount
from advocacy_portal.services import ledger
from advocacy_portal.services.money import exponent
from advocacy_portal.services.rules import current_rules


def program_currencies() -> list[str]:
    """The currencies staff may adjust in (lower-case, sorted): ``ADVOCACY_ADJUSTMENT_CURRENCIES``, or
    those of the reward rules and of the balances advocates already hold."""
    configured = config_value("ADJUSTMENT_CURRENCIES")
    if configured:
        return sorted({str(code).lower() for code in configured})
    rules = current_rules()
    found = {rules.default.currency} | {rule.currency for rule in rules.campaigns.values()}
    found.update(
        get_session().scalars(
            select(LedgerAccount.currency).where(LedgerAccount.owner != ledger.PROGRAM).distinct()
        )
    )
    return sorted(code.lower() for code in found)


def _per_currency(setting: str, currency: str) -> int:
    """A per-currency limit setting (a number, or ``{currency: number, "*": number}``) in minor units."""
    value = config_value(setting)
    if isinstance(value, dict):
        value = value.get(currency.lower(), value.get(currency.upper(), value.get("*")))
    if value is None:
        return 0
    return int(Decimal(str(value)).scaleb(exponent(currency)))


def maximum_minor(currency: str) -> int:
    """The largest adjustment (either sign) in ``currency``, in minor units (``ADVOCACY_ADJUSTMENT_MAX``)."""
    return _per_currency("ADJUSTMENT_MAX", currency)


def confirm_above_minor(currency: str) -> int:
    """Adjustments of at least this (either sign) need the confirmation step."""
    return _per_currency("ADJUSTMENT_CONFIRM_ABOVE", currency)


@dataclass(frozen=True)
class AdjustmentPreview:
    """What an adjustment would do to the advocate's available balance."""

    amount_minor: int
    currency: str
    balance_minor: int
    resulting_minor: int

    @property
    def needs_confirmation(self) -> bool:
        return self.amount_minor < 0 or abs(self.amount_minor) >= confirm_above_minor(self.currency)

    @property
    def goes_negative(self) -> bool:
        return self.resulting_minor < 0


def preview(advocate: Advocate, amount_minor: int, currency: str) -> AdjustmentPreview:
    """The available balance of ``advocate`` in ``currency`` now and after the adjustment."""
    currency = currency.lower()
    balance = ledger.balances(advocate).get("available", {}).get(currency, 0)
    return AdjustmentPreview(amount_minor, currency, balance, balance + amount_minor)
