"""Staff pages: NPS figures and export, the case queue, one case, sending the survey."""

from __future__ import annotations

from datetime import timezone

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal.blueprints import inputs
from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.common import staff_required
from advocacy_portal.blueprints.nps.forms import AssignForm
from advocacy_portal.blueprints.nps.forms import BulkCloseForm
from advocacy_portal.blueprints.nps.forms import DueForm
from advocacy_portal.blueprints.nps.forms import MessageForm
from advocacy_portal.blueprints.nps.forms import NoteForm
from advocacy_portal.blueprints.nps.forms import RetireRootCauseForm
from advocacy_portal.blueprints.nps.forms import RootCauseForm
from advocacy_portal.blueprints.nps.forms import SendForm
from advocacy_portal.blueprints.nps.forms import StatusForm
from advocacy_portal.blueprints.nps_admin import bp
from advocacy_portal.blueprints.testimonials.forms import select_choices
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsRootCause
from advocacy_portal.models.nps import CASE_STATUSES
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import nps
from advocacy_portal.services import nps_queries

#: Geometry of the trend chart (SVG user units).
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 220, 28


def staff_first_name(user) -> str | None:
    """What a customer sees of a staff member: a first name from the host's user, else the part of
    the email before the @."""
    for attribute in ("first_name", "name", "full_name"):
        value = getattr(user, attribute, None)
        if isinstance(value, str) and value.strip():
            return value.strip().split()[0][:80]
    email = getattr(g.advocacy_staff, "email", None) or ""
    return email.split("@", 1)[0][:80] or None


def trend_chart(trend) -> dict:
    """Bars of the NPS per period, from a zero line in the middle (-100 at the bottom, 100 at the top)."""
    count = max(len(trend), 1)
    inner = CHART_WIDTH - 2 * CHART_PAD
    slot = inner / count
    middle = CHART_HEIGHT / 2
    scale = (CHART_HEIGHT / 2 - CHART_PAD) / 100
    bars = []
    for index, (label, summary) in enumerate(trend):
        x = CHART_PAD + index * slot + slot * 0.15
        score = summary.score
        height = abs(score or 0) * scale
        bars.append({
            "label": label, "score": score, "total": summary.total,
            "x": round(x, 1), "width": round(slot * 0.7, 1),
            "y": round(middle - height if (score or 0) >= 0 else middle, 1), "height": round(max(height, 1), 1),
            "negative": (score or 0) < 0, "empty": score is None,
            "text_x": round(x + slot * 0.35, 1),
        })
    step = max(1, count // 8)
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "middle": middle, "pad": CHART_PAD,
            "top": CHART_PAD, "bottom": CHART_HEIGHT - CHART_PAD, "bars": bars, "step": step}


def _period():
    default_start, default_end = nps_queries.default_period()
    start = inputs.date_arg("start") or default_start
    end = inputs.date_arg("end") or default_end
    if start > end:
        start, end = end, start
    return start, end


@bp.get("/")
@staff_required
def figures():
    """The NPS, response rate, trend, distribution, segments and comments."""
    start, end = _period()
    granularity = inputs.choice_arg("by", nps_queries.GRANULARITIES, "month")
    kind = inputs.choice_arg("kind", nps_queries.CATEGORIES)
    segment = inputs.choice_arg("segment", nps_queries.SEGMENTS)
    search = inputs.text_arg("q", 100)
    found = nps_queries.figures(start, end, granularity)
    most = max([count for _score, count in found.distribution] + [1])
    return private_page(render_template(
        config_value("ADMIN_NPS_TEMPLATE"), figures=found, chart=trend_chart(found.trend),
        most=most, comments=nps_queries.comments(start, end, kind=kind, segment=segment, search=search),
        kind=kind or "", segment=segment or "", search=search or "", start=start, end=end,
        granularity=granularity, granularities=nps_queries.GRANULARITIES,
        categories=nps_queries.CATEGORIES, segments=nps_queries.SEGMENTS,
        overdue=nps_queries.overdue_count(),
    ))


@bp.get("/export.csv")
@staff_required
def export():
    """Every answer of the period as CSV."""
    start, end = _period()
    body = nps_queries.export_csv(start, end)
    return body, 200, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="nps-{start}-{end}.csv"',
        "Cache-Control": "private, no-store",
    }


def _case_filters() -> nps_queries.CaseFilters:
    status = inputs.choice_arg("status", list(CASE_STATUSES) + ["all"], None)
    score = request.args.get("score") or None
    if score not in [None, "request"] + [str(n) for n in range(11)]:
        score = None
    return nps_queries.CaseFilters(
        status=None if status == "all" else status, open_only=status != "all",
        owner=inputs.text_arg("owner", 255), due=inputs.choice_arg("due", nps_queries.DUE_FILTERS), score=score,
    )


@bp.get("/cases")
@staff_required
def cases():
    """The case queue: overdue first; filters; bulk close; root causes and cases per root cause."""
    filters = _case_filters()
    nps.root_cause_choices()
    get_session().commit()  # the default root causes, written on first use
    return private_page(render_template(
        config_value("ADMIN_NPS_CASES_TEMPLATE"), cases=nps_queries.case_queue(filters), filters=filters,
        status_arg=request.args.get("status", ""), owners=nps_queries.case_owners(),
        labels=nps.STATUS_LABELS, due_filters=nps_queries.DUE_FILTERS, overdue=nps_queries.overdue_count(),
        counts=nps_queries.status_counts(), bulk_form=BulkCloseForm(), root_cause_form=RootCauseForm(),
        retire_form=RetireRootCauseForm(), root_causes=nps.root_cause_choices(),
        per_root_cause=nps_queries.cases_per_root_cause(), now=nps.utcnow(), me=g.advocacy_staff,
    ))


@bp.post("/cases/close")
@staff_required
def bulk_close():
    """Close every selected case."""
    form = BulkCloseForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        flash("Select at least one case to close.", "error")
        return redirect(url_for(".cases"), code=303)
    ids = [inputs.whole_number(value, 1, inputs.MAX_ID) for value in form.selected.data]
    if None in ids:
        return render_error(400, "The selection holds something that is not a case number.")
    found = list(get_session().scalars(select(NpsCase).where(NpsCase.id.in_(ids))))
    closed = nps.bulk_close(found, g.advocacy_staff)
    get_session().commit()
    flash(f"{closed} case(s) closed.", "success")
    return redirect(url_for(".cases"), code=303)


@bp.post("/root-causes")
@staff_required
def add_root_cause():
    form = RootCauseForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        flash("A root cause is 1 to 80 characters.", "error")
        return redirect(url_for(".cases"), code=303)
    try:
        nps.add_root_cause(form.label.data, g.advocacy_staff)
    except nps.NpsError as error:
        get_session().rollback()
        flash(str(error), "error")
        return redirect(url_for(".cases"), code=303)
    get_session().commit()
    flash("Root cause added.", "success")
    return redirect(url_for(".cases"), code=303)


@bp.post("/root-causes/retire")
@staff_required
def retire_root_cause():
    form = RetireRootCauseForm()
    if not form.validate_on_submit():
        return render_error(400, CSRF_MESSAGE if csrf_failed(form) else "Choose a root cause.")
    cause_id = inputs.whole_number(form.cause.data, 1, inputs.MAX_ID)
    cause = get_session().get(NpsRootCause, cause_id) if cause_id else None
    if cause is None:
        return render_error(404, "There is no such root cause.")
    nps.retire_root_cause(cause, g.advocacy_staff)
    get_session().commit()
    flash(f"“{cause.label}” removed from the list (cases keep it).", "success")
    return redirect(url_for(".cases"), code=303)


def get_case_or_404(case_id: int) -> NpsCase:
    case = get_session().get(NpsCase, case_id)
    if case is None:
        abort(404, "There is no case with this number.")
    return case


def _owner_choices() -> list[tuple[str, str]]:
    me = g.advocacy_staff
    choices = [(me.id, f"Me ({me.email or me.id})")]
    choices += [(user_id, name) for user_id, name in nps_queries.case_owners() if user_id != me.id]
    return choices


def _root_cause_choices() -> list:
    return select_choices([("", "Choose…")] + [(str(c.id), c.label) for c in nps.root_cause_choices()])


def _case_forms(case: NpsCase, **overrides) -> dict:
    assign_form = overrides.get("assign_form") or AssignForm(owner=case.owner_user_id or g.advocacy_staff.id)
    assign_form.owner.choices = select_choices(_owner_choices())
    status_form = overrides.get("status_form") or StatusForm(status=case.status)
    status_form.root_cause.choices = _root_cause_choices()
    due_form = overrides.get("due_form") or DueForm(due_at=case.due_at.astimezone(timezone.utc).replace(tzinfo=None))
    return {
        "assign_form": assign_form, "status_form": status_form, "due_form": due_form,
        "message_form": overrides.get("message_form") or MessageForm(),
        "note_form": overrides.get("note_form") or NoteForm(),
    }


def _render_case(case: NpsCase, status: int = 200, **overrides):
    return private_page(render_template(
        config_value("ADMIN_NPS_CASE_TEMPLATE"), case=case, labels=nps.STATUS_LABELS,
        events=nps_queries.timeline(case, for_customer=False), response=nps_queries.response_for_case(case),
        resurvey=nps_queries.resurvey_of(case), root_cause=get_session().get(NpsRootCause, case.root_cause_id)
        if case.root_cause_id else None, now=nps.utcnow(), **_case_forms(case, **overrides),
    ), status)


@bp.get("/cases/<advocacy_id:case_id>")
@staff_required
def case(case_id: int):
    """One case: the customer's answer, the timeline with notes, and every action."""
    found = get_case_or_404(case_id)
    nps.root_cause_choices()
    get_session().commit()  # the default root causes, written on first use
    return _render_case(found)


def _case_action(case_id: int, form_class, form_key: str, act):
    found = get_case_or_404(case_id)
    form = form_class()
    if form_key in ("assign_form",):
        form.owner.choices = select_choices(_owner_choices())
    if form_key == "status_form":
        form.root_cause.choices = _root_cause_choices()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _render_case(found, 400, **{form_key: form})
    try:
        message = act(found, form)
    except nps.NpsError as error:
        get_session().rollback()
        found = get_case_or_404(case_id)
        first_field = next(iter(field for field in form if field.name not in ("csrf_token", "submit")))
        first_field.errors = list(first_field.errors) + [str(error)]
        return _render_case(found, 400, **{form_key: form})
    get_session().commit()
    flash(message, "success")
    return redirect(url_for(".case", case_id=found.id), code=303)


@bp.post("/cases/<advocacy_id:case_id>/assign")
@staff_required
def assign(case_id: int):
    def act(found, form):
        me = g.advocacy_staff
        if form.owner.data == me.id:
            nps.assign(found, me.id, me.email, staff_first_name(current_user), me)
        else:
            previous = get_session().execute(
                select(NpsCase.owner_email, NpsCase.owner_first_name)
                .where(NpsCase.owner_user_id == form.owner.data).limit(1)
            ).first()
            nps.assign(found, form.owner.data, previous[0] if previous else None,
                       previous[1] if previous else None, me)
        return "Owner changed."
    return _case_action(case_id, AssignForm, "assign_form", act)


@bp.post("/cases/<advocacy_id:case_id>/status")
@staff_required
def set_status(case_id: int):
    def act(found, form):
        cause_id = inputs.whole_number(form.root_cause.data, 1, inputs.MAX_ID) if form.root_cause.data else None
        nps.set_status(found, form.status.data, g.advocacy_staff, root_cause_id=cause_id,
                       root_cause_text=form.root_cause_text.data)
        return f"Status: {nps.STATUS_LABELS[form.status.data]}. The customer was emailed."
    return _case_action(case_id, StatusForm, "status_form", act)


@bp.post("/cases/<advocacy_id:case_id>/message")
@staff_required
def message(case_id: int):
    def act(found, form):
        nps.post_message(found, form.body.data, g.advocacy_staff, staff_first_name(current_user))
        return "Message sent to the customer."
    return _case_action(case_id, MessageForm, "message_form", act)


@bp.post("/cases/<advocacy_id:case_id>/note")
@staff_required
def note(case_id: int):
    def act(found, form):
        nps.add_note(found, form.body.data, g.advocacy_staff, staff_first_name(current_user))
        return "Note added."
    return _case_action(case_id, NoteForm, "note_form", act)


@bp.post("/cases/<advocacy_id:case_id>/due")
@staff_required
def due(case_id: int):
    def act(found, form):
        nps.set_due(found, form.due_at.data.replace(tzinfo=timezone.utc), g.advocacy_staff)
        return "Due date changed."
    return _case_action(case_id, DueForm, "due_form", act)


@bp.route("/send", methods=["GET", "POST"])
@staff_required
def send():
    """Send the survey to one customer or a list; the log of every ask, sent or skipped."""
    form = SendForm()
    status = 200
    unknown: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            if csrf_failed(form):
                return render_error(400, CSRF_MESSAGE)
            status = 400
        else:
            recipients, unknown = nps.parse_recipients(form.recipients.data or "")
            if form.use_audience.data:
                audience = get_portal().survey_audience_callback
                if audience is None:
                    form.use_audience.errors = ["The shop has no survey_audience hook: paste a list instead."]
                    status = 400
                else:
                    for member in audience():
                        if hasattr(member, "id"):
                            recipients.append((str(member.id), member.email))
                        else:
                            recipients.append((str(member[0]), member[1]))
            if status == 200 and not recipients:
                form.recipients.errors = ["Name at least one known customer (id or email)."]
                status = 400
            if status == 200:
                report = nps.send_to_list(recipients, channel=form.channel.data, staff=g.advocacy_staff,
                                          reason="manual" if len(recipients) == 1 else "list")
                get_session().commit()
                flash(f"Survey sent to {report.sent}; {report.skipped} skipped (throttled or unsubscribed)"
                      + (f"; {len(unknown)} not found" if unknown else "") + ".", "success")
                return redirect(url_for(".send"), code=303)
    return private_page(render_template(
        config_value("ADMIN_NPS_SEND_TEMPLATE"), form=form, unknown=unknown,
        log=nps_queries.invitation_log(100), skip_reasons=nps.SKIP_REASONS,
        has_audience=get_portal().survey_audience_callback is not None,
    ), status)


def overdue_context():
    """``advocacy_nps_overdue`` on every staff page: how many cases are past due."""
    if request.blueprint is None:
        return {}
    staff_blueprints = {endpoint.split(".", 1)[0]
                        for _order, _label, endpoint in get_portal().state().admin_sections}
    if request.blueprint not in staff_blueprints or getattr(g, "advocacy_staff", None) is None:
        return {}
    try:
        return {"advocacy_nps_overdue": nps_queries.overdue_count()}
    except SQLAlchemyError:  # e.g. the 503 page of a database not migrated yet
        get_session().rollback()
        return {}


@bp.record_once
def _install_overdue(state):
    state.app.context_processor(overdue_context)
