"""Staff pages: overview funnel, advocates list and one advocate, staff only."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.services import referrals as referral_service
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup
from tests.host_app import db


def _figure(page: str, name: str) -> int:
    match = re.search(rf'data-figure="{name}">(\d+)<', page)
    assert match, f"no figure {name}"
    return int(match.group(1))


@pytest.fixture
def staff_client(app):
    client = app.test_client()
    login(client, make_customer(app, "staff@example.com", staff=True))
    return client


@pytest.fixture
def program(app):
    """Alice brought one friend who paid and one who did not; Bob's link was clicked once."""
    alice = make_customer(app, "alice@example.com")
    bob = make_customer(app, "bob@example.com")
    for number, email in enumerate(("friend1@example.com", "friend2@example.com"), start=1):
        visitor = app.test_client()
        follow(visitor, referral_path(app, alice), ip=f"203.0.113.{number}")
        signup(visitor, email)
    follow(app.test_client(), referral_path(app, bob), ip="198.51.100.7")
    with app.app_context():
        friend = referral_service.get_referral_of_friend(
            db.session.execute(db.text("select id from shop_users where email='friend1@example.com'")).scalar()
        )
        referral_service.mark_friend_paid(friend.friend_user_id)
        db.session.commit()
    return alice, bob


@pytest.mark.parametrize("path", ["/advocacy/admin/", "/advocacy/admin/advocates", "/advocacy/admin/advocates/1"])
def test_customers_cannot_open_staff_pages(app, path):
    client = app.test_client()
    assert client.get(path).status_code == 302  # to the login page
    login(client, make_customer(app))
    response = client.get(path)
    assert response.status_code == 403


def test_overview_shows_the_funnel_of_the_period(app, staff_client, program):
    page = staff_client.get("/advocacy/admin/").get_data(as_text=True)
    assert _figure(page, "clicks") == 3
    assert _figure(page, "signups") == 2
    assert _figure(page, "paying") == 1
    assert "66.7 %" in page  # 2 signups out of 3 clicks

    long_ago = staff_client.get("/advocacy/admin/?start=2020-01-01&end=2020-01-31").get_data(as_text=True)
    assert _figure(long_ago, "clicks") == 0
    assert 'value="2020-01-01"' in long_ago

    # A mangled, inverted or absurd period is a clear 400, never a 500.
    for query, message in (
        ("start=yesterday&end=2020-99-01", "must be a date"),
        ("start=2026-03-01&end=2026-02-01", "before it starts"),
        ("start=2000-01-01&end=2100-12-31", "longer than"),
        ("start=1999-12-31", "must be a date"),
        ("by=hour", "must be one of"),
    ):
        response = staff_client.get(f"/advocacy/admin/?{query}")
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True), query


def test_advocates_are_listed_best_first_and_searchable(app, staff_client, program):
    page = staff_client.get("/advocacy/admin/advocates").get_data(as_text=True)
    assert page.index("alice@example.com") < page.index("bob@example.com")

    found = staff_client.get("/advocacy/admin/advocates?q=BOB@").get_data(as_text=True)
    assert "bob@example.com" in found and "alice@example.com" not in found

    none = staff_client.get("/advocacy/admin/advocates?q=%25_nobody").get_data(as_text=True)
    assert "No advocate matches" in none

    # Untrusted paging input is clamped and an unknown order ignored (the house rule of list pages); a
    # real page past the end is a 404 that says so.
    assert staff_client.get("/advocacy/admin/advocates?page=-3&per_page=100000&order=evil").status_code == 200
    past = staff_client.get("/advocacy/admin/advocates?page=99")
    assert past.status_code == 404 and "There is no page 99" in past.get_data(as_text=True)


def test_one_advocate_shows_their_friends(app, staff_client, program):
    with app.app_context():
        alice = referral_service.get_advocate(str(program[0].id))
        alice_id = alice.id
    page = staff_client.get(f"/advocacy/admin/advocates/{alice_id}").get_data(as_text=True)
    assert "friend1@example.com" in page and "friend2@example.com" in page
    assert _figure(page, "signups") == 2 and _figure(page, "paying") == 1
    assert staff_client.get("/advocacy/admin/advocates/999999").status_code == 404


def test_staff_pages_are_not_cached(staff_client, program):
    response = staff_client.get("/advocacy/admin/advocates")
    assert response.headers["Cache-Control"] == "private, no-store"
