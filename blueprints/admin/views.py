"""Staff pages: program overview, advocates, one advocate."""

from __future__ import annotations

from flask import abort
from flask import render_template
from flask import request

from blueprints.admin import bp
from blueprints.common import staff_required
from portal.config import config_value
from portal.db import get_session
from portal.models import Advocate
from portal.services import analytics
from portal.services import referrals as referral_service


def _no_store(html: str, status: int = 200):
    # Staff pages show customers' data: never kept by shared caches.
    return html, status, {"Cache-Control": "private, no-store"}


def get_advocate_or_404(advocate_id: int) -> Advocate:
    advocate = get_session().get(Advocate, advocate_id)
    if advocate is None:
        abort(404, "There is no advocate with this number.")
    return advocate


@bp.get("/")
@staff_required
def overview():
    """The program at a glance over a chosen period."""
    period = analytics.period_from(request.args.get("start"), request.args.get("end"))
    return _no_store(
        render_template(
            config_value("ADMIN_OVERVIEW_TEMPLATE"),
            period=period,
            funnel=analytics.funnel(period),
        )
    )


@bp.get("/advocates")
@staff_required
def advocates():
    """Every advocate with their results, searchable."""
    search = (request.args.get("q") or "").strip()[:320]
    order = request.args.get("order", "signups")
    if order not in analytics.ADVOCATE_ORDERS:
        order = "signups"
    page = analytics.advocate_rows(
        search=search or None, order=order, page=request.args.get("page", 1),
        per_page=request.args.get("per_page", 50),
    )
    return _no_store(
        render_template(
            config_value("ADMIN_ADVOCATES_TEMPLATE"),
            page=page, search=search, order=order, orders=analytics.ADVOCATE_ORDERS,
        )
    )


@bp.get("/advocates/<int:advocate_id>")
@staff_required
def advocate(advocate_id: int):
    """One advocate: results, referred friends."""
    found = get_advocate_or_404(advocate_id)
    referrals = analytics.referrals_of(found, page=request.args.get("page", 1))
    return _no_store(
        render_template(
            config_value("ADMIN_ADVOCATE_TEMPLATE"),
            advocate=found,
            stats=referral_service.advocate_stats(found),
            referrals=referrals,
        )
    )
