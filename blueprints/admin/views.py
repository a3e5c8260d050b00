"""Staff pages: program overview, payments, reward cost, advocates, one advocate, audit log."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.admin import bp
from advocacy_portal.blueprints.admin.forms import ADJUST_FORM_PREFIX
from advocacy_portal.blueprints.admin.forms import AdjustmentForm
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.services import analytics
from advocacy_portal.services import audit
from advocacy_portal.services import conversions as conversion_service
from advocacy_portal.services import program_report
from advocacy_portal.services import referral_queries
from advocacy_portal.services import reward_queries
from advocacy_portal.services import ledger
from advocacy_portal.services import rewards
from advocacy_portal.services import rollups
from advocacy_portal.services.money import format_money

#: The answer (409) when a form's nonce comes back with other content: a copy of an old form.
FORM_USED_MESSAGE = (
    "This form was already used for another adjustment, so nothing was posted this time. "
    "Reload the advocate's page to make a new adjustment."
)

#: ``?attributed=`` values of the payments list.
ATTRIBUTION_FILTERS = {"yes": True, "no": False}


def get_advocate_or_404(advocate_id: int) -> Advocate:
    advocate = get_session().get(Advocate, advocate_id)
    if advocate is None:
        abort(404, "There is no advocate with this number.")
    return advocate


@bp.get("/")
@staff_required
def overview():
    """The program over a chosen period, by day, week or month: revenue, funnel, reward cost, ROI,
    each against the period before, with charts."""
    first, last = inputs.period_args(30, config_value("REPORT_MAX_DAYS"))
    by = inputs.choice_arg("by", program_report.GRANULARITIES, "day", strict=True)
    rollups.fold_if_due()
    report = program_report.overview(first, last, by)
    period = analytics.period_from(first, last)
    return private_page(
        render_template(
            config_value("ADMIN_OVERVIEW_TEMPLATE"),
            period=period,
            report=report,
            charts=program_report.overview_charts(report),
            granularities=program_report.GRANULARITIES,
            charts_template=config_value("ADMIN_CHARTS_TEMPLATE"),
            revenue=program_report.revenue_summary(period.start, period.end),
            cost=reward_queries.reward_cost_by_state(),
        )
    )


@bp.get("/payments")
@staff_required
def conversions():
    """Every payment Stripe told us about, attributed or not, filterable."""
    period = analytics.period_from(inputs.date_arg("start"), inputs.date_arg("end"), default_days=90)
    attributed = inputs.choice_arg("attributed", ATTRIBUTION_FILTERS, "")
    filters = {
        "attributed": ATTRIBUTION_FILTERS.get(attributed),
        "currency": (inputs.text_arg("currency", 3) or "").lower() or None,
        "outcome": inputs.text_arg("outcome", 32),
        "search": inputs.text_arg("q", 255),
        "start": period.start,
        "end": period.end,
    }
    page_number, per_page = inputs.page_arg(), inputs.per_page_arg(50)
    page = reward_queries.list_conversions(filters, page=page_number, per_page=per_page)
    return private_page(
        render_template(
            config_value("ADMIN_CONVERSIONS_TEMPLATE"),
            page=page, period=period, attributed=attributed, filters=filters,
            outcomes=REWARD_OUTCOMES, refused_events=conversion_service.refused_events(),
        )
    )


#: Why a payment earned what it earned, in words (``Conversion.reward_outcome``).
REWARD_OUTCOMES = {
    "rewarded": "Rewarded",
    "unattributed": "Not referred",
    "currency_not_rewarded": "Currency not rewarded",
    "below_minimum": "Below the minimum purchase",
    "not_rewarded_payment": "Beyond the rewarded payments",
    "monthly_cap_reached": "Advocate's monthly cap reached",
    "flagged_referral": "Refused referral",
    "no_amount": "No amount",
    "not_paid": "Not paid (yet)",
}


@bp.get("/rewards")
@staff_required
def reward_cost():
    """What rewards cost, by state and currency, and the latest manual adjustments."""
    return private_page(
        render_template(
            config_value("ADMIN_REWARDS_TEMPLATE"),
            cost=reward_queries.reward_cost_by_state(),
            adjustments=audit.recent_actions(50, action_prefix="ledger."),
        )
    )


@bp.get("/advocates")
@staff_required
def advocates():
    """The advocates leaderboard (searchable, sortable), and what referred customers are worth."""
    search = inputs.text_arg("q", 320) or ""
    order = inputs.choice_arg("order", program_report.LEADERBOARD_ORDERS, "revenue")
    rollups.fold_if_due()
    page = program_report.leaderboard(
        order=order, search=search or None, page=inputs.page_arg(),
        per_page=inputs.per_page_arg(50),
    )
    if page.page > page.pages:
        abort(404, f"There is no page {page.page}: the list has {page.pages} page(s).")
    return private_page(
        render_template(
            config_value("ADMIN_ADVOCATES_TEMPLATE"),
            page=page, search=search, order=order, orders=program_report.LEADERBOARD_ORDERS,
            lifetime=program_report.lifetime_value() if page.page == 1 and not search else None,
        )
    )


@bp.get("/advocates/<advocacy_id:advocate_id>")
@staff_required
def advocate(advocate_id: int):
    """One advocate: results, balances, rewards, payments, ledger, friends, adjustments."""
    found = get_advocate_or_404(advocate_id)
    return _render_advocate(found, AdjustmentForm(prefix=ADJUST_FORM_PREFIX, currency=_default_currency()))


def _default_currency() -> str:
    return config_value("REWARD_RULES").get("default", {}).get("currency", "usd").upper()


def _render_advocate(found: Advocate, form: AdjustmentForm, status: int = 200):
    return private_page(
        render_template(
            config_value("ADMIN_ADVOCATE_TEMPLATE"),
            advocate=found,
            stats=referral_queries.advocate_stats(found),
            funnel_template=config_value("ADMIN_ADVOCATE_FUNNEL_TEMPLATE"),
            funnel=(series := program_report.advocate_funnel(found.id)),
            funnel_chart=program_report.advocate_funnel_chart(series),
            charts_template=config_value("ADMIN_CHARTS_TEMPLATE"),
            referrals=analytics.referrals_of(found, page=inputs.page_arg()),
            overview=reward_queries.advocate_overview(found),
            entries=reward_queries.entries_for(found, page=inputs.page_arg("entries_page")),
            adjustments=audit.history("advocate", found.id),
            form=form,
            outcomes=REWARD_OUTCOMES,
        ),
        status,
    )


@bp.post("/advocates/<advocacy_id:advocate_id>/adjust")
@staff_required
def adjust(advocate_id: int):
    """Post a manual adjustment to the advocate's available balance, with its reason."""
    found = get_advocate_or_404(advocate_id)
    form = AdjustmentForm(prefix=ADJUST_FORM_PREFIX)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return render_error(400, CSRF_MESSAGE)
        return _render_advocate(found, form, status=400)
    currency = form.currency.data.lower()
    amount = form.amount_minor
    try:
        rewards.post_adjustment(
            found, amount, currency, form.reason.data, g.advocacy_staff, idempotency_key=form.nonce.data
        )
    except ledger.IdempotencyConflict:
        get_session().rollback()
        return render_error(409, FORM_USED_MESSAGE)
    get_session().commit()
    flash(f"Adjustment of {format_money(amount, currency)} posted.", "success")
    return redirect(url_for(".advocate", advocate_id=found.id), code=303)


@bp.get("/audit")
@staff_required
def audit_log():
    """Every staff action, newest first."""
    prefix = inputs.text_arg("action", 64)
    return private_page(
        render_template(
            config_value("ADMIN_AUDIT_TEMPLATE"),
            entries=audit.recent_actions(200, action_prefix=prefix),
            action=prefix or "",
        )
    )
