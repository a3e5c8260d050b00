"""The security headers of the plugin's pages: the strict Content-Security-Policy (``default-src
'self'``, scripts and styles by the site's own files or the request's nonce), no framing, and the same on
the host's pages with ``ADVOCACY_CSP_HOST_PAGES``."""

from __future__ import annotations

import re

import pytest

from tests.helpers import login
from tests.helpers import make_customer

NONCE_IN_PAGE = re.compile(r'<style nonce="([^"]+)">')


def directives(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ")[1:] for part in (p.strip() for p in policy.split(";")) if part}


def test_a_plugin_page_gets_the_strict_policy_with_the_nonce_its_layout_used(app):
    client = app.test_client()
    login(client, make_customer(app))
    first = client.get("/advocacy/")
    policy = directives(first)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert first.headers["X-Frame-Options"] == "DENY"
    # The host layout's inline <style> carries the request's nonce, and only that nonce is allowed.
    nonce = NONCE_IN_PAGE.search(first.get_data(as_text=True)).group(1)
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert policy["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    second = client.get("/advocacy/")
    assert NONCE_IN_PAGE.search(second.get_data(as_text=True)).group(1) != nonce


def test_a_page_that_hands_out_no_nonce_allows_no_inline_code(app):
    # The error page of an unknown link renders the plugin's own base template: nothing inline.
    app.config["ADVOCACY_BASE_TEMPLATE"] = "advocacy/base.html"
    response = app.test_client().get("/advocacy/wall")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert "nonce" not in response.get_data(as_text=True)


def test_json_answers_carry_no_page_policy(app):
    response = app.test_client().get("/advocacy/api/testimonials")
    assert response.mimetype == "application/json"
    assert "script-src" not in response.headers.get("Content-Security-Policy", "")


@pytest.mark.settings(CONTENT_SECURITY_POLICY={"default-src": ["'self'"], "img-src": ["'self'", "https://cdn.example"],
                                               "frame-ancestors": ["'none'"]})
def test_the_policy_is_a_setting(app):
    response = app.test_client().get("/advocacy/wall")
    assert response.headers["Content-Security-Policy"] == \
        "default-src 'self'; img-src 'self' https://cdn.example; frame-ancestors 'none'"


def test_the_policy_built_once_follows_a_changed_setting(app):
    # The header's value is built once per value of the settings, not per response: a new value, a
    # policy changed in place and a changed framing switch are each seen on the next response.
    client = app.test_client()
    app.config["ADVOCACY_BASE_TEMPLATE"] = "advocacy/base.html"
    first = client.get("/advocacy/wall").headers["Content-Security-Policy"]
    assert client.get("/advocacy/wall").headers["Content-Security-Policy"] == first
    app.config["ADVOCACY_CONTENT_SECURITY_POLICY"] = {"default-src": ["'self'"], "img-src": ["'self'", "https://a.example"]}
    assert client.get("/advocacy/wall").headers["Content-Security-Policy"] == \
        "default-src 'self'; img-src 'self' https://a.example"
    app.config["ADVOCACY_CONTENT_SECURITY_POLICY"]["img-src"].append("https://b.example")
    assert client.get("/advocacy/wall").headers["Content-Security-Policy"] == \
        "default-src 'self'; img-src 'self' https://a.example https://b.example"
    app.config["ADVOCACY_CONTENT_SECURITY_POLICY"]["frame-ancestors"] = ["'none'"]
    app.config["ADVOCACY_DENY_FRAMING"] = False
    response = client.get("/advocacy/wall")
    assert "frame-ancestors" not in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


@pytest.mark.settings(CONTENT_SECURITY_POLICY=None)
def test_no_policy_keeps_the_framing_refusal(app):
    response = app.test_client().get("/advocacy/wall")
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


@pytest.mark.settings(DENY_FRAMING=False)
def test_a_host_that_allows_framing_gets_no_frame_ancestors(app):
    response = app.test_client().get("/advocacy/wall")
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors" not in directives(response)
    assert directives(response)["default-src"] == ["'self'"]


def test_the_hosts_own_pages_are_left_alone_by_default(app):
    response = app.test_client().get("/login")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.settings(CSP_HOST_PAGES=True)
def test_csp_host_pages_gives_the_hosts_pages_the_same_headers(app):
    response = app.test_client().get("/login")
    nonce = NONCE_IN_PAGE.search(response.get_data(as_text=True)).group(1)
    assert directives(response)["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.demo
def test_the_demo_shop_protects_its_own_pages(app):
    response = app.test_client().get("/login")
    assert directives(response)["default-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
