"""The widget's HTTP side: ``widget.js`` caching, referral mode's JSON, CORS for listed origins only,
JSON errors, rate limits and ``?via=widget`` clicks."""

from __future__ import annotations

import gzip

import pytest

from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path

SCRIPT = "/advocacy/widget/widget.js"
REFERRAL = "/advocacy/widget/api/referral"
API = "/advocacy/api/testimonials"
PARTNER = "https://www.partner.example"

pytestmark = pytest.mark.settings(WIDGET_ORIGINS=[PARTNER])


def widget_token(app, customer) -> str:
    from advocacy_portal import get_portal

    with app.test_request_context():
        return get_portal(app).widget_token(customer)


def test_the_script_is_cacheable_compressed_and_small(app, client):
    plain = client.get(SCRIPT)
    assert plain.status_code == 200
    assert plain.mimetype == "text/javascript"
    assert plain.headers["Cache-Control"] == "public, max-age=300"
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    assert "Accept-Encoding" in plain.headers["Vary"]
    assert b"AdvocacyWidget" in plain.data
    # Revalidation is a cheap 304.
    again = client.get(SCRIPT, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""

    compressed = client.get(SCRIPT, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert len(compressed.data) <= 5 * 1024, f"widget.js is {len(compressed.data)} bytes gzipped"
    assert gzip.decompress(compressed.data) == plain.data
    assert compressed.headers["ETag"] != plain.headers["ETag"]


def test_the_content_hashed_script_url_is_cached_for_a_year(app, client):
    from advocacy_portal import get_portal

    with app.test_request_context():
        url = get_portal(app).widget_script_url()
    assert url.startswith("http://shop.test/advocacy/widget/widget.") and url.endswith(".js")
    response = client.get(url.split("shop.test", 1)[1])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data == client.get(SCRIPT).data
    # An old hash (a page cached across an upgrade) still gets a working script, cached briefly.
    stale = client.get("/advocacy/widget/widget.0123456789ab.js")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "public, max-age=300"


def test_any_site_may_load_the_script_but_only_listed_sites_read_the_data(app, client):
    for origin in (PARTNER, "https://evil.example"):
        response = client.get(SCRIPT, headers={"Origin": origin})
        assert response.status_code == 200
    refused = client.get(REFERRAL, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in refused.headers
    allowed = client.get(REFERRAL, headers={"Origin": PARTNER})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    # Servers and the site itself are not browsers on another origin.
    assert client.get(REFERRAL).status_code == 200
    assert client.get(REFERRAL, headers={"Origin": "http://shop.test"}).status_code == 200


def test_the_testimonials_api_follows_the_same_origin_list(app, client):
    assert client.get(API, headers={"Origin": "https://evil.example"}).status_code == 403
    listed = client.get(API, headers={"Origin": PARTNER})
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == PARTNER
    # Its JSON errors reach the listed page too, so the widget can say what went wrong.
    error = client.get(API + "?rating=9", headers={"Origin": PARTNER})
    assert error.status_code == 400 and error.headers["Access-Control-Allow-Origin"] == PARTNER
    preflight = client.options(API, headers={"Origin": PARTNER, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == PARTNER
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    # A 304 keeps the CORS header, or the browser could not use its cached copy.
    etag = listed.headers["ETag"]
    revalidated = client.get(API, headers={"Origin": PARTNER, "If-None-Match": etag})
    assert revalidated.status_code == 304 and revalidated.headers["Access-Control-Allow-Origin"] == PARTNER


def test_referral_mode_without_a_token_shows_the_offer_and_the_sign_in_link(app, client):
    body = client.get(REFERRAL, headers={"Origin": PARTNER}).get_json()
    assert body["identity"] == "none"
    assert body["advocate"] is None
    assert body["signin_url"] == "http://shop.test/advocacy/"
    assert body["offer"]["title"] == "Test Shop referrals"
    assert body["offer"]["text"] == app.config["ADVOCACY_OFFER_TEXT"]


def test_a_valid_token_shows_that_customers_link_share_links_and_qr_code_and_nobody_elses(app, client):
    ada = make_customer(app, email="ada@example.com")
    bob = make_customer(app, email="bob@example.com")
    response = client.get(REFERRAL, query_string={"token": widget_token(app, ada)}, headers={"Origin": PARTNER})
    body = response.get_json()
    assert body["identity"] == "valid"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    link = body["advocate"]["link"]
    assert link == "http://shop.test" + referral_path(app, ada) + "?via=widget"
    assert [share["network"] for share in body["advocate"]["share"]] == ["email", "x", "linkedin", "whatsapp", "facebook"]
    assert all("shop.test" in share["url"] for share in body["advocate"]["share"])
    assert body["advocate"]["qr"]["size"] >= 21 and body["advocate"]["qr"]["path"].startswith("M")
    assert "ada@example.com" not in response.get_data(as_text=True)
    other = client.get(REFERRAL, query_string={"token": widget_token(app, bob)}).get_json()
    assert other["advocate"]["link"] != link


def test_the_widgets_share_texts_tell_the_friend_their_discount_as_the_referral_page_does(app, client, auth):
    from urllib.parse import unquote_plus

    ada = make_customer(app, email="ada@example.com")
    body = client.get(REFERRAL, query_string={"token": widget_token(app, ada)}).get_json()
    shares = {share["network"]: unquote_plus(share["url"]) for share in body["advocate"]["share"]}
    sentence = "Sign up with my link and get 10% off your first purchase."
    assert sentence in shares["email"] and sentence in shares["x"] and sentence in shares["whatsapp"]
    # The reward line is the referral page's sentence too: one wording (offer_text), not two.
    assert body["offer"]["reward"] == ("You earn 10% of what each friend pays, for their first payment. "
                                       "Your friend gets 10% off their first purchase.")
    auth.login(ada)
    page = client.get("/advocacy/").get_data(as_text=True)
    assert unquote_plus(page.replace("&amp;", "&")).count(sentence) >= 3
    assert "You earn 10% of what each friend pays, for their first payment." in page


@pytest.mark.settings(REWARD_RULES={"default": {"type": "fixed", "amount_minor": 500, "currency": "usd"},
                                    "campaigns": {}})
def test_without_a_friend_discount_the_share_texts_promise_none(app, client):
    from urllib.parse import unquote_plus

    ada = make_customer(app, email="ada@example.com")
    body = client.get(REFERRAL, query_string={"token": widget_token(app, ada)}).get_json()
    assert body["offer"]["reward"] == "You earn $5.00 for each friend who pays, for their first payment."
    assert not any(" off " in unquote_plus(share["url"]) for share in body["advocate"]["share"])


@pytest.mark.settings(CAMPAIGN_OFFERS={"spring": "Spring: give 20%, get 20%."})
def test_a_campaign_gets_its_own_link_and_offer(app, client):
    ada = make_customer(app)
    body = client.get(REFERRAL, query_string={"token": widget_token(app, ada), "campaign": "spring"}).get_json()
    assert body["offer"]["text"] == "Spring: give 20%, get 20%."
    assert body["advocate"]["link"] == "http://shop.test" + referral_path(app, ada, "spring") + "?via=widget"
    bad = client.get(REFERRAL, query_string={"campaign": "<b>"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"


def test_forged_expired_and_orphaned_tokens_get_the_anonymous_view(app, client, monkeypatch):
    import time

    from sqlalchemy import delete

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate

    ada = make_customer(app)
    token = widget_token(app, ada)
    forged = token[:-2] + ("xy" if not token.endswith("xy") else "yz")
    for value, identity in [(forged, "invalid"), ("x" * 5000, "invalid"), ("<script>", "invalid")]:
        body = client.get(REFERRAL, query_string={"token": value}).get_json()
        assert (body["identity"], body["advocate"]) == (identity, None)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3601)
    assert client.get(REFERRAL, query_string={"token": token}).get_json()["identity"] == "expired"
    monkeypatch.setattr(time, "time", real_time)
    # The customer was deleted since the token was minted.
    with app.app_context():
        get_session().execute(delete(Advocate).where(Advocate.user_id == str(ada.id)))
        get_session().commit()
    body = client.get(REFERRAL, query_string={"token": token}).get_json()
    assert (body["identity"], body["advocate"]) == ("unknown_customer", None)


def test_widget_token_refuses_anonymous_users(app):
    from flask_login import AnonymousUserMixin

    from advocacy_portal import get_portal

    with app.test_request_context(), pytest.raises(ValueError):
        get_portal(app).widget_token(AnonymousUserMixin())


def test_bad_requests_get_json_errors(app, client):
    for method, path, status, code in [
        ("post", REFERRAL, 405, "method_not_allowed"),
        ("delete", SCRIPT, 405, "method_not_allowed"),
        ("get", "/advocacy/widget/", 404, "not_found"),
        ("get", "/advocacy/widget/api/nothing", 404, "not_found"),
        ("put", "/advocacy/widget/../../etc", 404, "not_found"),
    ]:
        response = getattr(client, method)(path, headers={"Origin": PARTNER})
        assert response.status_code == status, path
        assert response.get_json()["error"]["code"] == code
        assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    oversized = client.post(REFERRAL, data=b"x" * (200 * 1024), content_type="text/plain")
    assert oversized.status_code in (405, 413)
    assert oversized.is_json


@pytest.mark.settings(WIDGET_RATE_LIMIT="2 per minute")
def test_a_burst_of_widget_requests_gets_a_json_429(app):
    client = app.test_client()
    codes = [client.get(REFERRAL, environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = client.get(REFERRAL, environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in response.headers


def test_clicks_through_the_widget_are_recorded_as_widget(app, client):
    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import ReferralClick

    path = referral_path(app, make_customer(app))
    assert follow(client, path, query_string={"via": "widget"}, ip="203.0.113.1").status_code == 302
    assert follow(client, path, query_string={"via": "<script>"}, ip="203.0.113.2").status_code == 302
    assert follow(client, path, ip="203.0.113.3").status_code == 302
    with app.app_context():
        sources = get_session().scalars(select(ReferralClick.source).order_by(ReferralClick.id)).all()
    assert sources == ["widget", "link", "link"]


def test_the_plugins_own_pages_still_refuse_to_be_framed(app, client, auth):
    auth.login(make_customer(app))
    page = client.get("/advocacy/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_qr_code_is_drawn_once_when_the_token_is_minted_and_kept_across_restarts(app, client, monkeypatch):
    from sqlalchemy import select

    from advocacy_portal.db import get_session
    from advocacy_portal.models import Advocate
    from advocacy_portal.models import LinkQrCode
    from advocacy_portal.services import referrals as referral_service
    from advocacy_portal.services import widget as widget_service

    ada = make_customer(app)
    token = widget_token(app, ada)
    with app.app_context():
        kept = get_session().execute(select(LinkQrCode.advocate_id, LinkQrCode.size, LinkQrCode.path)).all()
        advocate_id = get_session().scalar(select(Advocate.id).where(Advocate.user_id == str(ada.id)))
    assert [row.advocate_id for row in kept] == [advocate_id]

    # A restarted process (nothing in memory) reads the kept code instead of drawing it again.
    monkeypatch.setattr(widget_service, "_drawn", {})
    monkeypatch.setattr(widget_service, "_draw", lambda link: pytest.fail(f"drew {link} again"))
    body = client.get(REFERRAL, query_string={"token": token}, headers={"Origin": PARTNER}).get_json()
    assert body["advocate"]["qr"] == {"size": kept[0].size, "path": kept[0].path}
    monkeypatch.undo()
    assert body["advocate"]["qr"] == widget_service.qr_path(body["advocate"]["link"])

    # Resetting the link retires its code; the new link gets one of its own on its first view.
    with app.app_context():
        referral_service.reset_link(get_session().get(Advocate, advocate_id))
        get_session().commit()
        assert get_session().scalar(select(LinkQrCode.link_digest)) is None
    fresh = client.get(REFERRAL, query_string={"token": token}).get_json()["advocate"]
    assert fresh["link"] != body["advocate"]["link"]
    assert fresh["qr"] == widget_service.qr_path(fresh["link"]) != body["advocate"]["qr"]
    with app.app_context():
        digests = get_session().scalars(select(LinkQrCode.link_digest)).all()
    assert digests == [widget_service.link_digest(fresh["link"])]
