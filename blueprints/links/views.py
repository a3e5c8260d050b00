"""The referral redirect: count the click, set the attribution cookie, send the visitor on."""

from __future__ import annotations

import logging

from flask import current_app
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
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import click_writer
from advocacy_portal.services import consent
from advocacy_portal.services import links as link_service
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import widget as widget_service

log = logging.getLogger(__name__)


def follow(token: str):
    """Follow a referral link."""
    # The app's settings, read once for the whole request (the hot path of a shared link).
    config = current_app.config
    try:
        advocate, claim = referral_service.resolve_link(token)
    except link_service.InvalidLink:
        return render_template(config_value("LINK_NOT_FOUND_TEMPLATE")), 404
    destination = _destination(config)
    response = redirect(destination, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if request.method == "HEAD":
        log.debug("Click on advocate %s's link not counted: a HEAD request (link checkers and previews)",
                  advocate.id)
        return response  # link checkers and previews: no click, no cookie
    visitor_id = _visitor_user_id()
    if visitor_id is not None and visitor_id == advocate.user_id:
        # The advocate trying their own link: show them their page, not the friend's signup.
        flash("That is your own referral link: it works. Share it with friends; opening it yourself "
              "earns nothing.", "info")
        return redirect(url_for("advocacy_referrals.page"), code=303)
    if not consent.attribution_allowed():  # ADVOCACY_ATTRIBUTION_CONSENT = "required", not given
        return follow_without_consent(advocate, claim, destination)
    visit = referral_service.Visit(
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
        referrer=request.referrer,
        user_id=visitor_id,
        source=widget_service.click_source(request.args.get("via")),
    )
    writer = click_writer.writer_for(current_app._get_current_object())
    try:
        outcome = referral_service.record_click(advocate, claim.campaign, visit, writer=writer)
        session = get_session()()
        if session.in_transaction():  # a batched click may have touched no connection at all
            session.commit()
    except SQLAlchemyError:
        # The visitor still gets where they were going and keeps the claim; only the count misses.
        get_session().rollback()
        log.exception("Could not record a click on advocate %s's link", advocate.id)
        outcome = referral_service.ClickOutcome(referral_service.UNRECORDED, reason="the database refused it")
    if outcome.outcome != referral_service.COUNTED:
        log.debug("Click on advocate %s's link not counted (%s): %s", advocate.id, outcome.outcome,
                  outcome.reason)
    cookie_name = config["ADVOCACY_COOKIE_NAME"]
    held = link_service.read_attribution(request.cookies.get(cookie_name))
    value = referral_service.next_attribution_cookie(held, advocate.code, claim.campaign, outcome)
    if value is None:
        return response
    response.set_cookie(
        cookie_name,
        value,
        max_age=int(config["ADVOCACY_ATTRIBUTION_DAYS"] * 86400),
        **link_service.cookie_options(request.is_secure, config),
    )
    return response


def _visitor_user_id() -> str | None:
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is None:
        return None
    # Loading the user costs a query; most visitors of a shared link are not signed in (no login
    # session, no remember cookie, no request loader), so only a possible user is loaded.
    if (
        "_login_user" not in g
        and getattr(login_manager, "_request_callback", None) is None
        and "_user_id" not in session
        and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies
    ):
        return None
    customer = get_portal().identify(current_user._get_current_object())
    return customer.id if customer else None


def _destination(config) -> str:
    landing = config["ADVOCACY_LANDING_URL"]
    requested = request.args.get(config["ADVOCACY_NEXT_PARAM"])
    if requested:
        # "Same site" is the configured origin, never the request's Host header (forgeable behind a proxy).
        safe = link_service.same_site_destination(requested)
        if safe is not None:
            return safe
    return landing
