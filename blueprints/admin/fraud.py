"""Staff page of the fraud review: held rewards to approve or void, blocked payments, the allow-list."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.admin import bp
from advocacy_portal.blueprints.admin.forms import AllowanceForm
from advocacy_portal.blueprints.admin.forms import CsrfOnlyForm
from advocacy_portal.blueprints.admin.forms import FraudDecisionForm
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import FraudReview
from advocacy_portal.models import Referral
from advocacy_portal.services import fraud

#: ``?state=`` values of the queue ("" = every state).
STATE_FILTERS = ("held", "approved", "voided", "blocked", "")


def _render(status: int = 200, form: FraudDecisionForm | None = None, form_review: int | None = None):
    state = inputs.choice_arg("state", STATE_FILTERS, "held")
    return private_page(
        render_template(
            config_value("ADMIN_FRAUD_TEMPLATE"),
            page=fraud.queue(state or None, page=inputs.page_arg(), per_page=inputs.per_page_arg(25)),
            state=state,
            states=fraud.STATE_LABELS,
            rules=fraud.RULE_LABELS,
            figures=fraud.review_figures(),
            allowances=fraud.allowances(),
            form=FraudDecisionForm(),
            allow_form=AllowanceForm(),
            remove_form=CsrfOnlyForm(),
            failed=form,
            failed_review=form_review,
            deadline_action=config_value("FRAUD_DEADLINE_ACTION"),
        ),
        status,
    )


@bp.get("/fraud")
@staff_required
def fraud_queue():
    """Rewards held for review, with what each rule found; approve or void them."""
    return _render()


@bp.post("/fraud/<advocacy_id:review_id>/decide")
@staff_required
def fraud_decide(review_id: int):
    """Approve, void or reopen one held reward, with the reason (audited)."""
    form = FraudDecisionForm()
    if get_session().get(FraudReview, review_id) is None:
        abort(404, "There is no review with this number.")
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render(400, form, review_id)
    try:
        review = fraud.decide(review_id, form.decision.data, form.reason.data, g.advocacy_staff)
    except fraud.DecisionError as error:
        get_session().rollback()
        return render_error(409, str(error))
    get_session().commit()
    flash(f"Review {review.id}: {fraud.STATE_LABELS[review.state].lower()}.", "success")
    return redirect(url_for(".fraud_queue"), code=303)


@bp.post("/fraud/allow")
@staff_required
def fraud_allow():
    """Put a review's household (advocate and friend, or IP address) on the allow-list."""
    form = AllowanceForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return render_error(400, "Say why this household is allowed, then try again.")
    review_id = inputs.whole_number((form.review_id.data or "").strip(), 1, inputs.MAX_ID)
    review = get_session().get(FraudReview, review_id) if review_id else None
    if review is None:
        abort(404, "There is no review with this number.")
    friend = get_session().get(Referral, review.referral_id) if review.referral_id else None
    try:
        fraud.allow(form.kind.data, form.reason.data, g.advocacy_staff, advocate_id=review.advocate_id,
                    friend_user_id=friend.friend_user_id if friend else None, ip_hash=review.ip_hash)
    except fraud.DecisionError as error:
        get_session().rollback()
        return render_error(400, str(error))
    get_session().commit()
    flash("Household allowed: the hold rules skip it from now on.", "success")
    return redirect(url_for(".fraud_queue"), code=303)


@bp.post("/fraud/allowances/<advocacy_id:allowance_id>/remove")
@staff_required
def fraud_disallow(allowance_id: int):
    """Take a household off the allow-list (audited)."""
    if not CsrfOnlyForm().validate_on_submit():
        return render_error(400, CSRF_MESSAGE)
    if not fraud.remove_allowance(allowance_id, g.advocacy_staff):
        abort(404, "There is no such allow-list entry.")
    get_session().commit()
    flash("Taken off the allow-list.", "success")
    return redirect(url_for(".fraud_queue"), code=303)
