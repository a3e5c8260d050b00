"""The advocacy loop's services: throttled asks across channels, signed score links, answers,
detractor cases to resolution with a root cause, the re-survey, the NPS figure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import Customer
from advocacy_portal import signals
from advocacy_portal.db import get_session
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsCaseEvent
from advocacy_portal.models import NpsInvitation
from advocacy_portal.models import NpsResponse
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import utcnow
from advocacy_portal.services import nps
from advocacy_portal.services import nps_queries

STAFF = Customer(id="900", email="sam.staff@shop.test")


def mails(topic_prefix: str = "nps.") -> list[dict]:
    rows = get_session().scalars(select(OutboxTask).where(OutboxTask.topic == "email").order_by(OutboxTask.id)).all()
    return [row.payload for row in rows if row.payload["kind"].startswith(topic_prefix)]


def age(invitation: NpsInvitation, **delta) -> None:
    invitation.created_at = invitation.created_at - timedelta(**delta)
    get_session().flush()


def test_throttling_counts_every_channel_and_skipped_asks_are_logged_not_queued(app_ctx):
    first = nps.send_survey("1", "one@example.com", channel="in_app")
    assert first.state == "sent" and mails() == []
    again = nps.send_survey("1", "one@example.com", channel="email")
    assert (again.state, again.skip_reason) == ("skipped", "throttled_24h")
    age(first, hours=25)
    later = nps.send_survey("1", "one@example.com", channel="email")
    assert (later.state, later.skip_reason) == ("skipped", "throttled")
    age(first, days=90)
    assert nps.send_survey("1", "one@example.com", channel="email").state == "sent"
    assert len(mails("nps.survey")) == 1
    log = nps_queries.invitation_log(user_id="1")
    assert [invitation.state for invitation, _ in log] == ["sent", "skipped", "skipped", "sent"]
    # A skipped ask is logged, never queued as a task for later.
    assert get_session().scalar(select(func.count()).select_from(OutboxTask).where(
        OutboxTask.topic == nps.AUTO_TOPIC)) == 0


@pytest.mark.settings(NPS_THROTTLE_DAYS=0)
def test_never_twice_within_24_hours_even_without_throttle_days(app_ctx):
    assert nps.send_survey("2", "two@example.com").state == "sent"
    assert nps.send_survey("2", "two@example.com").skip_reason == "throttled_24h"


def test_unsubscribe_is_honoured_at_once_and_hides_the_open_question(app_ctx):
    invitation = nps.send_survey("3", "three@example.com")
    assert nps.open_invitation("3") is invitation
    user_id, email = nps.read_unsubscribe_token(nps.unsubscribe_token("3", "three@example.com"))
    assert nps.unsubscribe(user_id, email) is True
    assert nps.open_invitation("3") is None
    age(invitation, days=400)
    assert nps.send_survey("3", "three@example.com").skip_reason == "unsubscribed"
    assert nps.send_survey("4", None).skip_reason == "no_email"


def test_survey_email_has_eleven_signed_score_links_and_an_unsubscribe_link(app_ctx):
    nps.send_survey("5", "five@example.com")
    [payload] = mails("nps.survey")
    assert "How likely are you to recommend shop.test to a friend?" in payload["text"]
    assert payload["html"].count("/advocacy/nps/s/") == 11
    assert payload["text"].count("/advocacy/nps/s/") == 11
    assert "/advocacy/nps/unsubscribe/" in payload["text"] and "/advocacy/nps/unsubscribe/" in payload["html"]


def test_score_tokens_are_signed_with_their_own_salt_and_expire(app, app_ctx):
    invitation = nps.send_survey("6", "six@example.com")
    token = nps.score_token(invitation, 7)
    assert nps.read_score_token(token) == (invitation, 7)
    with pytest.raises(nps.LinkError) as tampered:
        nps.read_score_token(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])
    assert tampered.value.kind == "tampered"
    # The same payload signed with another salt (a session, another link type) does not pass.
    other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="advocacy.referral-link").dumps(
        {"i": invitation.id, "s": 7})
    with pytest.raises(nps.LinkError):
        nps.read_score_token(other)
    forged = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="advocacy.nps-score").dumps(
        {"i": invitation.id, "s": 11})
    with pytest.raises(nps.LinkError) as out_of_range:
        nps.read_score_token(forged)
    assert out_of_range.value.kind == "tampered"
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(nps.LinkError) as expired:
        nps.read_score_token(token)
    assert expired.value.kind == "expired"


def test_an_answer_is_recorded_once_and_a_second_answer_updates_it_and_is_logged(app_ctx):
    invitation = nps.send_survey("7", "seven@example.com")
    response, first = nps.record_answer(invitation, 8, "Good", "email")
    assert first and invitation.state == "answered" and nps.open_invitation("7") is None
    again, first_again = nps.record_answer(invitation, 10, "Great now", "in_app")
    assert not first_again and again.id == response.id
    assert (again.score, again.comment, again.changes) == (10, "Great now", 1)
    assert get_session().scalar(select(func.count()).select_from(NpsResponse)) == 1
    change = get_session().scalar(select(AuditEntry).where(AuditEntry.action == "nps.answer.change"))
    assert change.before["score"] == 8 and change.after["score"] == 10


def test_bad_scores_and_oversized_comments_change_nothing(app, app_ctx):
    invitation = nps.send_survey("8", "eight@example.com")
    for bad in (-1, 11, "5", 5.0, True, None):
        with pytest.raises(nps.NpsError):
            nps.record_answer(invitation, bad, None, "email")
    with pytest.raises(nps.NpsError, match="the most is 2000"):
        nps.record_answer(invitation, 5, "x" * 2001, "email")
    assert invitation.state == "sent"
    assert get_session().scalar(select(func.count()).select_from(NpsResponse)) == 0
    assert get_session().scalar(select(func.count()).select_from(NpsCase)) == 0


def test_an_expired_invitation_takes_no_answer(app_ctx):
    invitation = nps.send_survey("9", "nine@example.com")
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(nps.LinkError):
        nps.record_answer(invitation, 9, None, "email")


def test_a_detractor_opens_one_case_due_after_48_hours_and_the_customer_is_emailed(app_ctx):
    invitation = nps.send_survey("10", "ten@example.com")
    response, _ = nps.record_answer(invitation, 3, "Late delivery", "email")
    nps.record_answer(invitation, 2, "Very late delivery", "email")
    [case] = get_session().scalars(select(NpsCase)).all()
    assert (case.status, case.score, case.source, case.response_id) == ("open", 3, "score", response.id)
    assert timedelta(hours=47, minutes=59) < case.due_at - case.opened_at <= timedelta(hours=48)
    [opened] = mails("nps.case.opened")
    assert opened["to"] == "ten@example.com" and "/advocacy/nps/case/" in opened["text"]
    passive = nps.send_survey("11", "eleven@example.com")
    nps.record_answer(passive, 7, None, "email")
    assert get_session().scalar(select(func.count()).select_from(NpsCase)) == 1


@pytest.mark.settings(NPS_DETRACTOR_THRESHOLD=8)
def test_the_detractor_threshold_is_a_setting(app_ctx):
    nps.record_answer(nps.send_survey("12", "x@example.com"), 8, None, "email")
    assert get_session().scalar(select(func.count()).select_from(NpsCase)) == 1


def test_a_case_is_owned_worked_and_resolved_only_with_a_root_cause(app_ctx):
    received = []

    def listen(sender, **extra):
        received.append(sorted(extra))

    signals.case_resolved.connect(listen)
    try:
        case = nps.open_case("13", "thirteen@example.com", source="request", subject="Broken zip",
                             body="The zip on my bag broke")
        nps.assign(case, STAFF.id, STAFF.email, "Sam", STAFF)
        nps.set_status(case, "in_progress", STAFF)
        nps.post_message(case, "Sorry! A new bag is on its way.", STAFF, "Sam")
        nps.add_note(case, "Supplier batch 42 again", STAFF, "Sam")
        nps.set_status(case, "waiting_on_customer", STAFF)
        nps.customer_reply(case, "Thanks, it arrived")
        assert case.status == "in_progress"
        with pytest.raises(nps.NpsError, match="root cause"):
            nps.set_status(case, "resolved", STAFF)
        cause = [c for c in nps.root_cause_choices() if c.label == "Product defect"][0]
        nps.set_status(case, "resolved", STAFF, root_cause_id=cause.id)
        get_session().commit()
    finally:
        signals.case_resolved.disconnect(listen)
    assert case.status == "resolved" and case.root_cause_id == cause.id and received == [["case"]]
    customer_view = [event.kind for event in nps_queries.timeline(case, for_customer=True)]
    assert "note" not in customer_view and customer_view.count("customer_message") == 1
    assert "note" in [event.kind for event in nps_queries.timeline(case, for_customer=False)]
    # Each status change and message emailed the customer (not the note, not the assignment).
    kinds = [payload["kind"] for payload in mails("nps.case")]
    assert kinds == ["nps.case.opened", "nps.case.status", "nps.case.message", "nps.case.status",
                     "nps.case.status"]
    actions = [entry.action for entry in get_session().scalars(
        select(AuditEntry).where(AuditEntry.subject_type == "nps_case").order_by(AuditEntry.id))]
    assert actions == ["nps.case.assign", "nps.case.status", "nps.case.message", "nps.case.note",
                       "nps.case.status", "nps.case.status"]
    table = nps_queries.cases_per_root_cause()
    assert table.rows[0][0] == "Product defect" and table.rows[0][2] == 1


def test_the_resurvey_after_resolution_waits_for_throttling(app_ctx):
    invitation = nps.send_survey("14", "fourteen@example.com")
    nps.record_answer(invitation, 2, "Bad", "email")
    case = get_session().scalar(select(NpsCase))
    nps.set_status(case, "resolved", STAFF, root_cause_text="Courier lost the parcel")
    task = get_session().scalar(select(OutboxTask).where(OutboxTask.topic == nps.AUTO_TOPIC))
    assert task.payload == {"user_id": "14", "email": "fourteen@example.com", "reason": "resurvey",
                            "case_id": case.id}
    # Not before the throttle period since the first ask has passed (90 days), though 14 days were set.
    assert task.next_attempt_at >= invitation.created_at + timedelta(days=89, hours=23)
    # Run it as the relay would, once due: a fresh ask, tied to the case.
    age(invitation, days=91)
    nps.run_scheduled_survey(type("T", (), {"payload": task.payload})())
    asked_again = nps_queries.resurvey_of(case)
    assert asked_again[0].state == "sent" and asked_again[0].reason == "resurvey"


def test_bulk_close_closes_open_cases_and_counts_overdue(app_ctx):
    cases = [nps.open_case(str(20 + n), None, source="request", subject=f"Problem {n}") for n in range(3)]
    cases[0].due_at = utcnow() - timedelta(hours=1)
    get_session().flush()
    assert nps_queries.overdue_count() == 1
    queue = nps_queries.case_queue(nps_queries.CaseFilters())
    assert queue[0] is cases[0]
    assert nps.bulk_close(cases[:2], STAFF) == 2
    assert nps_queries.overdue_count() == 0
    assert [c.status for c in cases] == ["closed", "closed", "open"]
    with pytest.raises(nps.NpsError):
        nps.customer_reply(cases[0], "Hello?")


def test_the_nps_figure_response_rate_distribution_and_segments(app_ctx):
    from advocacy_portal.services import referrals

    referrals.ensure_advocate("31", "a@example.com")
    scores = {"31": 10, "32": 9, "33": 8, "34": 5, "35": 0}
    for user_id, score in scores.items():
        nps.record_answer(nps.send_survey(user_id, f"u{user_id}@example.com"), score, f"because {score}", "email")
    nps.send_survey("36", "u36@example.com")  # asked, not answered
    start, end = nps_queries.default_period()
    figures = nps_queries.figures(start, end, "month")
    # 2 promoters, 1 passive, 2 detractors of 5: (2 - 2) / 5 = 0.
    assert (figures.summary.promoters, figures.summary.passives, figures.summary.detractors) == (2, 1, 2)
    assert figures.summary.score == 0
    assert figures.asked == 6 and figures.answered == 5 and figures.response_rate == 83
    assert dict(figures.distribution)[10] == 1 and dict(figures.distribution)[0] == 1
    segments = {key: summary for key, _name, summary in figures.segments}
    assert segments["advocate"].total == 1 and segments["advocate"].score == 100
    assert segments["not_advocate"].total == 4
    assert figures.trend[-1][1].total == 5
    assert [r.score for r in nps_queries.comments(start, end, kind="detractor")] == [0, 5]
    assert [r.score for r in nps_queries.comments(start, end, search="BECAUSE 8")] == [8]
    csv_text = nps_queries.export_csv(start, end)
    assert csv_text.splitlines()[0].startswith("answered_at,user_id,email,score,category")
    assert len(csv_text.splitlines()) == 6


def test_the_nps_of_promoters_minus_detractors_rounds_and_is_none_without_answers():
    assert nps_queries.summarize([]).score is None
    assert nps_queries.summarize([10, 10, 7]).score == 67
    assert nps_queries.summarize([0, 6, 9]).score == -33


@pytest.mark.settings(NPS_AUTO_SEND="first_payment", NPS_AUTO_SEND_DAYS=3)
def test_automatic_send_after_a_friends_first_payment_is_a_delayed_task(app_ctx):
    from types import SimpleNamespace

    referral = SimpleNamespace(friend_user_id="40", friend_email_normalized="friend@example.com")
    nps.after_payment(SimpleNamespace(customer_user_id="40"), referral, first_friend_payment=True)
    nps.after_payment(SimpleNamespace(customer_user_id="40"), referral, first_friend_payment=False)
    nps.after_payment(SimpleNamespace(customer_user_id="41"), None, first_friend_payment=False)
    [task] = get_session().scalars(select(OutboxTask).where(OutboxTask.topic == nps.AUTO_TOPIC)).all()
    assert task.payload["reason"] == "first_payment" and task.payload["user_id"] == "40"
    assert timedelta(days=2, hours=23) < task.next_attempt_at - utcnow() <= timedelta(days=3)


@pytest.mark.settings(NPS_AUTO_SEND="any_payment")
def test_automatic_send_after_any_payment(app_ctx):
    from types import SimpleNamespace

    nps.after_payment(SimpleNamespace(customer_user_id="42"), None, first_friend_payment=False)
    [task] = get_session().scalars(select(OutboxTask).where(OutboxTask.topic == nps.AUTO_TOPIC)).all()
    assert task.payload["reason"] == "payment"


def test_recipient_lists_read_ids_emails_and_id_email_pairs(app_ctx):
    from advocacy_portal.services import referrals

    referrals.ensure_advocate("50", "fifty@example.com")
    found, unknown = nps.parse_recipients("email\nfifty@example.com\n51,fiftyone@example.com\nnobody@example.com\n")
    assert found == [("50", "fifty@example.com"), ("51", "fiftyone@example.com")]
    assert unknown == ["nobody@example.com"]
    report = nps.send_to_list(found + found, staff=STAFF)
    assert (report.sent, report.skipped) == (2, 0)


def test_case_tokens_name_one_customers_case(app, app_ctx):
    case = nps.open_case("60", "sixty@example.com", source="request", subject="Help")
    assert nps.read_case_token(nps.case_token(case)) is case
    forged = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="advocacy.nps-case").dumps({"c": case.id, "u": "61"})
    with pytest.raises(nps.LinkError) as wrong_owner:
        nps.read_case_token(forged)
    assert wrong_owner.value.kind == "unknown"
    assert nps_queries.customer_case(case.id, "61") is None
    assert nps_queries.customer_case(case.id, "60") is case
