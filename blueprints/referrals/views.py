"""The customer's referral page: link, copy, QR code, share links, counts."""

from __future__ import annotations

from flask import Response
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import current_advocate
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.referrals import bp
from advocacy_portal.blueprints.referrals.forms import INVITER_FORM_PREFIX
from advocacy_portal.blueprints.referrals.forms import RESET_FORM_PREFIX
from advocacy_portal.blueprints.referrals.forms import InviterNameForm
from advocacy_portal.blueprints.referrals.forms import ResetLinkForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import friend_welcome
from advocacy_portal.services import offer_text
from advocacy_portal.services import referral_queries
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services import sharing


def _link_for(advocate) -> str:
    token = referral_service.link_token(advocate)
    return url_for("advocacy_links.follow", token=token, _external=True)


@bp.get("/")
@customer_required
def page():
    """The customer's referral page."""
    return _render_page(ResetLinkForm(prefix=RESET_FORM_PREFIX))


def _inviter_form(advocate, formdata=None) -> InviterNameForm:
    form = InviterNameForm(prefix=INVITER_FORM_PREFIX, formdata=formdata)
    if formdata is None:
        form.name.data = advocate.inviter_name or ""
    return form


def _render_page(reset_form: ResetLinkForm, status: int = 200, inviter_form: InviterNameForm | None = None):
    advocate = current_advocate()
    inviter_form = inviter_form or _inviter_form(advocate)
    offer = offer_text.offer_for(None)
    link = _link_for(advocate)
    stats = referral_queries.advocate_stats(advocate)
    referrals = referral_queries.recent_referrals(advocate)
    get_session().commit()
    html = render_template(
        config_value("REFERRAL_PAGE_TEMPLATE"),
        link=link,
        stats=stats,
        referrals=referrals,
        mask_email=referral_queries.mask_email,
        share_links=sharing.share_links(link, offer.share),
        offer_text=config_value("OFFER_TEXT"),
        offer=offer,
        reset_form=reset_form,
        inviter_form=inviter_form,
        inviter_name=advocate.inviter_name,
    )
    # A personal page: never kept by shared caches or shown from history to the next user.
    return html, status, {"Cache-Control": "private, no-store"}


@bp.get("/qr.svg")
@customer_required
def qr_code():
    """The customer's link as an SVG QR code; ``?download=1`` saves it as a file."""
    advocate = current_advocate()
    link = _link_for(advocate)
    get_session().commit()
    response = Response(sharing.qr_svg(link), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.args.get("download"):
        response.headers["Content-Disposition"] = 'attachment; filename="referral-qr.svg"'
    return response


@bp.post("/link/reset")
@customer_required
def reset_link():
    """Retire the customer's current link and issue a new one."""
    form = ResetLinkForm(prefix=RESET_FORM_PREFIX)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_page(form, status=400)
    referral_service.reset_link(current_advocate())
    get_session().commit()
    flash("Here is your new link. Links you shared before no longer work.", "success")
    return redirect(url_for(".page"), code=303)


@bp.post("/inviter-name")
@customer_required
def inviter_name():
    """Choose the first name friends see on the landing page ("Sam invited you"), or none."""
    advocate = current_advocate()
    form = _inviter_form(advocate, formdata=request.form)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_page(ResetLinkForm(prefix=RESET_FORM_PREFIX, formdata=None), status=400, inviter_form=form)
    name = None if form.hide.data else form.name.data
    friend_welcome.set_inviter_name(advocate, name)
    get_session().commit()
    if advocate.inviter_name:
        flash(f"Friends you invite now read “{advocate.inviter_name} invited you”.", "success")
    else:
        flash("Friends you invite now read “A friend invited you”: your name is not shown.", "success")
    return redirect(url_for(".page"), code=303)


def advocacy_friend_welcome():
    """Template global for the host's landing page: the referred friend's
    :class:`~advocacy_portal.services.friend_welcome.FriendWelcome`, or ``None`` for other visitors.

    A signed-in friend's promotion code is created at Stripe on first view (once per referral), so
    this commits the session.
    """
    welcome = None
    if getattr(current_app, "login_manager", None) is not None and current_user.is_authenticated:
        customer = get_portal().identify(current_user._get_current_object())
        if customer is not None:
            welcome = friend_welcome.welcome_for_customer(customer)
            get_session().commit()
            if welcome is not None:
                return welcome
    welcome = friend_welcome.welcome_for_visitor(request.cookies.get(config_value("COOKIE_NAME")))
    get_session().commit()
    return welcome


@bp.record_once
def _add_template_global(state):
    state.app.add_template_global(advocacy_friend_welcome, "advocacy_friend_welcome")
