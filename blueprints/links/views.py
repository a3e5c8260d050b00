"""The referral redirect: count the click, set the attribution cookie, send the visitor on."""

from __future__ import annotations

import logging

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.blueprints.privacy.views import follow_without_consent
from advocacy_portal.proxies import app_object
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import click_writer
from advocacy_portal.services import consent
from advocacy_portal.services import links as link_service
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import widget as widget_service

log = logging.getLogger(__name__)


def follow(token: str):
    """Follow a referral link."""
    # The app, its settings and the request, each looked up once (the hot path of a shared link).
    app = app_object()
    config = app.config
    req = request._get_current_object()
    try:
        advocate, claim = referral_service.resolve_link(token)
    except link_service.InvalidLink:
        return render_template(config_value("LINK_NOT_FOUND_TEMPLATE")), 404
    destination = _destination(config, req)
    response = redirect(destination, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if req.method == "HEAD":
        log.debug("Click on advocate %s's link not counted: a HEAD request (link checkers and previews)",
                  advocate.id)
        return response  # link checkers and previews: no click, no cookie
    visitor_id = _visitor_user_id(app, req)
    if visitor_id is not None and visitor_id == advocate.user_id:
        # The advocate trying their own link: show them their page, not the friend's signup.
        flash("That is your own referral link: it works. Share it with friends; opening it yourself "
              "earns nothing.", "info")
        return redirect(url_for("advocacy_referrals.page"), code=303)
    if not consent.attribution_allowed():  # ADVOCACY_ATTRIBUTION_CONSENT = "required", not given
        return follow_without_consent(advocate, claim, destination)
    environ = req.environ
    visit = referral_service.Visit(
        ip=req.remote_addr,
        user_agent=environ.get("HTTP_USER_AGENT", ""),
        referrer=environ.get("HTTP_REFERER"),
        user_id=visitor_id,
        source=widget_service.click_source(_query_arg(req, "via")),
        accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
    )
    writer = click_writer.writer_for(app)
    try:
        outcome = referral_service.record_click(advocate, claim.campaign, visit, writer=writer)
        scoped = get_session()
        # A batched click may have touched no session at all: then none is made just to commit nothing.
        if scoped.registry.has() and scoped().in_transaction():
            scoped.commit()
    except SQLAlchemyError:
        # The visitor still gets where they were going and keeps the claim; only the count misses.
        get_session().rollback()
        log.exception("Could not record a click on advocate %s's link", advocate.id)
        outcome = referral_service.ClickOutcome(referral_service.UNRECORDED, reason="the database refused it")
    if outcome.outcome != referral_service.COUNTED:
        log.debug("Click on advocate %s's link not counted (%s): %s", advocate.id, outcome.outcome,
                  outcome.reason)
    cookie_name = config["ADVOCACY_COOKIE_NAME"]
    held = link_service.read_attribution(req.cookies.get(cookie_name))
    value = referral_service.next_attribution_cookie(held, advocate.code, claim.campaign, outcome)
    if value is None:
        return response
    max_age = int(config["ADVOCACY_ATTRIBUTION_DAYS"] * 86400)
    response.set_cookie(
        cookie_name,
        value,
        max_age=max_age,
        expires=link_service.cookie_expires(max_age),
        **link_service.cookie_options(req.is_secure, config),
    )
    return response


def _visitor_user_id(app, req) -> str | None:
    login_manager = getattr(app, "login_manager", None)
    if login_manager is None:
        return None
    # Loading the user costs a query; most visitors of a shared link are not signed in (no session
    # cookie, hence no login session; no remember cookie, no request loader), so only a possible user
    # is loaded. Without a session cookie the session is not even opened (no ``Vary: Cookie``).
    cookies = req.cookies
    if (
        "_login_user" not in g
        and getattr(login_manager, "_request_callback", None) is None
        and app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
        and (app.config["SESSION_COOKIE_NAME"] not in cookies or "_user_id" not in session)
    ):
        return None
    customer = get_portal().identify(current_user._get_current_object())
    return customer.id if customer else None


def _destination(config, req) -> str:
    landing = config["ADVOCACY_LANDING_URL"]
    requested = _query_arg(req, config["ADVOCACY_NEXT_PARAM"])
    if requested:
        # "Same site" is the configured origin, never the request's Host header (forgeable behind a proxy).
        safe = link_service.same_site_destination(requested)
        if safe is not None:
            return safe
    return landing


def _query_arg(req, name: str) -> str | None:
    # Most shared links carry no query string: then none is parsed.
    return req.args.get(name) if req.environ.get("QUERY_STRING") else None
