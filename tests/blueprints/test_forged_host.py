"""Redirects and absolute URLs come from the configured site origin, never from a forged Host header:
every redirecting route of the plugin and the demo, sent ``Host: evil.example`` (and ``X-Forwarded-Host``),
answers no Location outside the site and ``ADVOCACY_REDIRECT_ALLOWED_HOSTS``."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from advocacy_portal import get_portal
from advocacy_portal.db import get_session
from advocacy_portal.services import links
from tests.helpers import CSRF_FIELD
from tests.helpers import follow
from tests.helpers import make_customer

SITE = "https://shop.example"
EVIL = "evil.example"
FORGED = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https"}
HOSTILE_NEXT = [
    f"http://{EVIL}/x", f"https://{EVIL}/x", f"//{EVIL}/x", f"https://{EVIL}:443/x", "/\\evil.example/x",
    f"https://shop.example@{EVIL}/x",
]
SITE_SETTINGS = dict(SITE_URL=SITE, SERVER_NAME=None, REDIRECT_ALLOWED_HOSTS=("partner.example",))


def link_path(app, customer) -> str:
    with app.test_request_context("/", base_url=SITE):
        link = get_portal(app).referral_link(customer)
        get_session().commit()
    assert link.startswith(SITE + "/"), link
    return link[len(SITE):]


def assert_on_site(response, where: str) -> None:
    location = response.headers.get("Location")
    if location is None:
        return
    parts = urlsplit(location)
    if parts.netloc:
        assert parts.hostname in ("shop.example", "partner.example"), f"{where} redirected to {location}"
    else:
        assert location.startswith("/") and not location.startswith("//"), f"{where}: {location}"


def forged_login(client, customer):
    page = client.get("/login", headers=FORGED)
    token = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login", headers=FORGED,
                           data={"email": customer.email, "password": "correct horse battery", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return token


@pytest.mark.settings(**SITE_SETTINGS)
def test_the_referral_link_never_sends_a_forged_host_anywhere(app):
    client = app.test_client()
    path = link_path(app, make_customer(app))
    for target in HOSTILE_NEXT:
        response = follow(client, path, query_string={"next": target}, **FORGED)
        assert response.status_code == 302 and response.headers["Location"] == "/signup", target
    # The configured site and the allow-list still pass, whatever the Host header says.
    for target in (f"{SITE}/pricing?x=1", "https://partner.example/welcome", "/pricing"):
        response = follow(client, path, query_string={"next": target}, **FORGED)
        assert response.headers["Location"] == target


@pytest.mark.settings(SERVER_NAME=None, REDIRECT_ALLOWED_HOSTS=())
def test_with_no_site_configured_only_paths_pass(app):
    client = app.test_client()
    with app.test_request_context("/", base_url="http://localhost"):
        path = urlsplit(get_portal(app).referral_link(make_customer(app))).path
        get_session().commit()
    answer = follow(client, path, query_string={"next": f"http://{EVIL}/x"}, **FORGED)
    assert answer.headers["Location"] == "/signup"
    assert follow(client, path, query_string={"next": "/pricing"}, **FORGED).headers["Location"] == "/pricing"


@pytest.mark.settings(SERVER_NAME="shop.example", PREFERRED_URL_SCHEME="https")
def test_server_name_is_the_site_when_no_site_url_is_set(app):
    with app.app_context():
        assert links.site_origin().url == "https://shop.example"
        assert links.same_site_destination("https://shop.example/a") == "https://shop.example/a"
        assert links.same_site_destination(f"https://{EVIL}/a") is None


@pytest.mark.settings(SERVER_NAME=None, TRUSTED_HOSTS=["shop.example", ".cdn.example"])
def test_trusted_hosts_are_the_site_and_refuse_other_hosts(app):
    with app.app_context():
        assert links.site_origin().netloc == "shop.example"
        assert links.site_hosts() == ("shop.example",)
    # Flask itself refuses a request for an untrusted host: nothing is built from it.
    assert app.test_client().get("/advocacy/", headers={"Host": EVIL}).status_code == 400


@pytest.mark.settings(**SITE_SETTINGS)
def test_absolute_urls_are_built_on_the_site_not_the_host_header(app):
    client = app.test_client()
    customer = make_customer(app)
    forged_login(client, customer)
    page = client.get("/advocacy/", headers=FORGED).get_data(as_text=True)
    assert f"{SITE}/r/" in page and EVIL not in page


@pytest.mark.settings(**SITE_SETTINGS)
def test_urls_built_outside_a_request_are_on_the_site(app):
    from flask import url_for

    with app.app_context():
        assert url_for("advocacy_links.follow", token="abc", _external=True) == f"{SITE}/r/abc"
        assert links.absolute_url("/pricing") == f"{SITE}/pricing"


def test_a_bad_site_url_is_refused_at_start_up():
    from tests import host_app

    for value in ("shop.example", "ftp://shop.example", "https://shop.example/path", "https://a b"):
        with pytest.raises(RuntimeError, match="ADVOCACY_SITE_URL"):
            host_app.create_app({"TESTING": True, "SECRET_KEY": "x", "ADVOCACY_SITE_URL": value,
                                 "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_a_warning_is_logged_once_when_no_site_is_configured_in_production(caplog):
    from tests import host_app

    with caplog.at_level(logging.WARNING, logger="advocacy_portal"):
        host_app.create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    warnings = [r for r in caplog.records if "ADVOCACY_SITE_URL" in r.getMessage()]
    assert len(warnings) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="advocacy_portal"):
        host_app.create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", "ADVOCACY_SITE_URL": SITE})
        host_app.create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert not [r for r in caplog.records if "ADVOCACY_SITE_URL" in r.getMessage()]


def _sample(rule, token: str) -> str | None:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = token if name == "token" else ("1" if kind in ("IntegerConverter",) else "x")
    try:
        path = rule.build(values, append_unknown=False)[1]
    except Exception:
        return None
    return path


def _sweep(app, client, token: str, csrf: str | None, prefix: str = "advocacy") -> int:
    """Every plugin rule with every method, with hostile next/back values, as this client."""
    redirects = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(prefix) or rule.endpoint.endswith("static"):
            continue
        path = _sample(rule, token)
        if path is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for target in HOSTILE_NEXT[:3]:
                data = {"next": target, "back": target}
                if csrf:
                    data["csrf_token"] = csrf
                response = client.open(
                    path, method=method, headers=FORGED, query_string={"next": target, "back": target},
                    data=data if method != "GET" else None,
                )
                assert response.status_code < 500, f"{method} {path}: {response.status_code}"
                if response.headers.get("Location"):
                    redirects += 1
                assert_on_site(response, f"{method} {path}")
    return redirects


@pytest.mark.settings(**SITE_SETTINGS)
def test_no_route_of_the_plugin_redirects_off_site_for_anyone(app):
    customer = make_customer(app)
    token = link_path(app, customer).rsplit("/", 1)[1]
    anonymous = app.test_client()
    seen = _sweep(app, anonymous, token, None)
    for who in (make_customer(app), make_customer(app, "ops@example.com", staff=True)):
        client = app.test_client()
        csrf = forged_login(client, who)
        seen += _sweep(app, client, token, csrf)
    # The sweep met real redirects (the referral link, sign-in prompts, form posts), not only errors.
    assert seen >= 50, seen


@pytest.mark.demo
@pytest.mark.settings(**SITE_SETTINGS)
def test_the_demo_redirects_stay_on_site_with_a_forged_host(app):
    client = app.test_client()
    customer = make_customer(app)
    token = link_path(app, customer).rsplit("/", 1)[1]
    widget = client.get("/widget-demo", headers=FORGED)
    assert widget.status_code == 302
    assert_on_site(widget, "/widget-demo")
    page = client.get("/login", headers=FORGED)
    csrf = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    for target in HOSTILE_NEXT:
        response = client.post("/login", headers=FORGED, query_string={"next": target},
                               data={"email": customer.email, "password": "correct horse battery",
                                     "csrf_token": csrf})
        assert response.status_code == 302
        assert_on_site(response, f"/login?next={target}")
        session_cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
        assert session_cookie and "SameSite=Lax" in session_cookie[0]
        client.post("/logout", headers=FORGED, data={"csrf_token": csrf})
    partner = client.get("/partner", headers=FORGED)
    assert partner.status_code == 200
    assert EVIL not in partner.headers["Content-Security-Policy"]
    assert f"script-src {SITE}" in partner.headers["Content-Security-Policy"]
    seen = _sweep(app, client, token, csrf, prefix="")
    assert seen >= 50, seen


@pytest.mark.settings(**SITE_SETTINGS)
def test_the_walls_structured_data_and_photo_urls_name_the_site_not_the_host_header(app):
    import io

    from tests.testimonials_support import png_bytes
    from tests.testimonials_support import submit_testimonial

    author = make_customer(app)
    client = app.test_client()
    from tests.helpers import login

    login(client, author)
    sent = submit_testimonial(client, photo=(io.BytesIO(png_bytes(size=(200, 150))), "me.png", "image/png"))
    assert sent.status_code == 303, sent.get_data(as_text=True)
    staff = make_customer(app, staff=True)
    from tests.testimonials_support import moderate
    from tests.testimonials_support import stored_testimonials

    [row] = stored_testimonials(app)
    moderate(app, row["id"], "approve", staff)

    wall = app.test_client().get("/advocacy/wall", headers=FORGED).get_data(as_text=True)
    assert f'"{SITE}/#organization"' in wall and EVIL not in wall
    listed = app.test_client().get("/advocacy/api/testimonials", headers=FORGED).get_json()
    [item] = listed["items"] if "items" in listed else listed["data"]
    assert item["photo_url"].startswith(f"{SITE}/advocacy/photos/"), item["photo_url"]


@pytest.mark.settings(**SITE_SETTINGS, WIDGET_ORIGINS=[])
def test_a_forged_host_cannot_make_a_foreign_origin_look_same_site(app):
    # Host and Origin both say evil.example: it is still another site, refused like any unlisted one.
    client = app.test_client()
    forged = client.get("/advocacy/widget/api/referral", headers={**FORGED, "Origin": f"https://{EVIL}"})
    assert forged.status_code == 403
    assert forged.get_json()["error"]["code"] == "origin_not_allowed"
    same_site = client.get("/advocacy/widget/api/referral", headers={**FORGED, "Origin": SITE})
    assert same_site.status_code == 200


@pytest.mark.settings(**SITE_SETTINGS)
def test_the_link_command_prints_a_link_on_the_configured_site(app):
    customer = make_customer(app)
    result = app.test_cli_runner().invoke(args=["advocacy", "link", str(customer.id)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith(f"{SITE}/r/"), result.output
