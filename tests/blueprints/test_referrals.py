"""The customer's referral page: what a logged-in customer sees and can do."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.helpers import csrf_token
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup


def page_text(client) -> str:
    response = client.get("/advocacy/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shown_link(html: str) -> str:
    return re.search(r'id="advocacy-link"[^>]*value="([^"]+)"', html).group(1)


def test_anonymous_visitors_are_sent_to_the_hosts_login(client):
    for path in ("/advocacy/", "/advocacy/qr.svg"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_the_page_shows_the_link_share_links_qr_and_counts(app, client, auth):
    advocate = make_customer(app)
    auth.login(advocate)
    html = page_text(client)
    link = shown_link(html)
    assert link.startswith("http://shop.test/r/")
    assert shown_link(page_text(client)) == link  # stable
    assert '<label for="advocacy-link"' in html
    encoded = quote(link, safe="")
    for network, prefix in [
        ("email", "mailto:?"),
        ("x", "https://x.com/intent/post?"),
        ("linkedin", "https://www.linkedin.com/sharing/share-offsite/?"),
        ("whatsapp", "https://wa.me/?"),
        ("facebook", "https://www.facebook.com/sharer/sharer.php?"),
    ]:
        match = re.search(rf'href="([^"]+)"\s+(?:target="_blank" rel="noopener noreferrer"\s+)?data-network="{network}"', html)
        assert match, network
        assert match.group(1).startswith(prefix)
        assert encoded in match.group(1).replace("&amp;", "&")
    assert 'src="/advocacy/qr.svg"' in html
    assert 'data-stat="clicks">0<' in html


def test_counts_follow_clicks_and_signups(app, client, auth):
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    for n in range(3):
        follow(app.test_client(), path, ip=f"198.51.100.{n}")
    friend_browser = app.test_client()
    follow(friend_browser, path, ip="198.51.100.50")
    signup(friend_browser, "friend@example.com")
    auth.login(advocate)
    html = page_text(client)
    assert 'data-stat="clicks">4<' in html
    assert 'data-stat="signups">1<' in html
    assert 'data-stat="paying">0<' in html
    assert "f***@example.com" in html
    assert "friend@example.com" not in html


def test_customers_see_only_their_own_link_and_counts(app):
    alice, bob = make_customer(app), make_customer(app)
    follow(app.test_client(), referral_path(app, alice))
    alice_client, bob_client = app.test_client(), app.test_client()
    login(alice_client, alice)
    login(bob_client, bob)
    alice_html, bob_html = page_text(alice_client), page_text(bob_client)
    assert shown_link(alice_html) != shown_link(bob_html)
    assert 'data-stat="clicks">1<' in alice_html
    assert 'data-stat="clicks">0<' in bob_html


def test_the_qr_code_is_an_svg_of_the_link(app, client, auth):
    advocate = make_customer(app)
    auth.login(advocate)
    response = client.get("/advocacy/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    body = response.get_data(as_text=True)
    assert 'xmlns="http://www.w3.org/2000/svg"' in body
    assert "<title>QR code of your referral link</title>" in body
    assert "no-store" in response.headers["Cache-Control"]
    download = client.get("/advocacy/qr.svg?download=1")
    assert download.headers["Content-Disposition"] == 'attachment; filename="referral-qr.svg"'


def test_the_page_refuses_to_be_framed_and_caching(app, client, auth):
    auth.login(make_customer(app))
    response = client.get("/advocacy/")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_resetting_the_link_needs_csrf_and_confirmation(app, client, auth):
    advocate = make_customer(app)
    auth.login(advocate)
    old_link = shown_link(page_text(client))
    no_token = client.post("/advocacy/link/reset", data={"advocacy-reset-confirm": "y"})
    assert no_token.status_code == 400
    assert "reload the page" in no_token.get_data(as_text=True)
    token = csrf_token(client, "/advocacy/")
    unconfirmed = client.post("/advocacy/link/reset", data={"csrf_token": token})
    assert unconfirmed.status_code == 400
    body = unconfirmed.get_data(as_text=True)
    assert "<title>Error: " in body
    checkbox = re.search(r'<input[^>]*id="advocacy-reset-confirm"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in checkbox
    assert 'aria-describedby="advocacy-reset-confirm-error"' in checkbox
    assert '<p class="advocacy-error" id="advocacy-reset-confirm-error">Tick the box to confirm.</p>' in body
    assert shown_link(page_text(client)) == old_link
    done = client.post("/advocacy/link/reset", data={"csrf_token": token, "advocacy-reset-confirm": "y"}, follow_redirects=True)
    assert "Here is your new link" in done.get_data(as_text=True)
    new_link = shown_link(page_text(client))
    assert new_link != old_link
    assert follow(app.test_client(), old_link.removeprefix("http://shop.test")).status_code == 404
    assert follow(app.test_client(), new_link.removeprefix("http://shop.test")).status_code == 302


def test_the_reset_endpoint_only_takes_post(app, client, auth):
    auth.login(make_customer(app))
    response = client.get("/advocacy/link/reset")
    # Routing errors are the host's to render (no blueprint has matched yet): only the status is ours.
    assert response.status_code == 405


def test_a_host_template_overrides_the_plugins(app, client, auth):
    app.jinja_loader.mapping["advocacy/referrals/page.html"] = "HOST PAGE {{ link }} {{ stats.clicks }}"
    auth.login(make_customer(app))
    body = page_text(client)
    assert body.startswith("HOST PAGE http://shop.test/r/")


@pytest.mark.settings(REFERRAL_PAGE_TEMPLATE="shop/refer.html")
def test_every_template_path_is_a_setting(app, client, auth):
    app.jinja_loader.mapping["shop/refer.html"] = "CUSTOM {{ offer_text }}"
    auth.login(make_customer(app))
    assert page_text(client).startswith("CUSTOM Give friends")


def test_user_text_is_escaped(app, client, auth):
    app.config["ADVOCACY_OFFER_TEXT"] = "<script>alert(1)</script>"
    auth.login(make_customer(app))
    html = page_text(client)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_oversized_post_is_refused_with_a_clear_page(app, client, auth):
    auth.login(make_customer(app))
    token = csrf_token(client, "/advocacy/")
    response = client.post("/advocacy/link/reset", data={"csrf_token": token, "advocacy-reset-confirm": "y" * 2_000_000})
    assert response.status_code == 413
    assert "That was too large" in response.get_data(as_text=True)
