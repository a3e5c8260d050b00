"""The demo host (``wsgi.py``): its login and signup behave as a careful host app should."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD
from tests.helpers import csrf_token
from tests.helpers import make_customer
from tests.helpers import signup

pytestmark = pytest.mark.demo


@pytest.mark.parametrize(("target", "expected"), [("/advocacy/", "/advocacy/"), ("//evil.example", "/"),
                                                   ("https://evil.example/", "/"), ("/\\evil.example", "/")])
def test_login_returns_only_to_pages_on_this_site(app, client, target, expected):
    customer = make_customer(app)
    token = csrf_token(client, "/login")
    response = client.post(f"/login?next={target}", data={"email": customer.email, "password": PASSWORD,
                                                          "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_wrong_password_and_missing_csrf_are_clear_errors(app, client):
    customer = make_customer(app)
    token = csrf_token(client, "/login")
    wrong = client.post("/login", data={"email": customer.email, "password": "nope", "csrf_token": token})
    assert wrong.status_code == 400
    assert "do not match" in wrong.get_data(as_text=True)
    no_csrf = client.post("/login", data={"email": customer.email, "password": PASSWORD})
    assert no_csrf.status_code == 400


def test_signup_refuses_a_taken_email_and_malformed_input(app, client):
    make_customer(app, email="taken@example.com")
    taken = signup(client, "taken@example.com")
    assert taken.status_code == 400
    assert "exists already" in taken.get_data(as_text=True)
    malformed = signup(client, "not-an-email", password="short")
    assert malformed.status_code == 400


def test_the_demos_own_404_and_expired_forms_are_friendly_pages(app, client):
    missing = client.get("/no-such-page")
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in page and 'class="demo-nav"' in page
    assert "Werkzeug" not in page and "The requested URL was not found" not in page

    expired_login = client.post("/login", data={"email": "a@example.com", "password": "x"})
    page = expired_login.get_data(as_text=True)
    assert expired_login.status_code == 400
    assert "This form expired" in page and 'href="/login"' in page and "Log in again" in page

    customer = make_customer(app)
    from tests.helpers import login

    login(client, customer)
    expired_logout = client.post("/logout", data={})
    assert expired_logout.status_code == 400
    assert "You were not logged out" in expired_logout.get_data(as_text=True)
    assert client.get("/advocacy/").status_code == 200  # still logged in
