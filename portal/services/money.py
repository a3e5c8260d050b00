"""Showing money: integer minor units and an ISO currency code, formatted for people.

Amounts are always kept as integers of the currency's minor unit, as Stripe sends them. How many
minor units make a major one follows Stripe's rules (https://docs.stripe.com/currencies), which
differ from ISO 4217 for a few currencies; the symbol and the number format come from Babel (CLDR).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import parse_pattern

#: Currencies Stripe counts in whole units (no minor unit).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
#: Currencies Stripe counts in thousandths.
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has for Stripe (0, 2 or 3)."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount_minor: int, currency: str) -> Decimal:
    """``1234, "usd"`` → ``Decimal("12.34")``; exact, never a float."""
    return Decimal(int(amount_minor)).scaleb(-exponent(currency))


def format_money(amount_minor: int | None, currency: str | None, locale: str = "en_US") -> str:
    """``1234, "usd"`` → ``"$12.34"``; ``-500, "jpy"`` → ``"-¥500"``; ``None`` → ``"—"``.

    The number of decimals is Stripe's for that currency, whatever CLDR says.
    """
    if amount_minor is None or not currency:
        return "—"
    return _format_money(int(amount_minor), currency.lower(), locale)


@lru_cache(maxsize=64)
def _money_pattern(locale: str, places: int):
    babel_locale = Locale.parse(locale)
    pattern = parse_pattern(babel_locale.currency_formats["standard"].pattern)
    pattern.frac_prec = (places, places)
    return babel_locale, pattern


# A chart of a year by day labels some 700 amounts: parsing the locale and the pattern each time was
# most of the overview's time. The cache holds strings only.
@lru_cache(maxsize=8192)
def _format_money(amount_minor: int, currency: str, locale: str) -> str:
    babel_locale, pattern = _money_pattern(locale, exponent(currency))
    return pattern.apply(
        to_major(amount_minor, currency), babel_locale, currency=currency.upper(), currency_digits=False
    )


#: A plain decimal amount: an optional sign, digits with optional thousands commas, optional fraction.
#: No exponent (``1e3``), no spaces inside, no currency symbol, nothing else.
_PLAIN_AMOUNT = re.compile(r"[+\-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


class AmountError(ValueError):
    """An amount a person typed that is not a valid amount of the currency; the message says why."""


def parse_amount(text: str | None, currency: str) -> int:
    """Strictly read an amount a person typed, in major units of ``currency``, as minor units:
    ``"12.50", "usd"`` → ``1250``; ``"-1,000", "jpy"`` → ``-1000``.

    :raises AmountError: for anything but a plain decimal number (``1e3``, ``12,5``, ``$5``, ``NaN``),
        or with more decimals than the currency has (``"1.5"`` yen, ``"1.234"`` dollars).
    """
    value = (text or "").strip()
    if not value:
        raise AmountError("Enter an amount.")
    if not _PLAIN_AMOUNT.fullmatch(value):
        raise AmountError("Enter a plain number such as 12.50 or -12.50 (no exponent, no symbol).")
    places = exponent(currency)
    whole, _, fraction = value.replace(",", "").replace("\u2212", "-").partition(".")
    if len(fraction) > places:
        if places == 0:
            raise AmountError(f"{currency.upper()} has no decimal places: enter a whole number.")
        raise AmountError(f"{currency.upper()} has {places} decimal places at most.")
    return int((Decimal(whole + "." + (fraction or "0"))).scaleb(places))
