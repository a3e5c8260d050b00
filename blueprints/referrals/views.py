"""The customer's referral page: link, copy, QR code, share links, counts."""

from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import current_advocate
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.referrals import bp
from advocacy_portal.blueprints.referrals.forms import RESET_FORM_PREFIX
from advocacy_portal.blueprints.referrals.forms import ResetLinkForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
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


def _render_page(reset_form: ResetLinkForm, status: int = 200):
    advocate = current_advocate()
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
        share_links=sharing.share_links(link),
        offer_text=config_value("OFFER_TEXT"),
        reset_form=reset_form,
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
        if form.csrf_token.errors:
            return render_error(400, CSRF_MESSAGE)
        return _render_page(form, status=400)
    referral_service.reset_link(current_advocate())
    get_session().commit()
    flash("Here is your new link. Links you shared before no longer work.", "success")
    return redirect(url_for(".page"), code=303)
