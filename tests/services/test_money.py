"""Money is shown with the decimals Stripe uses for its currency, never through floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advocacy_portal.services.money import exponent
from advocacy_portal.services.money import format_money
from advocacy_portal.services.money import to_major


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1234, "usd", "$12.34"),
        (-1, "eur", "-€0.01"),
        (123456789, "usd", "$1,234,567.89"),
        (-500, "jpy", "-¥500"),
        (12345, "kwd", "KWD12.345"),
        (0, "gbp", "£0.00"),
        (None, "usd", "—"),
        (100, None, "—"),
    ],
)
def test_amounts_read_as_people_expect(minor, currency, shown):
    assert format_money(minor, currency) == shown


def test_the_locale_decides_separators_and_symbol_position():
    assert format_money(123456, "eur", locale="de_DE") == "1.234,56\xa0€"


@given(st.integers(min_value=-10**15, max_value=10**15), st.sampled_from(["usd", "jpy", "kwd", "eur"]))
def test_conversion_to_major_units_is_exact(minor, currency):
    major = to_major(minor, currency)
    assert isinstance(major, Decimal)
    assert major.scaleb(exponent(currency)) == minor
