"""The input layer: the values that used to answer 500 get a clear page or JSON error, and a form sent
twice with other content gets a 409 that says the form was already used."""

from __future__ import annotations

import re
from datetime import date

import pytest

from advocacy_portal.blueprints import inputs
from advocacy_portal.services import referrals as referral_service
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import flat
from tests.testimonials_support import form_tokens
from tests.testimonials_support import make_testimonial
from tests.testimonials_support import stored_testimonials
from tests.testimonials_support import submit_testimonial

ADMIN = "/advocacy/admin"
NONCE = re.compile(r'name="advocacy-adjust-nonce" type="hidden" value="([^"]+)"')


@pytest.fixture
def staff_client(app):
    client = app.test_client()
    login(client, make_customer(app, "boss@example.com", staff=True))
    return client


def _advocate(app) -> int:
    customer = make_customer(app)
    client = app.test_client()
    login(client, customer)
    assert client.get("/advocacy/").status_code == 200
    with app.app_context():
        return referral_service.get_advocate(str(customer.id)).id


def test_numbers_are_ascii_digits_within_bounds():
    assert inputs.whole_number("42", 1, 100) == 42
    for raw in ("²", "٣", "１２", " 4", "4 ", "-1", "1.0", "", "99999999999999999999", "101", None, True):
        assert inputs.whole_number(raw, 1, 100) is None, raw
    assert inputs.parse_date("2024-02-29") == date(2024, 2, 29)
    for raw in ("9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01", "2024-02-30", "٢٠٢٤-01-01",
                "20240101", "2024-1-1"):
        assert inputs.parse_date(raw) is None, raw


def test_huge_and_unicode_page_numbers_show_the_first_page(app, client, staff_client):
    make_testimonial(app, make_customer(app), state="approved", staff=make_customer(app, staff=True))
    for query in ("?page=99999999999999999999", "?page=%C2%B2", "?page=%D9%A3", "?rating=%C2%B2",
                  "?rating=99999999999999999999"):
        wall = client.get("/advocacy/wall" + query)
        assert wall.status_code == 200, query
        assert "Pat Customer" in wall.get_data(as_text=True)  # the filter is dropped, page 1 shown
    for url in (ADMIN + "/advocates", ADMIN + "/payments", ADMIN + "/testimonials/", ADMIN + "/webhooks/"):
        for query in ("?page=99999999999999999999", "?page=%C2%B2", "?per_page=99999999999999999999"):
            assert staff_client.get(url + query).status_code == 200, url + query


def test_an_id_beyond_the_schema_is_a_404_page(app, staff_client):
    advocate_id = _advocate(app)
    assert staff_client.get(f"{ADMIN}/advocates/{advocate_id}").status_code == 200
    for bad in ("9223372036854775808", "99999999999999999999", str(2**31), "0", "%C2%B2", "%D9%A3"):
        page = staff_client.get(f"{ADMIN}/advocates/{bad}")
        assert page.status_code == 404, bad
        assert "<html" in page.get_data(as_text=True).lower()
    assert staff_client.get(f"{ADMIN}/advocates/{2**31 - 1}").status_code == 404  # in range, not there


def test_dates_at_the_edge_of_the_calendar_fall_back_to_the_default_period(staff_client):
    for query in ("?start=9999-12-31", "?start=9999-12-31&end=9999-12-31", "?start=0001-01-01&end=9999-12-31",
                  "?end=9999-12-31&start=2024-01-01"):
        for url in (ADMIN + "/payments", ADMIN + "/testimonials/?submitted_until=9999-12-31"):
            joined = url + ("&" + query[1:] if "?" in url else query)
            assert staff_client.get(joined).status_code == 200, joined
        # The overview compares a period with the one before: an absurd date there is a clear 400.
        overview = staff_client.get(ADMIN + "/" + query)
        assert overview.status_code == 400, query
        assert "between 2000 and 2100" in overview.get_data(as_text=True)
    page = staff_client.get(ADMIN + "/?start=2024-01-01&end=2024-01-31").get_data(as_text=True)
    assert "2024-01-01" in page and "2024-01-31" in page  # a sane period is still honoured


def test_nul_in_a_path_or_query_is_refused_before_the_database(client, staff_client):
    assert client.get("/advocacy/photos/%00").status_code == 404
    assert client.get("/advocacy/photos/a%00.jpg").status_code == 404
    refused = staff_client.get(ADMIN + "/advocates?q=a%00b")
    assert refused.status_code == 400 and "NUL" in refused.get_data(as_text=True)


def test_json_endpoints_answer_bad_values_in_json(app, client):
    for query in ("?rating=%C2%B2", "?page=%C2%B2", "?page=99999999999999999999", "?per_page=%D9%A3",
                  "?product=%00"):
        response = client.get("/advocacy/api/testimonials" + query)
        assert response.status_code == 400, query
        error = response.get_json()["error"]
        assert error["code"] == "bad_request" and error["message"], query
    widget = client.get("/advocacy/widget/api/referral?token=%00")
    assert widget.status_code == 400 and widget.get_json()["error"]["code"] == "bad_request"


def _adjustment_form(staff_client, advocate_id: int, amount: str) -> dict:
    url = f"{ADMIN}/advocates/{advocate_id}"
    page = staff_client.get(url).get_data(as_text=True)
    return {
        "advocacy-adjust-csrf_token": csrf_token(staff_client, url),
        "advocacy-adjust-nonce": NONCE.search(page).group(1),
        "advocacy-adjust-amount": amount,
        "advocacy-adjust-currency": "USD",
        "advocacy-adjust-reason": "Goodwill",
    }


def test_an_adjustment_form_sent_again_with_other_content_is_a_409(app, staff_client):
    advocate_id, other_id = _advocate(app), _advocate(app)
    form = _adjustment_form(staff_client, advocate_id, "5.00")
    assert staff_client.post(f"{ADMIN}/advocates/{advocate_id}/adjust", data=form).status_code == 303

    for url, changed in ((f"{ADMIN}/advocates/{advocate_id}/adjust", {"advocacy-adjust-amount": "50.00"}),
                         (f"{ADMIN}/advocates/{other_id}/adjust", {})):
        again = staff_client.post(url, data={**form, **changed})
        assert again.status_code == 409, url
        assert "This form was already used" in again.get_data(as_text=True)
    assert flat(advocate_balances(app, advocate_id))["available"] == 500
    assert flat(advocate_balances(app, other_id)).get("available", 0) == 0
    # The very same form again is the same adjustment: posted once, no error.
    assert staff_client.post(f"{ADMIN}/advocates/{advocate_id}/adjust", data=form).status_code == 303
    assert flat(advocate_balances(app, advocate_id))["available"] == 500


def test_a_testimonial_form_sent_again_with_other_content_is_a_409(app):
    author, other = make_customer(app), make_customer(app)
    author_client, other_client = app.test_client(), app.test_client()
    login(author_client, author)
    login(other_client, other)
    tokens = form_tokens(author_client, "/advocacy/testimonials/new")
    assert submit_testimonial(author_client, tokens).status_code == 303
    assert submit_testimonial(author_client, tokens).status_code == 303  # a double click: one testimonial

    changed = submit_testimonial(author_client, tokens, body="Something else entirely, written later on.")
    assert changed.status_code == 409
    assert "This form was already sent" in changed.get_data(as_text=True)
    other_tokens = {**form_tokens(other_client, "/advocacy/testimonials/new"), "nonce": tokens["nonce"]}
    assert submit_testimonial(other_client, other_tokens).status_code == 409
    assert len(stored_testimonials(app)) == 1
