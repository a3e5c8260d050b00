"""The public referral link ``/r/<token>`` as a visitor's browser meets it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.services import links
from advocacy_portal.services import referrals
from advocacy_portal.services import visitors
from tests.helpers import BROWSER_UA
from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup


def rows(app, model):
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(model))


def cookie_header(response) -> str:
    return "; ".join(response.headers.getlist("Set-Cookie"))


def test_a_click_redirects_sets_the_cookie_and_is_counted(app, client):
    advocate = make_customer(app)
    response = follow(client, referral_path(app, advocate), Referer="https://x.com/alice/status/1",
                      **{"Accept-Language": "de-CH,de;q=0.9"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/signup"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = cookie_header(response)
    assert "advocacy_ref=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={30 * 86400}" in cookie
    with app.app_context():
        click = get_session().scalar(select(ReferralClick))
        assert click.referrer_host == "x.com"
        assert click.device_class == "desktop"
        assert click.ip_hash == visitors.hash_ip("203.0.113.7")
        # The device cluster: this browser, its languages, this /24 network (the fraud review's rule).
        assert click.device_hash == visitors.hash_device("203.0.113.200", BROWSER_UA, "de-CH,de;q=0.9")
        assert click.device_hash != visitors.hash_device("203.0.113.7", BROWSER_UA, "en-US")
        assert "203.0.113" not in repr(click.__dict__)


def test_a_campaign_link_carries_its_campaign_to_the_click_and_the_referral(app, client):
    advocate = make_customer(app)
    follow(client, referral_path(app, advocate, campaign="spring-2027"))
    signup(client, "friend@example.com")
    with app.app_context():
        assert get_session().scalar(select(ReferralClick.campaign)) == "spring-2027"
        referral = get_session().scalar(select(Referral))
        assert referral.campaign == "spring-2027"
        assert referral.click_id is not None


@pytest.mark.parametrize("target", ["/pricing?plan=pro", "/"])
def test_a_link_may_name_a_same_site_landing_page(app, client, target):
    advocate = make_customer(app)
    response = follow(client, referral_path(app, advocate), query_string={"next": target})
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https:evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
     "http://shop.test@evil.example/", "%2F%2Fevil.example"],
)
def test_off_site_landing_pages_fall_back_to_the_configured_one(app, client, target):
    advocate = make_customer(app)
    response = follow(client, referral_path(app, advocate), query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/signup"
    assert "advocacy_ref=" in cookie_header(response)


@pytest.mark.settings(REDIRECT_ALLOWED_HOSTS=["www.marketing.example"], LANDING_URL="https://www.marketing.example/welcome")
def test_allow_listed_hosts_can_be_landing_pages(app, client):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    response = follow(client, path)
    assert response.headers["Location"] == "https://www.marketing.example/welcome"
    response = follow(client, path, query_string={"next": "https://www.marketing.example/offer"})
    assert response.headers["Location"] == "https://www.marketing.example/offer"


def _bad_tokens(app, advocate):
    path = referral_path(app, advocate)
    token = path.rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    with app.app_context():
        foreign_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps(
            [referrals.get_advocate(advocate.id).code]
        )
        other_key = links._LinkSerializer("not-our-key", salt=app.config["ADVOCACY_LINK_SALT"]).dumps(
            [referrals.get_advocate(advocate.id).code]
        )
        unknown = links.make_link_token("nobody12", utcnow())
    return {"tampered": tampered, "foreign-salt": foreign_salt, "other-key": other_key,
            "unknown": unknown, "garbage": "not-a-token", "huge": "x" * 3000}


def test_broken_links_get_a_friendly_404_no_click_and_no_cookie(app, client):
    advocate = make_customer(app)
    for name, token in _bad_tokens(app, advocate).items():
        response = follow(client, f"/r/{token}")
        assert response.status_code == 404, name
        assert "This referral link doesn't work" in response.get_data(as_text=True), name
        assert "advocacy_ref" not in cookie_header(response), name
    assert rows(app, ReferralClick) == 0


@pytest.mark.settings(LINK_MAX_AGE_DAYS=10)
def test_an_expired_link_gets_the_404_page(app, client):
    advocate = make_customer(app)
    with app.app_context():
        code = referrals.ensure_advocate(advocate.id, advocate.email).code
        get_session().commit()
        token = links.make_link_token(code, utcnow() - timedelta(days=11))
    response = follow(client, f"/r/{token}")
    assert response.status_code == 404
    assert "advocacy_ref" not in cookie_header(response)
    assert rows(app, ReferralClick) == 0


def test_a_reset_link_stops_working(app, client, runner):
    advocate = make_customer(app)
    old = referral_path(app, advocate)
    result = runner.invoke(args=["advocacy", "reset-link", str(advocate.id)])
    assert result.exit_code == 0, result.output
    assert follow(client, old).status_code == 404
    assert follow(client, referral_path(app, advocate)).status_code == 302


def test_link_previews_and_head_requests_are_not_clicks(app, client):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    preview = follow(client, path, user_agent="facebookexternalhit/1.1")
    assert preview.status_code == 302 and "advocacy_ref" not in cookie_header(preview)
    head = client.head(path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"})
    assert head.status_code == 302 and "advocacy_ref" not in cookie_header(head)
    assert rows(app, ReferralClick) == 0


def test_click_spam_from_one_visitor_counts_once(app, client):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    first = follow(client, path)
    assert "advocacy_ref=" in cookie_header(first)
    for _ in range(20):
        again = follow(client, path)
        assert again.status_code == 302
        # The original click keeps its time: reloading cannot stretch the attribution window.
        assert "advocacy_ref" not in cookie_header(again)
    follow(app.test_client(), path, ip="203.0.113.99")
    assert rows(app, ReferralClick) == 2


def test_last_click_wins_by_default(app, client):
    alice, bob = make_customer(app), make_customer(app)
    follow(client, referral_path(app, alice))
    follow(client, referral_path(app, bob))
    signup(client, "friend@example.com")
    with app.app_context():
        referral = get_session().scalar(select(Referral))
        assert referral.advocate_id == referrals.get_advocate(bob.id).id


@pytest.mark.settings(ATTRIBUTION_MODEL="first_click")
def test_first_click_keeps_the_claim_when_configured(app, client):
    alice, bob = make_customer(app), make_customer(app)
    follow(client, referral_path(app, alice))
    second = follow(client, referral_path(app, bob))
    assert "advocacy_ref" not in cookie_header(second)
    signup(client, "friend@example.com")
    with app.app_context():
        referral = get_session().scalar(select(Referral))
        assert referral.advocate_id == referrals.get_advocate(alice.id).id
    assert rows(app, ReferralClick) == 2  # both clicks still count for their advocates


@pytest.mark.settings(ATTRIBUTION_MODEL="first_click")
def test_first_click_gives_way_when_the_first_advocate_retired_their_link(app, client, runner):
    alice, bob = make_customer(app), make_customer(app)
    follow(client, referral_path(app, alice))
    runner.invoke(args=["advocacy", "reset-link", str(alice.id)])
    assert "advocacy_ref=" in cookie_header(follow(client, referral_path(app, bob)))
    signup(client, "friend@example.com")
    with app.app_context():
        assert get_session().scalar(select(Referral)).advocate_id == referrals.get_advocate(bob.id).id


def test_a_database_failure_while_counting_still_sends_the_visitor_on(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    advocate = make_customer(app)
    path = referral_path(app, advocate)

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(referrals, "record_click", locked)
    response = follow(client, path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/signup"
    assert "advocacy_ref=" in cookie_header(response)  # the claim is kept; only the count misses
    monkeypatch.undo()
    signup(client, "friend@example.com")
    assert rows(app, Referral) == 1


def test_signup_with_a_cookie_signed_by_another_key_is_not_attributed(app, client):
    advocate = make_customer(app)
    with app.app_context():
        code = referrals.ensure_advocate(advocate.id, advocate.email).code
        get_session().commit()
    forged = URLSafeTimedSerializer("attacker-key", salt=app.config["ADVOCACY_COOKIE_SALT"]).dumps([code, None, None])
    client.set_cookie("advocacy_ref", forged, domain="shop.test")
    response = signup(client, "friend@example.com")
    assert response.status_code == 302
    assert rows(app, Referral) == 0


def test_signup_without_a_cookie_is_simply_not_referred(app, client):
    assert signup(client, "friend@example.com").status_code == 302
    assert rows(app, Referral) == 0


def test_the_cookie_is_cleared_after_signup_and_a_second_signup_is_not_credited(app, client):
    advocate = make_customer(app)
    follow(client, referral_path(app, advocate))
    response = signup(client, "friend@example.com")
    assert "advocacy_ref=;" in cookie_header(response)
    assert rows(app, Referral) == 1


def test_self_referral_through_the_signup_form_is_flagged(app, client):
    advocate = make_customer(app, email="alice@gmail.com")
    follow(client, referral_path(app, advocate))
    signup(client, "a.lice+again@gmail.com")
    with app.app_context():
        referral = get_session().scalar(select(Referral))
        assert referral.status == "flagged" and referral.flag_reason == "self_referral"


@pytest.mark.settings(REDIRECT_PATH="/invite/<token>", URL_PREFIX="/friends")
def test_paths_are_configurable(app, client):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    assert path.startswith("/invite/")
    assert follow(client, path).status_code == 302
    assert client.get("/friends/").status_code == 302  # the page moved with the prefix: login first
    assert client.get("/advocacy/").status_code == 404


def test_an_advocate_following_their_own_link_is_not_a_click(app, client, auth):
    advocate = make_customer(app)
    auth.login(advocate)
    response = follow(client, referral_path(app, advocate))
    # Their own referral page with a note, not the friend's signup page.
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/advocacy/")
    assert "advocacy_ref" not in cookie_header(response)
    assert rows(app, ReferralClick) == 0
    page = client.get("/advocacy/").get_data(as_text=True)
    assert "That is your own referral link" in page
