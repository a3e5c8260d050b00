"""Staff pages: program overview, payments, reward cost, advocates, one advocate, audit log."""

from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.admin import bp
from advocacy_portal.blueprints.admin.forms import ADJUST_FORM_PREFIX
from advocacy_portal.blueprints.admin.forms import AdjustmentForm
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import LedgerAccount
from advocacy_portal.models import Testimonial
from advocacy_portal.services import adjustments
from advocacy_portal.services import analytics
from advocacy_portal.services import audit
from advocacy_portal.services import audit_presenters
from advocacy_portal.services import conversions as conversion_service
from advocacy_portal.services import fraud
from advocacy_portal.services import program_report
from advocacy_portal.services import referral_queries
from advocacy_portal.services import reward_queries
from advocacy_portal.services import ledger
from advocacy_portal.services import rewards
from advocacy_portal.services import report_rollups
from advocacy_portal.services import rollups
from advocacy_portal.services.money import format_money
from advocacy_portal.services.rules import current_rules

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


def _fold_rollups() -> None:
    """Keep the live parts of the staff figures small without a scheduler (figures are exact anyway)."""
    rollups.fold_if_due()
    report_rollups.fold_if_due()


@bp.get("/")
@staff_required
def overview():
    """The program over a chosen period, by day, week or month: revenue, funnel, reward cost, ROI,
    each against the period before, with charts."""
    first, last = inputs.period_args(30, config_value("REPORT_MAX_DAYS"))
    by = inputs.choice_arg("by", program_report.GRANULARITIES, "day", strict=True)
    _fold_rollups()
    report = program_report.overview(first, last, by)
    period = analytics.period_from(first, last)
    nps_trend = program_report.nps_trend(report)
    return private_page(
        render_template(
            config_value("ADMIN_OVERVIEW_TEMPLATE"),
            period=period,
            report=report,
            charts=program_report.overview_charts(report),
            granularities=program_report.GRANULARITIES,
            charts_template=config_value("ADMIN_CHARTS_TEMPLATE"),
            revenue=report.payments,
            cost=reward_queries.reward_cost_by_state(),
            fraud_figures=fraud.review_figures(),
            nps_trend=nps_trend,
            nps_answers=sum(summary.total for _, summary in nps_trend),
            nps_chart=program_report.nps_chart(report, nps_trend),
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
            people=reward_queries.people_of(page.items), event_outcomes=EVENT_OUTCOMES,
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
    "fraud_blocked": "Blocked by a fraud rule",
    "held_for_review": "Held for fraud review",
    "fraud_voided": "Voided after fraud review",
}

#: What happened to a Stripe event (``StripeEvent.outcome``), in words.
EVENT_OUTCOMES = {
    "rejected": "Rejected",
    "failed": "Failed",
    "ignored": "Ignored",
    "applied": "Applied",
    "queued": "Waiting",
}


@bp.get("/rewards")
@staff_required
def reward_cost():
    """What rewards cost, by state and currency, and the latest manual adjustments."""
    adjustments = audit.recent_actions(50, action_prefix="ledger.")
    ids = [int(entry.subject_id) for entry in adjustments if entry.subject_id.isdigit()]
    return private_page(
        render_template(
            config_value("ADMIN_REWARDS_TEMPLATE"),
            cost=reward_queries.reward_cost_by_state(),
            adjustments=adjustments,
            people=reward_queries.people_of(advocate_ids=ids),
        )
    )


@bp.get("/advocates")
@staff_required
def advocates():
    """The advocates leaderboard (searchable, sortable), and what referred customers are worth."""
    search = inputs.text_arg("q", 320) or ""
    order = inputs.choice_arg("order", program_report.LEADERBOARD_ORDERS, "revenue")
    _fold_rollups()
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
    return current_rules().default.currency.upper()


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
            people=None,
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
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_advocate(found, form, status=400)
    currency = form.currency.data.lower()
    amount = form.amount_minor
    outlook = adjustments.preview(found, amount, currency)
    if outlook.needs_confirmation and form.confirmed.data != "yes":
        # A debit or a large amount: show the balance it leads to, post only on the second form.
        return private_page(
            render_template(
                config_value("ADMIN_ADJUST_CONFIRM_TEMPLATE"), advocate=found, form=form, preview=outlook
            )
        )
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
    """Every staff action, newest first, as the fields it changed; filter by who, what and when."""
    first, last = inputs.date_arg("start"), inputs.date_arg("end")
    if first and last and first > last:
        first, last = last, first
    start = datetime.combine(first, time.min, tzinfo=timezone.utc) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc) if last else None
    filters = {
        "actor": inputs.text_arg("who", 320) or "",
        "action": inputs.text_arg("action", 64) or "",
        "subject": inputs.text_arg("subject", 32) or "",
        "start": first.isoformat() if first else "",
        "end": last.isoformat() if last else "",
    }
    page = audit.search(
        actor=filters["actor"] or None, action_prefix=filters["action"] or None,
        subject_type=filters["subject"] or None, start=start, end=end,
        page=inputs.page_arg(), per_page=inputs.per_page_arg(50),
    )
    return private_page(
        render_template(
            config_value("ADMIN_AUDIT_TEMPLATE"),
            page=page, entries=page.items, filters=filters, action=filters["action"],
            subject_types=audit.subject_types(), presenter=audit_presenters,
            actions=audit_presenters.ACTION_LABELS,
        )
    )


@bp.route("/advocates/<advocacy_id:advocate_id>/erase", methods=["GET", "POST"])
@staff_required
def erase(advocate_id: int):
    """Erase the advocate's customer everywhere, after a confirmation step (typing their user id)."""
    from advocacy_portal.blueprints.privacy.forms import ERASE_FORM_PREFIX
    from advocacy_portal.blueprints.privacy.forms import EraseForm
    from advocacy_portal.proxies import get_portal
    from advocacy_portal.services.privacy import SURROGATE_PREFIX

    found = get_advocate_or_404(advocate_id)
    if found.user_id.startswith(SURROGATE_PREFIX):
        return render_error(410, "This customer was erased already.")
    form = EraseForm(prefix=ERASE_FORM_PREFIX)
    if request.method == "POST":
        if form.validate_on_submit() and form.confirm_user_id.data.strip() != found.user_id:
            form.confirm_user_id.errors.append("That is not this customer's user id.")
        elif form.validate_on_submit():
            user_id = found.user_id
            report = get_portal().forget_customer(user_id, actor=g.advocacy_staff)
            flash(f"Customer {user_id} was erased (erasure #{report.erasure_id}, {report.total} records changed).",
                  "success")
            return redirect(url_for(".advocates"), code=303)
        elif csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
    counts = {
        "referrals": referral_queries.advocate_stats(found).signups,
        "testimonials": get_session().scalar(
            select(func.count()).select_from(Testimonial).where(Testimonial.author_user_id == found.user_id)) or 0,
        "ledger_accounts": get_session().scalar(
            select(func.count()).select_from(LedgerAccount).where(LedgerAccount.advocate_id == found.id)) or 0,
    }
    return private_page(render_template(config_value("ADMIN_ERASE_TEMPLATE"), advocate=found, form=form,
                                        counts=counts), 400 if form.errors else 200)
