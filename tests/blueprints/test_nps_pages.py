"""The customer's NPS and case pages: confirm-only score links, friendly pages for bad links, the
in-app question, "Get help", a case read and answered through its signed link, and access control."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.models import AuditEntry
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsCaseEvent
from advocacy_portal.models import NpsInvitation
from advocacy_portal.models import NpsResponse
from advocacy_portal.models import NpsUnsubscribe
from tests.helpers import CSRF_FIELD
from tests.helpers import csrf_token
from tests.helpers import make_customer
from tests.nps_support import CASE_LINK
from tests.nps_support import SCORE_LINK
from tests.nps_support import case_path
from tests.nps_support import emails
from tests.nps_support import invite
from tests.nps_support import open_case
from tests.nps_support import rows
from tests.nps_support import score_path


#: The in-app question's token field (its form has the prefix ``nps``).
IN_APP_CSRF_FIELD = re.compile(r'name="nps-csrf_token" type="hidden" value="([^"]+)"')


def confirm(client, path: str, score, comment: str = ""):
    token = CSRF_FIELD.search(client.get(path).get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf_token": token, "score": score, "comment": comment})


def test_opening_a_score_link_records_nothing_until_the_person_confirms(app, client):
    customer = make_customer(app)
    invitation_id = invite(app, customer)
    [mail] = emails(app, "nps.survey")
    links = SCORE_LINK.findall(mail["text"])
    assert len(links) == 11
    page = client.get(links[9])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<input checked class="advocacy-nps-scale__input" id="score-9"' in html
    assert "nothing is recorded until you do" in html
    assert rows(app, NpsResponse) == []  # a mail scanner following all eleven links records nothing
    for link in links:
        client.get(link)
    assert rows(app, NpsResponse) == []
    answer = confirm(client, links[9], 9, "Fast and friendly")
    assert answer.status_code == 303 and "/advocacy/nps/thanks/" in answer.headers["Location"]
    [response] = rows(app, NpsResponse)
    assert (response["score"], response["comment"], response["invitation_id"]) == (9, "Fast and friendly", invitation_id)


def test_the_confirm_needs_csrf_and_an_expired_page_keeps_the_answer(app, client):
    """Without a valid token nothing is recorded, but the page comes back with the score and the
    reason typed, and a fresh token that works."""
    customer = make_customer(app)
    path = score_path(app, invite(app, customer), 5)
    reason = "Delivery was slow twice & the <b>tracking</b> page never loaded. " * 10
    answer = client.post(path, data={"score": 4, "comment": reason})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "This page had expired, so your answer was not sent yet. We kept it" in page
    assert reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").strip() in page
    assert re.search(r'<input checked[^>]*value="4"', page)
    assert rows(app, NpsResponse) == []
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    again = client.post(path, data={"score": 4, "comment": reason, "csrf_token": fresh})
    assert again.status_code == 303
    assert [(row["score"], row["comment"]) for row in rows(app, NpsResponse)] == [(4, reason.strip())]


@pytest.mark.settings(NPS_RECORD_ON_CLICK=True)
def test_record_on_click_is_a_setting(app, client):
    customer = make_customer(app)
    answer = client.get(score_path(app, invite(app, customer), 10))
    assert answer.status_code == 303
    assert [row["score"] for row in rows(app, NpsResponse)] == [10]


def test_a_promoter_is_thanked_invited_to_write_a_testimonial_and_given_their_referral_link(app, client):
    customer = make_customer(app)
    path = score_path(app, invite(app, customer), 10)
    thanks = client.get(confirm(client, path, 10).headers["Location"])
    html = thanks.get_data(as_text=True)
    assert thanks.status_code == 200
    assert "Write a testimonial" in html and "/advocacy/testimonials/new?source=nps" in html
    assert "Your referral link" in html and "/r/" in html


@pytest.mark.parametrize("score", [0, 6, 7, 8])
def test_everyone_is_invited_to_write_a_testimonial_whatever_the_score_without_the_referral_link(app, client, score):
    customer = make_customer(app)
    path = score_path(app, invite(app, customer), score)
    html = client.get(confirm(client, path, score).headers["Location"]).get_data(as_text=True)
    assert "Write a testimonial" in html and "good or bad" in html
    assert "Your referral link" not in html
    assert ("We want to put this right" in html) == (score <= 6)


@pytest.mark.parametrize("score", ["11", "-1", "ten", "5.5", ""])
def test_a_score_outside_0_to_10_is_refused_and_nothing_is_recorded(app, client, score):
    customer = make_customer(app)
    path = score_path(app, invite(app, customer), 5)
    answer = confirm(client, path, score)
    assert answer.status_code == 400
    assert "Choose a score from 0 to 10." in answer.get_data(as_text=True)
    assert rows(app, NpsResponse) == []


def test_an_oversized_comment_is_refused_with_a_clear_error(app, client):
    customer = make_customer(app)
    path = score_path(app, invite(app, customer), 5)
    answer = confirm(client, path, 5, "x" * 2001)
    assert answer.status_code == 400 and "the most is 2000" in answer.get_data(as_text=True)
    assert rows(app, NpsResponse) == [] and rows(app, NpsCase) == []


def test_tampered_expired_and_reused_links_get_a_friendly_page(app, client):
    from datetime import timedelta

    from advocacy_portal.db import get_session
    from advocacy_portal.models import utcnow

    customer = make_customer(app)
    invitation_id = invite(app, customer)
    path = score_path(app, invitation_id, 8)
    tampered = client.get(path[:-3] + "abc")
    assert tampered.status_code == 400 and "not complete or was changed" in tampered.get_data(as_text=True)
    assert client.get("/advocacy/nps/s/not-a-token").status_code == 400
    # Reused: the second answer updates the first (logged), never a second row.
    confirm(client, path, 8)
    reused = client.get(path)
    assert reused.status_code == 200 and "You answered 8" in reused.get_data(as_text=True)
    confirm(client, path, 4, "Changed my mind")
    [response] = rows(app, NpsResponse)
    assert (response["score"], response["changes"]) == (4, 1)
    assert [row["action"] for row in rows(app, AuditEntry) if row["action"].startswith("nps.answer")] == [
        "nps.answer", "nps.answer.change"]
    with app.app_context():
        invitation = get_session().get(NpsInvitation, invitation_id)
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        get_session().commit()
    token = CSRF_FIELD.search(
        client.get(score_path(app, invite(app, make_customer(app)), 1)).get_data(as_text=True)).group(1)
    expired = client.get(path)
    assert expired.status_code == 410 and "has expired" in expired.get_data(as_text=True)
    late = client.post(path, data={"score": 9, "csrf_token": token})
    assert late.status_code == 410
    assert [row["score"] for row in rows(app, NpsResponse)] == [4]


def test_the_in_app_question_shows_while_an_invitation_is_open_and_answering_closes_the_emailed_one(app, client, auth):
    customer = make_customer(app)
    auth.login(customer)
    assert "advocacy-nps-prompt" not in client.get("/advocacy/").get_data(as_text=True)
    invitation_id = invite(app, customer)
    page = client.get("/advocacy/")
    html = page.get_data(as_text=True)
    assert "advocacy-nps-prompt" in html and "How likely are you to recommend" in html
    assert "advocacy-nps.css" in html
    token = IN_APP_CSRF_FIELD.search(html).group(1)
    answer = client.post("/advocacy/nps/answer", data={"nps-csrf_token": token, "nps-score": "7", "nps-comment": "ok"})
    assert answer.status_code == 303
    [response] = rows(app, NpsResponse)
    assert (response["score"], response["channel"], response["invitation_id"]) == (7, "in_app", invitation_id)
    assert rows(app, NpsInvitation)[0]["state"] == "answered"
    assert "advocacy-nps-prompt" not in client.get("/advocacy/").get_data(as_text=True)
    # The emailed link now says it was answered (and changing it updates the same answer).
    emailed = client.get(score_path(app, invitation_id, 9)).get_data(as_text=True)
    assert "You answered 7" in emailed


def test_the_in_app_question_on_an_expired_page_keeps_the_score_and_reason(app, client, auth):
    """An in-app answer sent with an expired token: nothing recorded, no bare 400 page, but the question
    again with the score and the typed reason and a fresh token; sending it records an in-app answer."""
    customer = make_customer(app)
    auth.login(customer)
    invitation_id = invite(app, customer)
    reason = "The app logs me out & the <i>basket</i> empties every time. " * 8
    answer = client.post("/advocacy/nps/answer", data={"nps-score": "3", "nps-comment": reason})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "This page had expired, so your answer was not sent yet. We kept it" in page
    assert reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").strip() in page
    assert re.search(r'<input checked[^>]*id="nps-score-3"', page)
    assert 'action="/advocacy/nps/answer"' in page
    assert page.count('id="nps-score-3"') == 1  # the page is the question: no second prompt on it
    assert rows(app, NpsResponse) == []
    fresh = IN_APP_CSRF_FIELD.search(page).group(1)
    again = client.post("/advocacy/nps/answer", data={"nps-csrf_token": fresh, "nps-score": "3", "nps-comment": reason})
    assert again.status_code == 303
    [response] = rows(app, NpsResponse)
    assert (response["score"], response["comment"], response["channel"], response["invitation_id"]) == (
        3, reason.strip(), "in_app", invitation_id)


def test_the_in_app_question_without_a_score_asks_for_one_and_keeps_the_reason(app, client, auth):
    customer = make_customer(app)
    auth.login(customer)
    invite(app, customer)
    token = IN_APP_CSRF_FIELD.search(client.get("/advocacy/").get_data(as_text=True)).group(1)
    answer = client.post("/advocacy/nps/answer", data={"nps-csrf_token": token, "nps-comment": "Too slow"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "Choose a score from 0 to 10." in page and "Too slow</textarea>" in page
    assert rows(app, NpsResponse) == []


def test_the_in_app_answer_without_an_open_invitation_is_refused(app, client, auth):
    customer = make_customer(app)
    auth.login(customer)
    token = csrf_token(client, "/advocacy/nps/help")
    answer = client.post("/advocacy/nps/answer", data={"csrf_token": token, "nps-score": "7"})
    assert answer.status_code == 404 and rows(app, NpsResponse) == []


def test_unsubscribe_asks_to_confirm_and_is_honoured_at_once(app, client, auth):
    customer = make_customer(app)
    invite(app, customer)
    [mail] = emails(app, "nps.survey")
    path = "/advocacy/nps/unsubscribe/" + mail["text"].rsplit("/advocacy/nps/unsubscribe/", 1)[1].split()[0]
    page = client.get(path)
    assert page.status_code == 200 and rows(app, NpsUnsubscribe) == []
    token = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    done = client.post(path, data={"csrf_token": token})
    assert "You are unsubscribed" in done.get_data(as_text=True)
    assert len(rows(app, NpsUnsubscribe)) == 1
    auth.login(customer)
    assert "advocacy-nps-prompt" not in client.get("/advocacy/").get_data(as_text=True)
    assert client.get(path[:-2] + "xx").status_code == 400


def test_get_help_opens_a_case_the_customer_follows_and_answers(app, client, auth):
    customer = make_customer(app)
    auth.login(customer)
    token = csrf_token(client, "/advocacy/nps/help")
    opened = client.post("/advocacy/nps/help", data={"csrf_token": token, "subject": "Wrong size sent",
                                                    "body": "I ordered M and got XL"})
    assert opened.status_code == 303
    [case] = rows(app, NpsCase)
    assert (case["source"], case["status"], case["subject"]) == ("request", "open", "Wrong size sent")
    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "Wrong size sent" in page and "I ordered M and got XL" in page
    assert "#%d" % case["id"] in client.get("/advocacy/nps/help").get_data(as_text=True)
    token = CSRF_FIELD.search(page).group(1)
    reply = client.post(f"/advocacy/nps/cases/{case['id']}/reply", data={"csrf_token": token, "body": "Any news?"})
    assert reply.status_code == 303
    assert [event["kind"] for event in rows(app, NpsCaseEvent)] == ["opened", "customer_message"]


def test_a_customer_reads_and_replies_to_their_case_through_the_signed_link_without_signing_in(app, client):
    from advocacy_portal.db import get_session
    from advocacy_portal.services import nps

    customer = make_customer(app)
    case_id = open_case(app, customer)
    with app.app_context():
        case = get_session().get(NpsCase, case_id)
        nps.assign(case, "900", "sam@shop.test", "Sam", nps_staff())
        nps.post_message(case, "We are tracing your parcel.", nps_staff(), "Sam")
        nps.add_note(case, "Courier is XYZ, internal", nps_staff(), "Sam")
        nps.set_status(case, "waiting_on_customer", nps_staff())
        get_session().commit()
    case_mails = emails(app, "nps.case")
    assert [mail["kind"] for mail in case_mails] == ["nps.case.opened", "nps.case.message", "nps.case.status"]
    links = [path for mail in case_mails for path in CASE_LINK.findall(mail["text"])]
    assert len(links) == 3  # a signed link in every case email
    link = links[-1]
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Waiting on you" in html and "Sam" in html and "We are tracing your parcel." in html
    assert "Courier is XYZ" not in html  # internal notes never reach the customer
    token = CSRF_FIELD.search(html).group(1)
    reply = client.post(link + "/reply", data={"csrf_token": token, "body": "It's still not here"})
    assert reply.status_code == 303
    assert rows(app, NpsCase)[0]["status"] == "in_progress"
    assert "It&#39;s still not here" in client.get(link).get_data(as_text=True)
    # A tampered link: a friendly page, nothing changed.
    broken = client.post(link[:-2] + "zz/reply", data={"csrf_token": token, "body": "x"})
    assert broken.status_code == 400
    assert [e["kind"] for e in rows(app, NpsCaseEvent)].count("customer_message") == 1


def test_an_oversized_reply_is_refused(app, client):
    customer = make_customer(app)
    link = case_path(app, open_case(app, customer))
    token = CSRF_FIELD.search(client.get(link).get_data(as_text=True)).group(1)
    answer = client.post(link + "/reply", data={"csrf_token": token, "body": "y" * 2001})
    assert answer.status_code == 400 and "the most is 2000" in answer.get_data(as_text=True)
    assert [e["kind"] for e in rows(app, NpsCaseEvent)] == ["opened"]


def test_another_customers_case_id_is_not_found(app, client, auth):
    owner, other = make_customer(app), make_customer(app)
    case_id = open_case(app, owner)
    auth.login(other)
    assert client.get(f"/advocacy/nps/cases/{case_id}").status_code == 404
    token = csrf_token(client, "/advocacy/nps/help")
    assert client.post(f"/advocacy/nps/cases/{case_id}/reply",
                       data={"csrf_token": token, "body": "mine now"}).status_code == 404
    assert [e["kind"] for e in rows(app, NpsCaseEvent)] == ["opened"]


def nps_staff():
    from advocacy_portal import Customer

    return Customer(id="900", email="sam@shop.test")


def test_a_testimonial_written_from_the_thank_you_page_is_labelled_as_collected_via_the_survey(app, client, auth):
    from tests.testimonials_support import form_tokens
    from tests.testimonials_support import stored_testimonials
    from tests.testimonials_support import testimonial_data

    customer = make_customer(app)
    auth.login(customer)
    path = score_path(app, invite(app, customer), 3)
    thanks = client.get(confirm(client, path, 3, "Slow").headers["Location"]).get_data(as_text=True)
    assert "/advocacy/testimonials/new?source=nps" in thanks
    form_page = client.get("/advocacy/testimonials/new?source=nps").get_data(as_text=True)
    assert 'name="source" value="nps"' in form_page
    tokens = form_tokens(client, "/advocacy/testimonials/new?source=nps")
    data = {**tokens, **testimonial_data(rating="2"), "source": "nps"}
    assert client.post("/advocacy/testimonials/new", data=data, content_type="multipart/form-data").status_code == 303
    [row] = stored_testimonials(app)
    assert row["source"] == "nps" and row["rating"] == 2


def test_rejection_reasons_are_limited_to_content_neutral_ones(app):
    from advocacy_portal import Customer
    from advocacy_portal.db import get_session
    from advocacy_portal.services import testimonials as service
    from advocacy_portal.services.testimonial_queries import TestimonialError
    from tests.testimonials_support import make_testimonial
    from tests.testimonials_support import stored_testimonials

    testimonial_id = make_testimonial(app, make_customer(app))
    staff = Customer(id="1", email="s@example.com")
    with app.app_context():
        for sentiment in ("Too negative", "Mentions a competitor", "We disagree"):
            with pytest.raises(TestimonialError, match="content-neutral"):
                service.moderate(testimonial_id, "reject", staff, reason=sentiment)
        get_session().rollback()
    assert stored_testimonials(app)[0]["state"] == "pending"
    with app.app_context():
        service.moderate(testimonial_id, "reject", staff, reason="private_data")
        get_session().commit()
    assert stored_testimonials(app)[0]["rejection_reason"] == "Contains someone's private data"
    assert set(service.REJECTION_REASONS) == {"abusive", "off_topic", "private_data", "fake", "confidential"}
