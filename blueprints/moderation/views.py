"""The moderation queue, one testimonial's page, and staff actions (all audited)."""

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
from werkzeug.datastructures import MultiDict

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.blueprints.moderation import bp
from advocacy_portal.blueprints.moderation.forms import ACTION_LABELS
from advocacy_portal.blueprints.moderation.forms import ActionForm
from advocacy_portal.blueprints.moderation.forms import BulkForm
from advocacy_portal.blueprints.moderation.forms import HighlightForm
from advocacy_portal.blueprints.moderation.forms import QueueFilterForm
from advocacy_portal.blueprints.testimonials.forms import select_choices
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import TESTIMONIAL_STATES
from advocacy_portal.models import Testimonial
from advocacy_portal.services import photos
from advocacy_portal.services import testimonial_queries
from advocacy_portal.services import testimonials as testimonial_service


def _filters(form: QueueFilterForm) -> testimonial_queries.QueueFilters:
    def day(value, plus_days=0):
        value = inputs.parse_date(value)  # within the sane years, so a day more never overflows
        if value is None:
            return None
        return datetime.combine(value, time.min, tzinfo=timezone.utc) + timedelta(days=plus_days)

    return testimonial_queries.QueueFilters(
        # ``Optional()`` lets a blank ("%20") through unchecked: only known choices go on.
        state=inputs.choice_arg_value(form.state.data, TESTIMONIAL_STATES),
        rating=inputs.whole_number(form.rating.data, 1, 5),
        product=form.product.data or None,
        kind=inputs.choice_arg_value(form.kind.data, ("testimonial", "review")),
        submitted_from=day(form.submitted_from.data),
        submitted_until=day(form.submitted_until.data, plus_days=1),  # the "until" day included
    )


@bp.get("/")
@staff_required
def queue():
    """Testimonials to moderate, filtered and paginated."""
    args = MultiDict(request.args)
    if "state" not in args:
        args["state"] = "pending"
    filter_form = QueueFilterForm(formdata=args)
    products = testimonial_queries.products()
    filter_form.product.choices = select_choices([("", "Any")] + list(products.items()))
    if not filter_form.validate():
        # A bad filter (an unknown state, a broken date) shows the queue without it, and says so.
        for field in filter_form:
            if field.errors:
                field.data = None
    page = testimonial_queries.moderation_queue(_filters(filter_form), page=inputs.page_arg())
    figures = testimonial_queries.referral_figures(page.items)
    bulk_form = BulkForm(formdata=None, back=request.full_path)
    query = {key: value for key, value in request.args.items() if key != "page"}
    query.setdefault("state", "pending")
    return private_page(
        render_template(
            config_value("MODERATION_QUEUE_TEMPLATE"),
            page=page,
            filter_form=filter_form,
            bulk_form=bulk_form,
            figures=figures,
            counts=testimonial_queries.state_counts(),
            products=products,
            query=query,
            rejection_reasons=testimonial_service.REJECTION_REASONS,
        )
    )


def _get_or_404(testimonial_id: int) -> Testimonial:
    testimonial = get_session().get(Testimonial, testimonial_id)
    if testimonial is None:
        abort(404, f"Testimonial {testimonial_id} does not exist (any more).")
    return testimonial


@bp.get("/<advocacy_id:testimonial_id>")
@staff_required
def item(testimonial_id: int):
    """One testimonial: the whole text, its labels and consent, actions, highlight and history."""
    return _render_item(_get_or_404(testimonial_id))


def _render_item(testimonial: Testimonial, highlight_form: HighlightForm | None = None, status: int = 200):
    if highlight_form is None:
        highlight_form = HighlightForm(
            formdata=None,
            version=testimonial.version,
            start=testimonial.highlight_start,
            end=testimonial.highlight_end,
        )
    figures = testimonial_queries.referral_figures([testimonial])[testimonial.id]
    token = testimonial_queries.referral_token(testimonial)
    return private_page(
        render_template(
            config_value("MODERATION_ITEM_TEMPLATE"),
            testimonial=testimonial,
            rejection_reasons=testimonial_service.REJECTION_REASONS,
            action_form=ActionForm(formdata=None, version=testimonial.version),
            highlight_form=highlight_form,
            actions=[
                (action, label) for action, label in ACTION_LABELS.items()
                if testimonial.state in testimonial_service.ACTIONS[action]
                and not (action == "feature" and testimonial.featured)
                and not (action == "unfeature" and not testimonial.featured)
            ],
            figures=figures,
            history=testimonial_queries.history(testimonial.id),
            products=testimonial_queries.products(),
            photo_url=photos.photo_url(testimonial.photo_key),
            referral_url=url_for("advocacy_links.follow", token=token, _external=True) if token else None,
        ),
        status,
    )


@bp.post("/<advocacy_id:testimonial_id>/action")
@staff_required
def act(testimonial_id: int):
    """Approve, reject, unpublish, feature or unfeature one testimonial."""
    form = ActionForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        flash("That action could not be read: reload the page and try again.", "error")
        return redirect(url_for(".item", testimonial_id=testimonial_id), code=303)
    try:
        testimonial = testimonial_service.moderate(
            testimonial_id, form.action.data, g.advocacy_staff,
            reason=form.reason.data, expected_version=form.version.data,
        )
        get_session().commit()
    except testimonial_queries.NotFound as error:
        get_session().rollback()
        flash(str(error), "error")
        return redirect(url_for(".queue"), code=303)
    except testimonial_queries.TestimonialError as error:
        get_session().rollback()
        flash(str(error), "error")
        return redirect(url_for(".item", testimonial_id=testimonial_id), code=303)
    flash(_done(form.action.data, testimonial), "success")
    return redirect(url_for(".item", testimonial_id=testimonial_id), code=303)


def _done(action: str, testimonial: Testimonial) -> str:
    words = {
        "approve": "approved" + ("" if testimonial.is_public else " (kept private: the author did not consent to publication)"),
        "reject": "rejected",
        "unpublish": "unpublished",
        "feature": "featured",
        "unfeature": "no longer featured",
    }
    return f"Testimonial {testimonial.id} {words[action]}."


@bp.post("/<advocacy_id:testimonial_id>/highlight")
@staff_required
def highlight(testimonial_id: int):
    """Pick (or clear) the highlighted excerpt; the quote itself never changes."""
    form = HighlightForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        testimonial = _get_or_404(testimonial_id)
        return _render_item(testimonial, form, status=400)
    testimonial = get_session().get(Testimonial, testimonial_id)
    try:
        if form.clear.data:
            start = end = None
        elif form.excerpt.data and form.excerpt.data.strip():
            if testimonial is None:
                raise testimonial_queries.NotFound(f"Testimonial {testimonial_id} no longer exists.")
            start, end = testimonial_service.find_excerpt(testimonial.body, form.excerpt.data)
        else:
            start, end = form.start.data, form.end.data
        testimonial = testimonial_service.set_highlight(
            testimonial_id, g.advocacy_staff, start, end, expected_version=form.version.data
        )
        get_session().commit()
    except testimonial_queries.NotFound as error:
        get_session().rollback()
        flash(str(error), "error")
        return redirect(url_for(".queue"), code=303)
    except testimonial_queries.TestimonialError as error:
        get_session().rollback()
        form.excerpt.errors = list(form.excerpt.errors) + [str(error)]
        return _render_item(_get_or_404(testimonial_id), form, status=400)
    flash("Highlight removed." if start is None else f"Highlighted: “{testimonial.highlight}”", "success")
    return redirect(url_for(".item", testimonial_id=testimonial_id), code=303)


def _safe_back(value: str | None) -> str:
    queue_path = url_for(".queue")
    if value and value.startswith(queue_path) and "//" not in value and "\\" not in value:
        return value
    return queue_path


@bp.post("/bulk")
@staff_required
def bulk():
    """One action on the selected testimonials; each one's outcome is reported."""
    form = BulkForm()
    back = _safe_back(form.back.data)
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(back, code=303)
    action = form.action.data
    if action == "reject" and not (form.reason.data or "").strip():
        flash("Give a reason to reject the selected testimonials.", "error")
        return redirect(back, code=303)
    done = 0
    for value in form.selected.data:
        testimonial_id, _, version = value.partition(":")
        testimonial_id = inputs.whole_number(testimonial_id, 1, inputs.MAX_ID)
        version = inputs.whole_number(version, 1, inputs.MAX_ID)
        if testimonial_id is None or version is None:
            flash(f"Skipped {value!r}: not a testimonial.", "error")
            continue
        try:
            testimonial_service.moderate(
                testimonial_id, action, g.advocacy_staff,
                reason=form.reason.data, expected_version=version,
            )
            # Each item commits on its own: one refusal never undoes the others.
            get_session().commit()
            done += 1
        except testimonial_queries.TestimonialError as error:
            get_session().rollback()
            flash(str(error), "error")
    if done:
        flash(f"{ACTION_LABELS[action]}: done for {done} testimonial{'s' if done != 1 else ''}.", "success")
    return redirect(back, code=303)
