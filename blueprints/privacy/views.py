"""The customer's privacy page and data export, and the attribution consent endpoint."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask_login import current_user
from flask_login import login_fresh
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.privacy import bp
from advocacy_portal.blueprints.privacy import consent_bp
from advocacy_portal.blueprints.privacy.forms import EXPORT_FORM_PREFIX
from advocacy_portal.blueprints.privacy.forms import ConsentForm
from advocacy_portal.blueprints.privacy.forms import ExportForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import utcnow
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import audit
from advocacy_portal.services import consent
from advocacy_portal.services import links as link_service
from advocacy_portal.services import privacy_rules
from advocacy_portal.services import referrals as referral_service

log = logging.getLogger(__name__)


def _reauthentication() -> str:
    """How the export re-checks who is asking: ``password``, ``recent_login`` or ``fresh_session``."""
    portal = get_portal()
    if portal.password_check_callback is not None:
        return "password"
    if portal.last_login_callback is not None:
        return "recent_login"
    return "fresh_session"


def _reauthenticated(form: ExportForm) -> str | None:
    """``None`` when the customer proved it is them, else what to tell them."""
    portal = get_portal()
    user = current_user._get_current_object()
    how = _reauthentication()
    if how == "password":
        if form.password.data and portal.password_check_callback(user, form.password.data):
            return None
        return "That password is not right. Type the password you log in with."
    limit = timedelta(seconds=config_value("EXPORT_REAUTH_SECONDS"))
    if how == "recent_login":
        last = portal.last_login_callback(user)
        if last is not None and utcnow() - last <= limit:
            return None
    elif login_fresh():
        return None
    return "For your security, log out and log in again, then download your data within a few minutes."


def _render(form: ExportForm, status: int = 200, message: str | None = None):
    return private_page(render_template(
        config_value("PRIVACY_TEMPLATE"), form=form, reauthentication=_reauthentication(), message=message,
        rules=sorted(privacy_rules.RULES.values(), key=lambda rule: rule.table),
    ), status)


@bp.get("/")
@customer_required
def page():
    """What the program keeps about the customer, and the download of their data."""
    return _render(ExportForm(prefix=EXPORT_FORM_PREFIX))


@bp.post("/export")
@customer_required
def export():
    """Download everything the program holds about the customer: a zip of one JSON document and their
    photos (re-authenticated)."""
    form = ExportForm(prefix=EXPORT_FORM_PREFIX)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render(form, 400)
    refusal = _reauthenticated(form)
    if refusal is not None:
        form.password.errors.append(refusal) if _reauthentication() == "password" else None
        return _render(form, 403, message=None if _reauthentication() == "password" else refusal)
    customer = g.advocacy_customer
    body, document = get_portal().export_archive(current_user._get_current_object())
    photos = sum(1 for row in document["tables"].get("advocacy_testimonials", []) if row.get("photo_file"))
    audit.record_action(customer, "privacy.export", "customer", customer.id,
                        after={"tables": sum(1 for rows in document["tables"].values() if rows), "photos": photos})
    get_session().commit()
    response = current_app.response_class(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="my-advocacy-data.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- consent before the attribution cookie -----------------------------------------------------------


def follow_without_consent(advocate, claim, destination: str):
    """The referral redirect for a visitor who has not consented to the attribution cookie: the click
    counted without identifiers, no cookie, the signed ref on the landing URL (see
    :mod:`advocacy_portal.services.consent`)."""
    from advocacy_portal.services import widget as widget_service

    click_id = None
    try:
        click_id = consent.record_anonymous_click(advocate.id, claim.campaign, request.user_agent.string,
                                                  widget_service.click_source(request.args.get("via")))
        get_session().commit()
    except SQLAlchemyError:
        get_session().rollback()
        log.exception("Could not record a click on advocate %s's link", advocate.id)
    ref = consent.make_ref(advocate.code, claim.campaign, click_id)
    response = redirect(consent.with_ref(destination, ref), code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


@consent_bp.post("/consent")
def give_consent():
    """Set the attribution cookie from a signed ref, once the visitor agreed (the host's banner posts
    ``ref`` and its CSRF token here). Answers JSON; a form post without JavaScript is sent back to
    the page it came from."""
    form = ConsentForm()
    wants_json = request.accept_mimetypes.best == "application/json" or request.is_json
    if not form.validate_on_submit():
        if csrf_failed(form):
            return _consent_answer(wants_json, 400, "csrf", CSRF_MESSAGE)
        return _consent_answer(wants_json, 400, "bad_ref", "There is no referral to remember.")
    if not consent.attribution_allowed():
        return _consent_answer(wants_json, 403, "no_consent", "The visitor has not agreed to the referral cookie.")
    found = consent.read_ref(form.ref.data)
    if found is None or referral_service.get_advocate_by_code(found[0]) is None:
        return _consent_answer(wants_json, 400, "bad_ref", "This referral link is no longer valid.")
    code, campaign, click_id = found
    value = link_service.dump_attribution(code, campaign, click_id)
    if wants_json:
        response = jsonify({"attributed": True})
    else:
        back = link_service.same_site_destination(request.referrer) or config_value("LANDING_URL")
        response = redirect(back, code=303)
    response.set_cookie(config_value("COOKIE_NAME"), value, max_age=int(config_value("ATTRIBUTION_DAYS") * 86400),
                        **link_service.cookie_options(request.is_secure))
    response.headers["Cache-Control"] = "no-store"
    return response


def _consent_answer(wants_json: bool, status: int, code: str, message: str):
    if wants_json:
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_error(status, message)
