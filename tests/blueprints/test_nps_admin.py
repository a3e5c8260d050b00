"""The staff's NPS pages: figures and export, the case queue (filters, overdue first, bulk close),
one case (assign, message, note, root cause required to resolve), sending the survey; customers
get a 403 on every staff action; every staff action is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from advocacy_portal.models import AuditEntry
from advocacy_portal.models import NpsCase
from advocacy_portal.models import NpsInvitation
from advocacy_portal.models import NpsRootCause
from advocacy_portal.models import OutboxTask
from tests.helpers import csrf_token
from tests.helpers import make_customer
from tests.nps_support import emails
from tests.nps_support import invite
from tests.nps_support import open_case
from tests.nps_support import rows


def answer(app, customer, score, comment=None):
    from advocacy_portal.db import get_session
    from advocacy_portal.models import NpsInvitation as Invitation
    from advocacy_portal.services import nps

    invitation_id = invite(app, customer)
    with app.app_context():
        nps.record_answer(get_session().get(Invitation, invitation_id), score, comment, "email")
        get_session().commit()


@pytest.fixture
def staff(app, auth):
    user = make_customer(app, "sam.staff@example.com", staff=True, name="Sam Staff")
    auth.login(user)
    return user


def test_the_figures_page_shows_the_score_rate_trend_chart_distribution_segments_and_comments(app, client, staff):
    for score, comment in [(10, "Love it"), (9, None), (3, "Slow delivery")]:
        answer(app, make_customer(app), score, comment)
    invite(app, make_customer(app))
    page = client.get("/advocacy/admin/nps/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-figure="nps">33<' in html  # (2 - 1) / 3
    assert 'data-figure="response-rate">75%<' in html
    assert "<svg" in html and 'class="advocacy-nps-chart__bar' in html and 'data-table="trend"' in html
    assert 'data-score="10"' in html and "Slow delivery" in html and "Love it" in html
    assert 'data-segment="referred"' in html and 'data-segment="testimonial_author"' in html
    detractors = client.get("/advocacy/admin/nps/?kind=detractor").get_data(as_text=True)
    assert "Slow delivery" in detractors and "Love it" not in detractors
    weekly = client.get("/advocacy/admin/nps/?by=week").get_data(as_text=True)
    assert "NPS per week" in weekly
    export = client.get("/advocacy/admin/nps/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert len(export.get_data(as_text=True).strip().splitlines()) == 4


def test_the_case_queue_filters_puts_overdue_first_and_bulk_closes(app, client, staff):
    from advocacy_portal.db import get_session
    from advocacy_portal.models import utcnow

    first, second = make_customer(app), make_customer(app)
    late = open_case(app, first, "Refund missing")
    fresh = open_case(app, second, "Question about sizes")
    with app.app_context():
        get_session().get(NpsCase, late).due_at = utcnow() - timedelta(hours=2)
        get_session().get(NpsCase, fresh).due_at = utcnow() + timedelta(hours=1)
        get_session().commit()
    page = client.get("/advocacy/admin/nps/cases").get_data(as_text=True)
    assert page.index(f'data-case="{late}"') < page.index(f'data-case="{fresh}"')
    assert 'data-figure="overdue">1<' in page
    assert "1 follow-up case overdue" in client.get("/advocacy/admin/").get_data(as_text=True)
    overdue = client.get("/advocacy/admin/nps/cases?due=overdue").get_data(as_text=True)
    assert f'data-case="{late}"' in overdue and f'data-case="{fresh}"' not in overdue
    assert f'data-case="{late}"' not in client.get("/advocacy/admin/nps/cases?score=5").get_data(as_text=True)
    token = csrf_token(client, "/advocacy/admin/nps/cases")
    closed = client.post("/advocacy/admin/nps/cases/close",
                         data={"csrf_token": token, "selected": [str(late), str(fresh)]})
    assert closed.status_code == 303
    assert [case["status"] for case in rows(app, NpsCase)] == ["closed", "closed"]
    assert [e["action"] for e in rows(app, AuditEntry) if e["action"].startswith("nps.case")] == [
        "nps.case.status", "nps.case.status"]


def test_staff_assign_message_note_and_resolve_only_with_a_root_cause(app, client, staff):
    customer = make_customer(app)
    case_id = open_case(app, customer)
    path = f"/advocacy/admin/nps/cases/{case_id}"
    token = csrf_token(client, path)
    assert client.post(path + "/assign", data={"csrf_token": token, "owner": str(staff.id)}).status_code == 303
    case = rows(app, NpsCase)[0]
    assert (case["owner_user_id"], case["owner_first_name"]) == (str(staff.id), "Sam")
    client.post(path + "/message", data={"csrf_token": token, "body": "We have refunded you."})
    client.post(path + "/note", data={"csrf_token": token, "body": "Refund id re_123"})
    refused = client.post(path + "/status", data={"csrf_token": token, "status": "resolved", "root_cause": ""})
    assert refused.status_code == 400 and "Choose a root cause" in refused.get_data(as_text=True)
    assert rows(app, NpsCase)[0]["status"] == "open"
    cause = next(c for c in rows(app, NpsRootCause) if c["label"] == "Billing")
    done = client.post(path + "/status", data={"csrf_token": token, "status": "resolved",
                                               "root_cause": str(cause["id"])})
    assert done.status_code == 303
    case = rows(app, NpsCase)[0]
    assert case["status"] == "resolved" and case["root_cause_id"] == cause["id"]
    page = client.get(path).get_data(as_text=True)
    assert "Refund id re_123" in page and "We have refunded you." in page
    per_cause = client.get("/advocacy/admin/nps/cases").get_data(as_text=True)
    assert 'data-root-cause="Billing"' in per_cause
    assert [mail["kind"] for mail in emails(app, "nps.case")] == ["nps.case.opened", "nps.case.message",
                                                                  "nps.case.status"]
    actions = [e["action"] for e in rows(app, AuditEntry) if e["subject_type"] == "nps_case"]
    assert actions == ["nps.case.assign", "nps.case.message", "nps.case.note", "nps.case.status"]
    # The re-survey is scheduled, not sent: throttling decides when.
    assert [task["payload"]["reason"] for task in rows(app, OutboxTask) if task["topic"] == "nps.survey"] == ["resurvey"]


def test_root_causes_are_a_short_list_the_shop_edits(app, client, staff):
    token = csrf_token(client, "/advocacy/admin/nps/cases")
    client.post("/advocacy/admin/nps/root-causes", data={"csrf_token": token, "label": "Warehouse mix-up"})
    assert "Warehouse mix-up" in [c["label"] for c in rows(app, NpsRootCause)]
    cause = next(c for c in rows(app, NpsRootCause) if c["label"] == "Warehouse mix-up")
    client.post("/advocacy/admin/nps/root-causes/retire", data={"csrf_token": token, "cause": str(cause["id"])})
    assert next(c for c in rows(app, NpsRootCause) if c["label"] == "Warehouse mix-up")["active"] is False


def test_sending_to_a_list_skips_and_logs_the_throttled(app, client, staff):
    from advocacy_portal.db import get_session
    from advocacy_portal.services import referrals

    known = make_customer(app)
    asked_yesterday = make_customer(app)
    with app.app_context():
        referrals.ensure_advocate(str(known.id), known.email)
        get_session().commit()
    invite(app, asked_yesterday, channel="in_app")
    token = csrf_token(client, "/advocacy/admin/nps/send")
    sent = client.post("/advocacy/admin/nps/send", data={
        "csrf_token": token, "channel": "email",
        "recipients": f"{known.email}\n{asked_yesterday.id},{asked_yesterday.email}\nnobody@example.com",
    }, follow_redirects=True)
    html = sent.get_data(as_text=True)
    assert "Survey sent to 1; 1 skipped" in html and "1 not found" in html
    assert "Skipped: Asked less than 24 hours ago" in html
    assert [row["state"] for row in rows(app, NpsInvitation)] == ["sent", "sent", "skipped"]
    assert len(emails(app, "nps.survey")) == 1
    assert [e["action"] for e in rows(app, AuditEntry)].count("nps.send") == 2
    empty = client.post("/advocacy/admin/nps/send", data={"csrf_token": token, "recipients": "", "channel": "email"})
    assert empty.status_code == 400


STAFF_POSTS = [
    "/advocacy/admin/nps/cases/close", "/advocacy/admin/nps/root-causes", "/advocacy/admin/nps/send",
    "/advocacy/admin/nps/cases/{case}/assign", "/advocacy/admin/nps/cases/{case}/status",
    "/advocacy/admin/nps/cases/{case}/message", "/advocacy/admin/nps/cases/{case}/note",
    "/advocacy/admin/nps/cases/{case}/due",
]


def test_a_customer_gets_403_on_every_staff_page_and_action_and_nothing_changes(app, client, auth):
    customer = make_customer(app)
    case_id = open_case(app, customer)
    auth.login(customer)
    for path in ("/advocacy/admin/nps/", "/advocacy/admin/nps/cases", f"/advocacy/admin/nps/cases/{case_id}",
                 "/advocacy/admin/nps/send", "/advocacy/admin/nps/export.csv"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/advocacy/nps/help")
    for path in STAFF_POSTS:
        answer_ = client.post(path.format(case=case_id), data={
            "csrf_token": token, "selected": str(case_id), "status": "closed", "owner": str(customer.id),
            "body": "hi", "recipients": customer.email, "label": "x", "channel": "email"})
        assert answer_.status_code == 403, path
        assert "for staff only" in answer_.get_data(as_text=True)
    assert rows(app, NpsCase)[0]["status"] == "open"
    assert not [e for e in rows(app, AuditEntry) if e["action"].startswith("nps.case")]


def test_an_unknown_case_is_404_for_staff(app, client, staff):
    assert client.get("/advocacy/admin/nps/cases/999").status_code == 404
