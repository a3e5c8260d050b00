"""The customer's NPS and case pages."""

from __future__ import annotations

from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from advocacy_portal.blueprints.common import csrf_failed
from advocacy_portal.blueprints.common import CSRF_MESSAGE
from advocacy_portal.blueprints.common import customer_required
from advocacy_portal.blueprints.common import private_page
from advocacy_portal.blueprints.common import render_error
from advocacy_portal.blueprints.nps import bp
from advocacy_portal.blueprints.nps.forms import ProblemForm
from advocacy_portal.blueprints.nps.forms import ReplyForm
from advocacy_portal.blueprints.nps.forms import ScoreForm
from advocacy_portal.blueprints.nps.forms import UnsubscribeForm
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.proxies import get_portal
from advocacy_portal.services import nps
from advocacy_portal.services import nps_queries
from advocacy_portal.services import referrals as referral_service

#: What the friendly page says about each kind of broken link.
LINK_PROBLEMS = {
    "tampered": "This link is not complete or was changed. Open it again from the email, or copy the whole address.",
    "expired": "This link has expired. Thank you for wanting to answer; we will ask again another time.",
    "unknown": "We could not find what this link points to. It may have been withdrawn.",
}

#: Customer blueprints whose pages show the in-app question while an invitation is open.
PROMPT_BLUEPRINTS = ("advocacy_referrals", "advocacy_rewards", "advocacy_testimonials", "advocacy_nps")


def link_problem(kind: str):
    status = 410 if kind == "expired" else 404 if kind == "unknown" else 400
    return private_page(render_template(config_value("NPS_LINK_ERROR_TEMPLATE"), kind=kind,
                                        message=LINK_PROBLEMS[kind]), status)


#: Above the score form sent with an expired CSRF token, shown again with the score and reason typed.
EXPIRED_ANSWER_KEPT = "This page had expired, so your answer was not sent yet. We kept it: check it and send it again."


@bp.url_value_preprocessor
def _keep_the_answer_of_an_expired_page(endpoint, values):
    # The score forms check their token themselves (Flask-WTF's FlaskForm), so the host's global
    # CSRFProtect must not refuse the post first: an expired page must not cost a typed reason.
    if endpoint in ("advocacy_nps.score", "advocacy_nps.answer"):
        csrf = current_app.extensions.get("csrf")
        if csrf is not None and hasattr(csrf, "exempt"):
            csrf.exempt(current_app.view_functions[endpoint])


def _score_page(form: ScoreForm, invitation, token: str, existing, status: int = 200, notice: str | None = None,
                action: str | None = None):
    return private_page(render_template(
        config_value("NPS_SCORE_TEMPLATE"), form=form, token=token, invitation=invitation,
        existing=existing, question=nps.question(), action=action or url_for(".score", token=token),
        reason_question=config_value("NPS_REASON_QUESTION"), notice=notice,
    ), status)


@bp.route("/s/<token>", methods=["GET", "POST"])
def score(token: str):
    """A score link: the question with the score pre-selected; recorded only on confirm."""
    try:
        invitation, linked_score = nps.read_score_token(token)
    except nps.LinkError as error:
        return link_problem(error.kind)
    existing = nps.response_of(invitation)
    if request.method == "GET":
        if config_value("NPS_RECORD_ON_CLICK") and linked_score is not None and existing is None:
            nps.record_answer(invitation, linked_score, None, "email")
            get_session().commit()
            return redirect(url_for(".thanks", token=nps.score_token(invitation)), code=303)
        form = ScoreForm(formdata=None, score=linked_score if linked_score is not None else
                         (existing.score if existing else None),
                         comment=existing.comment if existing else None)
        return _score_page(form, invitation, token, existing)
    form = ScoreForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            # The same page again, with a fresh token and what they chose and wrote; nothing recorded.
            form.csrf_token.errors = []
            form.score.errors = []
            return _score_page(form, invitation, token, existing, 400, notice=EXPIRED_ANSWER_KEPT)
        if form.score.errors:
            form.score.errors = ["Choose a score from 0 to 10."]
        return _score_page(form, invitation, token, existing, 400)
    try:
        nps.record_answer(invitation, form.score.data, form.comment.data, "email")
    except nps.NpsError as error:
        get_session().rollback()
        form.comment.errors = [str(error)]
        return _score_page(form, invitation, token, existing, 400)
    except nps.LinkError as error:
        get_session().rollback()
        return link_problem(error.kind)
    get_session().commit()
    return redirect(url_for(".thanks", token=nps.score_token(invitation)), code=303)


@bp.get("/thanks/<token>")
def thanks(token: str):
    """Thanks: everyone is invited to write a testimonial; promoters also get their referral link."""
    try:
        invitation, _score = nps.read_score_token(token)
    except nps.LinkError as error:
        return link_problem(error.kind)
    response = nps.response_of(invitation)
    if response is None:
        return redirect(url_for(".score", token=token), code=303)
    referral_url = None
    if response.category == "promoter":
        advocate = referral_service.ensure_advocate(response.user_id, response.email)
        referral_url = url_for("advocacy_links.follow", token=referral_service.link_token(advocate),
                               _external=True)
        get_session().commit()
    case = get_session().scalar(
        nps_queries.select_case_of_response(response.id)) if response.category == "detractor" else None
    return private_page(render_template(
        config_value("NPS_THANKS_TEMPLATE"), response=response, referral_url=referral_url,
        offer=config_value("OFFER_TEXT"), case=case,
        case_url=url_for(".case_by_link", token=nps.case_token(case)) if case else None,
        change_url=url_for(".score", token=token),
    ))


@bp.post("/answer")
@customer_required
def answer():
    """The in-app question's answer: it answers (and closes) the open invitation, emailed or not."""
    invitation = nps.open_invitation(g.advocacy_customer.id)
    if invitation is None:
        return render_error(404, "There is no open survey for you to answer. Thank you all the same!")
    form = ScoreForm(prefix="nps")

    def again(notice: str | None = None):
        # The question on a page of its own, with what they chose and wrote and a fresh token: it
        # posts here again, so the answer stays an in-app one.
        return _score_page(form, invitation, nps.score_token(invitation), nps.response_of(invitation), 400,
                           notice=notice, action=url_for(".answer"))

    if not form.validate_on_submit():
        if csrf_failed(form):
            form.csrf_token.errors = []
            form.score.errors = []
            return again(EXPIRED_ANSWER_KEPT)
        form.score.errors = ["Choose a score from 0 to 10."]
        return again()
    try:
        nps.record_answer(invitation, form.score.data, form.comment.data, "in_app")
    except nps.NpsError as error:
        get_session().rollback()
        form.comment.errors = [str(error)]
        return again()
    get_session().commit()
    return redirect(url_for(".thanks", token=nps.score_token(invitation)), code=303)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """No more surveys: a confirm button (mail scanners open links), honoured at once."""
    try:
        user_id, email = nps.read_unsubscribe_token(token)
    except nps.LinkError as error:
        return link_problem(error.kind)
    form = UnsubscribeForm()
    done = nps.is_unsubscribed(user_id)
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_error(400, CSRF_MESSAGE)
        nps.unsubscribe(user_id, email)
        get_session().commit()
        done = True
    return private_page(render_template(config_value("NPS_UNSUBSCRIBE_TEMPLATE"), form=form, done=done,
                                        action=url_for(".unsubscribe", token=token)))


@bp.route("/help", methods=["GET", "POST"])
@customer_required
def help_page():
    """"I have a problem": opens a case the shop owns until it is resolved; and the customer's cases."""
    form = ProblemForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            customer = g.advocacy_customer
            try:
                case = nps.open_case(customer.id, customer.email, source="request",
                                     subject=form.subject.data, body=form.body.data)
            except nps.NpsError as error:
                get_session().rollback()
                form.body.errors = [str(error)]
                status = 400
            else:
                get_session().commit()
                flash("Thank you. Your request is open; we will keep you posted.", "success")
                return redirect(url_for(".my_case", case_id=case.id), code=303)
        else:
            if csrf_failed(form):
                return render_error(400, CSRF_MESSAGE)
            status = 400
    return private_page(render_template(
        config_value("NPS_HELP_TEMPLATE"), form=form, cases=nps_queries.customer_cases(g.advocacy_customer.id),
        labels=nps.STATUS_LABELS,
    ), status)


def _case_page(case, form: ReplyForm, reply_action: str, status: int = 200):
    return private_page(render_template(
        config_value("NPS_CASE_TEMPLATE"), case=case, form=form, reply_action=reply_action,
        events=nps_queries.timeline(case, for_customer=True), labels=nps.STATUS_LABELS,
    ), status)


def _reply(case, reply_action: str, back: str):
    form = ReplyForm()
    if not form.validate_on_submit():
        if csrf_failed(form):
            return render_error(400, CSRF_MESSAGE)
        return _case_page(case, form, reply_action, 400)
    try:
        nps.customer_reply(case, form.body.data)
    except nps.NpsError as error:
        get_session().rollback()
        form.body.errors = [str(error)]
        return _case_page(case, form, reply_action, 400)
    get_session().commit()
    flash("Your reply was sent.", "success")
    return redirect(back, code=303)


def get_my_case_or_404(case_id: int):
    case = nps_queries.customer_case(case_id, g.advocacy_customer.id)
    if case is None:
        abort(404, "There is no request of yours with this number.")
    return case


@bp.get("/cases/<advocacy_id:case_id>")
@customer_required
def my_case(case_id: int):
    """One of the signed-in customer's cases."""
    case = get_my_case_or_404(case_id)
    return _case_page(case, ReplyForm(), url_for(".my_case_reply", case_id=case.id))


@bp.post("/cases/<advocacy_id:case_id>/reply")
@customer_required
def my_case_reply(case_id: int):
    case = get_my_case_or_404(case_id)
    return _reply(case, url_for(".my_case_reply", case_id=case.id), url_for(".my_case", case_id=case.id))


@bp.get("/case/<token>")
def case_by_link(token: str):
    """A case through the signed link in its emails (no sign-in needed)."""
    try:
        case = nps.read_case_token(token)
    except nps.LinkError as error:
        return link_problem(error.kind)
    return _case_page(case, ReplyForm(), url_for(".case_by_link_reply", token=token))


@bp.post("/case/<token>/reply")
def case_by_link_reply(token: str):
    try:
        case = nps.read_case_token(token)
    except nps.LinkError as error:
        return link_problem(error.kind)
    return _reply(case, url_for(".case_by_link_reply", token=token), url_for(".case_by_link", token=token))


# -- the in-app question on the customer's portal pages --------------------------------------------------


def prompt_context():
    """``advocacy_nps_prompt``: the in-app question's form while the signed-in customer has an open
    invitation, on the plugin's customer pages (``None`` elsewhere)."""
    if request.blueprint not in PROMPT_BLUEPRINTS or request.endpoint in (
        "advocacy_nps.score", "advocacy_nps.thanks", "advocacy_nps.unsubscribe", "advocacy_nps.answer"
    ):
        return {}
    if getattr(current_app, "login_manager", None) is None or not current_user.is_authenticated:
        return {}
    customer = get_portal().identify(current_user._get_current_object())
    try:
        invitation = nps.open_invitation(customer.id) if customer is not None else None
    except SQLAlchemyError:  # e.g. the 503 page of a database not migrated yet: no question there
        get_session().rollback()
        return {}
    if invitation is None:
        return {}
    return {"advocacy_nps_prompt": {
        "form": ScoreForm(prefix="nps", formdata=None), "question": nps.question(),
        "action": url_for("advocacy_nps.answer"), "template": config_value("NPS_PROMPT_TEMPLATE"),
    }}


@bp.record_once
def _install_prompt(state):
    state.app.context_processor(prompt_context)
