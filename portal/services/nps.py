"""The advocacy loop, the writes: NPS survey invitations (with throttling across channels), answers
(recorded only when confirmed, unless ``NPS_RECORD_ON_CLICK``), detractor follow-up cases (owner,
status, due date, messages, notes, history, root cause) and unsubscribes.

Every function flushes; the caller commits. Emails go through :mod:`advocacy_portal.services.mail`
(the outbox), signals after commit (:mod:`advocacy_portal.signals`), and every staff action writes an
audit entry. The reads are in :mod:`advocacy_portal.services.nps_queries`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Iterable

from flask import current_app
from flask import url_for
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal import signals
from advocacy_portal.config import config_value
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsCaseEvent
from advocacy_portal.models import NpsInvitation
from advocacy_portal.models import NpsResponse
from advocacy_portal.models import NpsRootCause
from advocacy_portal.models import NpsUnsubscribe
from advocacy_portal.models import Referral
from advocacy_portal.models import Testimonial
from advocacy_portal.models import utcnow
from advocacy_portal.models.nps import CASE_STATUSES
from advocacy_portal.services import audit
from advocacy_portal.services import mail

log = logging.getLogger(__name__)

#: The eleven scores of the question.
SCORES = tuple(range(0, 11))
#: Status names as the customer and staff read them.
STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "waiting_on_customer": "Waiting on you",
    "resolved": "Resolved",
    "closed": "Closed",
}
#: Why a send was skipped, in words.
SKIP_REASONS = {
    "unsubscribed": "Unsubscribed from surveys",
    "throttled_24h": "Asked less than 24 hours ago",
    "throttled": "Asked within the throttle period",
    "no_email": "No email address known",
}
#: Outbox topic of an automatic (delayed) survey: after a payment, or a re-survey after a case.
AUTO_TOPIC = "nps.survey"
#: Most characters of a case's subject.
SUBJECT_MAX_LENGTH = 200


class NpsError(ValueError):
    """An answer, message or action that cannot be taken; ``message`` says why, for the person."""


class LinkError(Exception):
    """A signed link that cannot be used: ``kind`` is ``tampered``, ``expired`` or ``unknown``."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


# -- names and wording --------------------------------------------------------------------------------


def shop_name() -> str:
    """The shop's name in the question: ``BUSINESS_NAME``, else the site's host, else "us"."""
    name = config_value("BUSINESS_NAME")
    if name:
        return name
    server = current_app.config.get("SERVER_NAME")
    return str(server) if server else "us"


def question() -> str:
    """The survey's question with the shop's name."""
    return config_value("NPS_QUESTION").replace("{shop}", shop_name())


def category(score: int) -> str:
    """``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


# -- signed links ----------------------------------------------------------------------------------------


def _serializer(salt_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=config_value(salt_key))


def _load(salt_key: str, token: str, max_age_seconds: float) -> Any:
    try:
        return _serializer(salt_key).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise LinkError("expired") from None
    except (BadSignature, ValueError, TypeError, UnicodeError):
        raise LinkError("tampered") from None


def score_token(invitation: NpsInvitation, score: int | None = None) -> str:
    """The signed token of a score link (``score`` ``None``: the question without a score)."""
    return _serializer("NPS_TOKEN_SALT").dumps({"i": invitation.id, "s": score})


def read_score_token(token: str) -> tuple[NpsInvitation, int | None]:
    """The invitation and score a score link names.

    :raises LinkError: ``tampered`` (bad signature), ``expired`` (older than ``NPS_INVITATION_DAYS``
        or past the invitation's end) or ``unknown`` (no such invitation).
    """
    data = _load("NPS_TOKEN_SALT", token, config_value("NPS_INVITATION_DAYS") * 86400)
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise LinkError("tampered")
    score = data.get("s")
    if score is not None and (not isinstance(score, int) or isinstance(score, bool) or score not in SCORES):
        raise LinkError("tampered")
    invitation = get_session().get(NpsInvitation, data["i"])
    if invitation is None or invitation.state == "skipped":
        raise LinkError("unknown")
    if invitation_expired(invitation):
        raise LinkError("expired")
    return invitation, score


def unsubscribe_token(user_id: str, email: str | None) -> str:
    return _serializer("NPS_UNSUBSCRIBE_SALT").dumps({"u": str(user_id), "e": email})


def read_unsubscribe_token(token: str) -> tuple[str, str | None]:
    """:raises LinkError: ``tampered`` (unsubscribe links do not expire)."""
    data = _load("NPS_UNSUBSCRIBE_SALT", token, 10 * 365 * 86400)
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        raise LinkError("tampered")
    email = data.get("e")
    return data["u"], email if isinstance(email, str) else None


def case_token(case: NpsCase) -> str:
    """The signed token of the customer's link to their case (in every case email)."""
    return _serializer("NPS_CASE_SALT").dumps({"c": case.id, "u": case.user_id})


def read_case_token(token: str) -> NpsCase:
    """:raises LinkError: ``tampered``, ``expired`` (older than ``NPS_CASE_LINK_DAYS``) or ``unknown``."""
    data = _load("NPS_CASE_SALT", token, config_value("NPS_CASE_LINK_DAYS") * 86400)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("u"), str):
        raise LinkError("tampered")
    case = get_session().get(NpsCase, data["c"])
    if case is None or case.user_id != data["u"]:
        raise LinkError("unknown")
    return case


def _external(endpoint: str, **values) -> str | None:
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:  # no request and no SERVER_NAME: the email goes without the link
        return None


# -- unsubscribes and throttling --------------------------------------------------------------------------


def is_unsubscribed(user_id: str) -> bool:
    return get_session().scalar(
        select(NpsUnsubscribe.id).where(NpsUnsubscribe.user_id == str(user_id))
    ) is not None


def unsubscribe(user_id: str, email: str | None) -> bool:
    """Stop surveys to this person at once; open invitations stop being shown. Returns whether it is new."""
    if is_unsubscribed(user_id):
        return False
    get_session().add(NpsUnsubscribe(user_id=str(user_id), email=email))
    get_session().flush()
    audit.record_action(None, "nps.unsubscribe", "customer", user_id)
    return True


def skip_reason(user_id: str, email: str | None, channel: str, now: datetime | None = None) -> str | None:
    """Why a survey may not be sent to this person now (``None``: it may). Throttling counts every
    channel: an in-app ask counts as much as an email."""
    now = now or utcnow()
    if is_unsubscribed(user_id):
        return "unsubscribed"
    if channel == "email" and not email:
        return "no_email"
    last = get_session().scalar(
        select(NpsInvitation.created_at)
        .where(NpsInvitation.user_id == str(user_id), NpsInvitation.state != "skipped")
        .order_by(NpsInvitation.created_at.desc())
        .limit(1)
    )
    if last is None:
        return None
    if now - last < timedelta(hours=config_value("NPS_MIN_HOURS_BETWEEN")):
        return "throttled_24h"
    if now - last < timedelta(days=config_value("NPS_THROTTLE_DAYS")):
        return "throttled"
    return None


def next_allowed_at(user_id: str) -> datetime:
    """The earliest time throttling lets a survey go to this person."""
    last = get_session().scalar(
        select(NpsInvitation.created_at)
        .where(NpsInvitation.user_id == str(user_id), NpsInvitation.state != "skipped")
        .order_by(NpsInvitation.created_at.desc())
        .limit(1)
    )
    if last is None:
        return utcnow()
    wait = max(timedelta(days=config_value("NPS_THROTTLE_DAYS")),
               timedelta(hours=config_value("NPS_MIN_HOURS_BETWEEN")))
    return last + wait


# -- sending --------------------------------------------------------------------------------------------


def send_survey(
    user_id: str,
    email: str | None,
    *,
    channel: str = "email",
    reason: str = "manual",
    staff: Any = None,
    case_id: int | None = None,
) -> NpsInvitation:
    """Ask one person the question (flushed). A throttled, unsubscribed or address-less ask is not
    sent: it is logged as a ``skipped`` invitation with its reason, never queued for later.

    :param channel: ``email`` (an email with eleven score links; the question also shows on their
        portal pages) or ``in_app`` (only on their portal pages).
    :param staff: the staff member who sent it (a :class:`advocacy_portal.Customer`), or ``None``.
    """
    if channel not in ("email", "in_app"):
        raise NpsError("Choose email or in-app.")
    session = get_session()
    now = utcnow()
    why = skip_reason(user_id, email, channel, now)
    invitation = NpsInvitation(
        user_id=str(user_id), email=email, channel=channel, reason=reason,
        state="skipped" if why else "sent", skip_reason=why,
        sent_by_user_id=None if staff is None else str(staff.id), case_id=case_id, created_at=now,
        expires_at=None if why else now + timedelta(days=config_value("NPS_INVITATION_DAYS")),
    )
    session.add(invitation)
    session.flush()
    if why:
        log.info("NPS survey to user %s skipped: %s", user_id, why)
    else:
        if channel == "email":
            _queue_survey_mail(invitation)
        signals.send_after_commit(signals.survey_sent, invitation=invitation)
    if staff is not None:
        audit.record_action(staff, "nps.send", "nps_invitation", invitation.id,
                            after={"user_id": str(user_id), "channel": channel, "state": invitation.state,
                                   "skip_reason": why})
    return invitation


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    unknown: list[str] | None = None


def send_to_list(recipients: Iterable[tuple[str, str | None]], *, channel: str = "email",
                 staff: Any = None, reason: str = "list") -> SendReport:
    """:func:`send_survey` to each ``(user_id, email)``; each person once."""
    report = SendReport(unknown=[])
    seen = set()
    for user_id, email in recipients:
        if str(user_id) in seen:
            continue
        seen.add(str(user_id))
        invitation = send_survey(user_id, email, channel=channel, reason=reason, staff=staff)
        if invitation.state == "skipped":
            report.skipped += 1
        else:
            report.sent += 1
    return report


def known_customer(value: str) -> tuple[str, str | None] | None:
    """A customer from an id or an email: the host's ``survey_customer`` hook first, then what the
    plugin knows (advocates, referred friends, testimonial authors)."""
    from advocacy_portal.proxies import get_portal

    value = value.strip()
    if not value:
        return None
    hook = get_portal().survey_customer_callback
    if hook is not None:
        found = hook(value)
        if found is not None:
            return (str(found.id), found.email) if hasattr(found, "id") else (str(found[0]), found[1])
        return None
    session = get_session()
    if "@" in value:
        lowered = value.lower()
        advocate = session.scalar(select(Advocate).where(Advocate.email_normalized == lowered))
        if advocate is not None:
            return advocate.user_id, advocate.email
        friend = session.scalar(select(Referral).where(Referral.friend_email_normalized == lowered))
        if friend is not None:
            return friend.friend_user_id, value
        author = session.scalar(select(Testimonial).where(Testimonial.author_email == value).limit(1))
        if author is not None:
            return author.author_user_id, author.author_email
        return None
    return value, email_of(value)


def email_of(user_id: str) -> str | None:
    """The email the plugin knows for a user id, or ``None``."""
    from advocacy_portal.proxies import get_portal

    hook = get_portal().survey_customer_callback
    if hook is not None:
        found = hook(str(user_id))
        if found is not None:
            return found.email if hasattr(found, "email") else found[1]
    session = get_session()
    advocate = session.scalar(select(Advocate).where(Advocate.user_id == str(user_id)))
    if advocate is not None and advocate.email:
        return advocate.email
    friend = session.scalar(select(Referral).where(Referral.friend_user_id == str(user_id)))
    if friend is not None and friend.friend_email_normalized:
        return friend.friend_email_normalized
    return None


def parse_recipients(text: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The customers a pasted list (or CSV: one value, or ``id,email``, per line) names, and the
    values no customer was found for."""
    import csv
    import io

    found, unknown = [], []
    for row in csv.reader(io.StringIO(text or "")):
        cells = [cell.strip() for cell in row if cell.strip()]
        if not cells or cells[0].lower() in ("id", "email", "user_id"):
            continue
        if len(cells) >= 2 and "@" in cells[1] and "@" not in cells[0]:
            found.append((cells[0], cells[1]))
            continue
        customer = known_customer(cells[0])
        if customer is None:
            unknown.append(cells[0][:100])
        else:
            found.append(customer)
    return found, unknown


def _queue_survey_mail(invitation: NpsInvitation) -> None:
    links = [(score, _external("advocacy_nps.score", token=score_token(invitation, score)))
             for score in SCORES]
    context = {
        "question": question(),
        "reason_question": config_value("NPS_REASON_QUESTION"),
        "shop": shop_name(),
        "score_links": links,
        "unsubscribe_url": _external("advocacy_nps.unsubscribe",
                                     token=unsubscribe_token(invitation.user_id, invitation.email)),
        "program_name": config_value("PROGRAM_NAME"),
    }
    mail.queue(
        "nps.survey", invitation.email,
        config_value("MAIL_NPS_SURVEY_SUBJECT").replace("{shop}", shop_name()),
        config_value("MAIL_NPS_SURVEY_TEXT_TEMPLATE"), config_value("MAIL_NPS_SURVEY_HTML_TEMPLATE"),
        context, subject_type="nps_invitation", subject_id=invitation.id,
    )


# -- automatic surveys (outbox) ------------------------------------------------------------------------------


def schedule_survey(user_id: str, email: str | None, reason: str, *, at: datetime,
                    case_id: int | None = None) -> int | None:
    """Write a delayed outbox task that sends the survey at ``at`` (throttling is checked then)."""
    delay = max(at - utcnow(), timedelta(0))
    return outbox.enqueue(
        AUTO_TOPIC, {"user_id": str(user_id), "email": email, "reason": reason, "case_id": case_id},
        delay=delay or None, subject_type="customer", subject_id=user_id,
    )


def after_payment(conversion, referral, first_friend_payment: bool) -> None:
    """Called as a payment is first seen as paid: schedule the automatic survey ``NPS_AUTO_SEND_DAYS``
    later, as ``NPS_AUTO_SEND`` says (``first_payment``: a referred friend's first; ``any_payment``)."""
    mode = config_value("NPS_AUTO_SEND")
    if mode not in ("first_payment", "any_payment"):
        return
    if mode == "first_payment":
        if referral is None or not first_friend_payment:
            return
        user_id, email, reason = referral.friend_user_id, referral.friend_email_normalized, "first_payment"
    else:
        user_id = conversion.customer_user_id or (referral.friend_user_id if referral is not None else None)
        if user_id is None:
            return
        email = referral.friend_email_normalized if referral is not None else None
        reason = "payment"
    schedule_survey(user_id, email, reason,
                    at=utcnow() + timedelta(days=config_value("NPS_AUTO_SEND_DAYS")))


@outbox.handler(AUTO_TOPIC)
def run_scheduled_survey(task: outbox.Task) -> None:
    """The outbox handler: send (or skip, logged) the survey a payment or a resolved case scheduled."""
    payload = task.payload
    email = payload.get("email") or email_of(payload["user_id"])
    send_survey(payload["user_id"], email, reason=payload.get("reason") or "payment",
                case_id=payload.get("case_id"))


# -- answers -----------------------------------------------------------------------------------------------


def invitation_expired(invitation: NpsInvitation, now: datetime | None = None) -> bool:
    return invitation.expires_at is not None and invitation.expires_at < (now or utcnow())


def response_of(invitation: NpsInvitation) -> NpsResponse | None:
    return get_session().scalar(select(NpsResponse).where(NpsResponse.invitation_id == invitation.id))


def check_score(score: Any) -> int:
    """:raises NpsError: unless ``score`` is a whole number from 0 to 10."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise NpsError("Choose a score from 0 to 10.")
    return score


def check_text(text: str | None, *, required: bool = False, what: str = "Your comment") -> str | None:
    """Stripped text within ``NPS_COMMENT_MAX_LENGTH``; ``None`` when empty.

    :raises NpsError: when it is too long, or empty and required.
    """
    text = (text or "").strip()
    limit = config_value("NPS_COMMENT_MAX_LENGTH")
    if len(text) > limit:
        raise NpsError(f"{what} is {len(text)} characters long; the most is {limit}.")
    if required and not text:
        raise NpsError(f"{what} is empty.")
    return text or None


def record_answer(invitation: NpsInvitation, score: Any, comment: str | None, channel: str
                  ) -> tuple[NpsResponse, bool]:
    """Record (or, within the invitation's life, change) the answer to an invitation (flushed).

    A detractor's score (``<= NPS_DETRACTOR_THRESHOLD``) opens a follow-up case, once per answer.
    A changed answer is logged in the audit log with its before and after.

    :returns: the response and whether it is the first answer.
    :raises NpsError: on a score outside 0–10 or an oversized comment (nothing is changed).
    :raises LinkError: ``expired`` when the invitation is past its end.
    """
    score = check_score(score)
    comment = check_text(comment)
    if invitation.state == "skipped":
        raise LinkError("unknown")
    if invitation_expired(invitation):
        raise LinkError("expired")
    session = get_session()
    now = utcnow()
    response = response_of(invitation)
    first = response is None
    if first:
        response = NpsResponse(invitation_id=invitation.id, user_id=invitation.user_id, email=invitation.email,
                               score=score, comment=comment, channel=channel, created_at=now, updated_at=now)
        session.add(response)
    else:
        before = {"score": response.score, "comment": response.comment, "channel": response.channel}
        response.score, response.comment, response.channel = score, comment, channel
        response.changes += 1
        response.updated_at = now
        audit.record_action(None, "nps.answer.change", "nps_response", response.id, before=before,
                            after={"score": score, "comment": comment, "channel": channel},
                            reason="The customer answered again within the invitation's life")
    invitation.state = "answered"
    invitation.answered_at = now
    session.flush()
    if first:
        audit.record_action(None, "nps.answer", "nps_response", response.id,
                            after={"score": score, "channel": channel, "invitation": invitation.id})
    if score <= config_value("NPS_DETRACTOR_THRESHOLD"):
        has_case = session.scalar(select(NpsCase.id).where(NpsCase.response_id == response.id))
        if has_case is None:
            open_case(invitation.user_id, invitation.email, source="score", response=response,
                      subject=f"Scored {score} out of 10", body=comment)
    signals.send_after_commit(signals.response_recorded, response=response, first=first)
    return response, first


def open_invitation(user_id: str) -> NpsInvitation | None:
    """The person's newest unanswered, unexpired invitation (what the in-app question answers), or
    ``None``; none while they are unsubscribed."""
    if is_unsubscribed(user_id):
        return None
    invitation = get_session().scalar(
        select(NpsInvitation)
        .where(NpsInvitation.user_id == str(user_id), NpsInvitation.state == "sent")
        .order_by(NpsInvitation.created_at.desc())
        .limit(1)
    )
    if invitation is None or invitation_expired(invitation):
        return None
    return invitation


# -- cases -----------------------------------------------------------------------------------------------------


def _event(case: NpsCase, kind: str, *, author_user_id=None, author_name=None, body=None,
           from_status=None, to_status=None) -> NpsCaseEvent:
    event = NpsCaseEvent(case_id=case.id, kind=kind, author_user_id=author_user_id, author_name=author_name,
                         body=body, from_status=from_status, to_status=to_status, created_at=utcnow())
    get_session().add(event)
    case.updated_at = event.created_at
    get_session().flush()
    return event


def open_case(user_id: str, email: str | None, *, source: str, subject: str, body: str | None = None,
              response: NpsResponse | None = None) -> NpsCase:
    """Open a follow-up case (flushed), due ``NPS_CASE_DUE_HOURS`` later; the customer is emailed a
    signed link to it.

    :raises NpsError: on an empty or oversized request.
    """
    subject = (subject or "").strip()[:SUBJECT_MAX_LENGTH]
    if not subject:
        raise NpsError("Say in a few words what the problem is.")
    body = check_text(body, what="Your message")
    now = utcnow()
    case = NpsCase(
        user_id=str(user_id), email=email, source=source, response_id=response.id if response else None,
        score=response.score if response else None, subject=subject, status="open",
        due_at=now + timedelta(hours=config_value("NPS_CASE_DUE_HOURS")), opened_at=now, updated_at=now,
    )
    session = get_session()
    session.add(case)
    session.flush()
    _event(case, "opened", author_user_id=str(user_id), body=body, to_status="open")
    _queue_case_mail(case, "opened")
    signals.send_after_commit(signals.case_opened, case=case)
    return case


def _staff_change(case: NpsCase, staff: Any, action: str, before: dict, after: dict, reason=None) -> None:
    audit.record_action(staff, action, "nps_case", case.id, before=before, after=after, reason=reason)
    signals.send_after_commit(signals.case_updated, case=case, action=action)


def assign(case: NpsCase, owner_user_id: str, owner_email: str | None, owner_first_name: str | None,
           staff: Any) -> None:
    """Make a staff member the case's owner (the customer sees their first name)."""
    before = {"owner": case.owner_user_id}
    case.owner_user_id = str(owner_user_id)
    case.owner_email = owner_email
    case.owner_first_name = (owner_first_name or "").strip()[:80] or None
    _event(case, "assigned", author_user_id=str(staff.id), author_name=case.owner_first_name,
           body=f"{case.owner_first_name or 'A team member'} is looking after this.")
    _staff_change(case, staff, "nps.case.assign", before, {"owner": case.owner_user_id})


def set_due(case: NpsCase, due_at: datetime, staff: Any) -> None:
    before = {"due_at": case.due_at.isoformat()}
    case.due_at = due_at
    _event(case, "due", author_user_id=str(staff.id), body=f"Due {due_at:%Y-%m-%d %H:%M} UTC")
    _staff_change(case, staff, "nps.case.due", before, {"due_at": due_at.isoformat()})


def root_cause_choices() -> list[NpsRootCause]:
    """The shop's active root causes, the defaults (``NPS_DEFAULT_ROOT_CAUSES``) written on first use."""
    session = get_session()
    if session.scalar(select(NpsRootCause.id).limit(1)) is None:
        for label in config_value("NPS_DEFAULT_ROOT_CAUSES"):
            session.add(NpsRootCause(label=str(label)[:80]))
        session.flush()
    return list(session.scalars(
        select(NpsRootCause).where(NpsRootCause.active.is_(True)).order_by(NpsRootCause.label)
    ))


def add_root_cause(label: str, staff: Any) -> NpsRootCause:
    """:raises NpsError: on an empty, too long or existing label."""
    label = (label or "").strip()
    if not label or len(label) > 80:
        raise NpsError("A root cause is 1 to 80 characters.")
    session = get_session()
    existing = session.scalar(select(NpsRootCause).where(NpsRootCause.label == label))
    if existing is not None:
        if existing.active:
            raise NpsError(f"“{label}” is on the list already.")
        existing.active = True
        cause = existing
    else:
        cause = NpsRootCause(label=label)
        session.add(cause)
    session.flush()
    audit.record_action(staff, "nps.root_cause.add", "nps_root_cause", cause.id, after={"label": label})
    return cause


def retire_root_cause(cause: NpsRootCause, staff: Any) -> None:
    cause.active = False
    get_session().flush()
    audit.record_action(staff, "nps.root_cause.retire", "nps_root_cause", cause.id, before={"label": cause.label})


def set_status(case: NpsCase, status: str, staff: Any, *, root_cause_id: int | None = None,
               root_cause_text: str | None = None) -> None:
    """Move a case to ``status``; the customer is emailed. Resolving needs a root cause (one of the
    list, or free text) and schedules the re-survey.

    :raises NpsError: on an unknown status, or resolving without a root cause.
    """
    if status not in CASE_STATUSES:
        raise NpsError("Choose a status from the list.")
    if status == case.status:
        raise NpsError(f"The case is {STATUS_LABELS[status].lower()} already.")
    text = check_text(root_cause_text, what="The root cause")
    cause = get_session().get(NpsRootCause, root_cause_id) if root_cause_id else None
    if status == "resolved" and cause is None and not text:
        raise NpsError("Choose a root cause (or describe it) to resolve the case.")
    before = {"status": case.status}
    previous = case.status
    now = utcnow()
    case.status = status
    if status == "resolved":
        case.root_cause_id = cause.id if cause else None
        case.root_cause_text = text
        case.resolved_at = now
    elif status == "closed":
        case.closed_at = now
    else:
        case.resolved_at = None
        case.closed_at = None
    _event(case, "status", author_user_id=str(staff.id) if staff else None, from_status=previous,
           to_status=status)
    after = {"status": status}
    if status == "resolved":
        after["root_cause"] = cause.label if cause else None
        after["root_cause_text"] = text
    _staff_change(case, staff, "nps.case.status", before, after)
    _queue_case_mail(case, "status")
    if status == "resolved":
        signals.send_after_commit(signals.case_resolved, case=case)
        days = config_value("NPS_RESURVEY_DAYS")
        if days is not None:
            at = max(now + timedelta(days=days), next_allowed_at(case.user_id))
            schedule_survey(case.user_id, case.email, "resurvey", at=at, case_id=case.id)


def post_message(case: NpsCase, body: str, staff: Any, author_first_name: str | None) -> NpsCaseEvent:
    """A message from staff to the customer (emailed to them).

    :raises NpsError: on an empty or oversized message.
    """
    body = check_text(body, required=True, what="The message")
    event = _event(case, "staff_message", author_user_id=str(staff.id), author_name=author_first_name, body=body)
    _staff_change(case, staff, "nps.case.message", {}, {"event": event.id})
    _queue_case_mail(case, "message", message=body, author=author_first_name)
    return event


def add_note(case: NpsCase, body: str, staff: Any, author_first_name: str | None) -> NpsCaseEvent:
    """An internal note (staff only, never shown or emailed to the customer)."""
    body = check_text(body, required=True, what="The note")
    event = _event(case, "note", author_user_id=str(staff.id), author_name=author_first_name, body=body)
    audit.record_action(staff, "nps.case.note", "nps_case", case.id, after={"event": event.id})
    return event


def customer_reply(case: NpsCase, body: str) -> NpsCaseEvent:
    """The customer's reply; a case waiting on them goes back to in progress.

    :raises NpsError: on an empty or oversized reply, or a closed case.
    """
    body = check_text(body, required=True, what="Your reply")
    if case.status == "closed":
        raise NpsError("This case is closed. Open a new request if something is still wrong.")
    event = _event(case, "customer_message", author_user_id=case.user_id, body=body)
    if case.status in ("waiting_on_customer", "resolved"):
        previous = case.status
        case.status = "in_progress"
        case.resolved_at = None
        _event(case, "status", author_user_id=case.user_id, from_status=previous, to_status="in_progress")
    signals.send_after_commit(signals.case_updated, case=case, action="nps.case.reply")
    return event


def bulk_close(cases: Iterable[NpsCase], staff: Any) -> int:
    """Close every case given that is not closed yet; returns how many."""
    closed = 0
    for case in cases:
        if case.status != "closed":
            set_status(case, "closed", staff)
            closed += 1
    return closed


def _queue_case_mail(case: NpsCase, what: str, *, message: str | None = None, author: str | None = None) -> None:
    if not case.email:
        return
    context = {
        "case": case, "what": what, "message": message, "author": author,
        "status_label": STATUS_LABELS[case.status], "shop": shop_name(),
        "case_url": _external("advocacy_nps.case_by_link", token=case_token(case)),
        "program_name": config_value("PROGRAM_NAME"),
    }
    mail.queue(
        f"nps.case.{what}", case.email,
        config_value("MAIL_NPS_CASE_SUBJECT").replace("{case}", str(case.id)),
        config_value("MAIL_NPS_CASE_TEXT_TEMPLATE"), config_value("MAIL_NPS_CASE_HTML_TEMPLATE"),
        context, subject_type="nps_case", subject_id=case.id,
    )
