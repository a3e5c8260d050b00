"""Money guardrails of manual adjustments: program currencies only, strict amounts, a maximum, and a
confirmation step for debits and large amounts that still posts once."""

from __future__ import annotations

import html
import re

import pytest

from advocacy_portal.services import referrals as referral_service
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import flat

ADMIN = "/advocacy/admin"


@pytest.fixture
def setup(app):
    staff = app.test_client()
    login(staff, make_customer(app, "boss@example.com", staff=True))
    advocate_user = make_customer(app, "ada@example.com")
    with app.app_context():
        advocate = referral_service.ensure_advocate(str(advocate_user.id), "ada@example.com")
        from advocacy_portal.db import get_session

        get_session().commit()
        advocate_id = advocate.id
    url = f"{ADMIN}/advocates/{advocate_id}"
    page = staff.get(url).get_data(as_text=True)
    nonce = re.search(r'name="advocacy-adjust-nonce" type="hidden" value="([^"]+)"', page).group(1)
    form = {"advocacy-adjust-csrf_token": csrf_token(staff, url), "advocacy-adjust-nonce": nonce,
            "advocacy-adjust-currency": "USD", "advocacy-adjust-reason": "Goodwill"}
    return staff, url, form, advocate_id


def _error(answer) -> str:
    found = re.findall(r'<p class="advocacy-error"[^>]*>([^<]+)</p>', answer.get_data(as_text=True))
    return html.unescape(" | ".join(found))


@pytest.mark.parametrize("amount, message", [
    ("1e3", "no exponent"),
    ("1E3", "no exponent"),
    ("12,5", "plain number"),
    ("$5", "plain number"),
    ("NaN", "plain number"),
    ("Infinity", "plain number"),
    ("0", "other than zero"),
    ("-0.00", "other than zero"),
    ("1.005", "2 decimal places at most"),
    ("10000.01", "At most $10,000.00 either way"),
    ("-1000000", "At most $10,000.00 either way"),
    ("9" * 400, "At most $10,000.00"),
])
def test_nonsense_amounts_are_refused_with_a_reason(app, setup, amount, message):
    staff, url, form, advocate_id = setup
    answer = staff.post(url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": amount}))
    assert answer.status_code == 400
    assert message in _error(answer)
    assert flat(advocate_balances(app, advocate_id))["available"] == 0


@pytest.mark.parametrize("currency", ["XYZ", "xyz", "EUR", "", "usdd", "<b>"])
def test_only_the_programs_currencies_are_offered_and_accepted(app, setup, currency):
    staff, url, form, advocate_id = setup
    page = staff.get(url).get_data(as_text=True)
    assert re.findall(r'<option[^>]*value="([A-Z]{3})"', page) == ["USD"]
    answer = staff.post(url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": "5",
                                                            "advocacy-adjust-currency": currency}))
    assert answer.status_code == 400
    assert "program's currencies only (USD)" in _error(answer)
    assert flat(advocate_balances(app, advocate_id), "eur")["available"] == 0


@pytest.mark.settings(ADJUSTMENT_CURRENCIES=("usd", "jpy"))
def test_zero_decimal_currencies_take_whole_numbers(app, setup):
    staff, url, form, advocate_id = setup
    form["advocacy-adjust-currency"] = "JPY"
    refused = staff.post(url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": "1.5"}))
    assert "JPY has no decimal places" in _error(refused)
    done = staff.post(url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": "300"}),
                      follow_redirects=True).get_data(as_text=True)
    assert "Adjustment of ¥300 posted." in done
    assert flat(advocate_balances(app, advocate_id), "jpy")["available"] == 300


def test_a_large_credit_is_confirmed_once_and_posted_once(app, setup):
    staff, url, form, advocate_id = setup
    form["advocacy-adjust-amount"] = "1,000"
    step = staff.post(url + "/adjust", data=form)
    assert step.status_code == 200
    text = step.get_data(as_text=True)
    assert "Confirm the adjustment" in text
    assert 'data-preview="balance">$0.00<' in text and 'data-preview="resulting">$1,000.00<' in text
    assert flat(advocate_balances(app, advocate_id))["available"] == 0
    # The confirmation is a second form with its own CSRF token and the same nonce.
    assert 'name="advocacy-adjust-csrf_token"' in text and f'value="{form["advocacy-adjust-nonce"]}"' in text
    confirmed = dict(form, **{"advocacy-adjust-confirmed": "yes"})
    done = staff.post(url + "/adjust", data=confirmed, follow_redirects=True).get_data(as_text=True)
    assert "Adjustment of $1,000.00 posted." in done
    staff.post(url + "/adjust", data=confirmed)  # a double click on "Confirm"
    assert flat(advocate_balances(app, advocate_id))["available"] == 100000
    # The confirmation does not skip validation: a forged "confirmed" with nonsense is still refused.
    forged = dict(confirmed, **{"advocacy-adjust-amount": "1e9", "advocacy-adjust-nonce": "x" * 20})
    assert staff.post(url + "/adjust", data=forged).status_code == 400
    no_csrf = dict(confirmed, **{"advocacy-adjust-csrf_token": "nope", "advocacy-adjust-nonce": "y" * 20})
    assert staff.post(url + "/adjust", data=no_csrf).status_code == 400
    assert flat(advocate_balances(app, advocate_id))["available"] == 100000


def test_small_credits_post_without_a_confirmation_step(app, setup):
    staff, url, form, advocate_id = setup
    answer = staff.post(url + "/adjust", data=dict(form, **{"advocacy-adjust-amount": "12.50"}))
    assert answer.status_code == 303
    assert flat(advocate_balances(app, advocate_id))["available"] == 1250
