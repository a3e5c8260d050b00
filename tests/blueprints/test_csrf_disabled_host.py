"""A host that turns Flask-WTF's CSRF protection off (``WTF_CSRF_ENABLED = False``, common in a host's own
test configuration) still gets every plugin page: the forms have no ``csrf_token`` field then, and a
template that rendered it unconditionally answered 500 (the NPS case pages did)."""

from __future__ import annotations

import pytest

from tests.browser.test_csp import page_urls
from tests.helpers import PASSWORD
from tests.helpers import make_customer
from tests.nps_support import open_case
from tests.nps_support import score_path
from tests.nps_support import invite
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial


def _log_in(client, person) -> None:
    answer = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]


@pytest.mark.settings(WTF_CSRF_ENABLED=False)
def test_every_page_renders_when_the_host_turns_csrf_off(app):
    staff = make_customer(app, staff=True, name="Sam Staff")
    referred = make_referral(app)
    customer = referred.advocate
    testimonial = make_testimonial(app, customer, state="approved", staff=staff)
    case_id = open_case(app, customer)
    ids = {"testimonial_id": testimonial, "advocate_id": referred.advocate_id, "case_id": case_id}

    answered = {}
    for person in (staff, customer):
        client = app.test_client()
        _log_in(client, person)
        for url in page_urls(app, ids) + [score_path(app, invite(app, customer), None)]:
            status = client.get(url).status_code
            assert status < 500, f"{url} answered {status} as {person.email}"
            answered.setdefault(url, set()).add(status)
    # The walk reached the pages that carry forms: staff case pages and the customer's own case.
    assert 200 in answered[f"/advocacy/admin/nps/cases/{case_id}"]
    assert 200 in answered["/advocacy/admin/nps/cases"]
    assert 200 in answered[f"/advocacy/nps/cases/{case_id}"]
    assert sum(200 in statuses for statuses in answered.values()) >= 15, answered


@pytest.mark.settings(WTF_CSRF_ENABLED=False)
def test_a_form_posts_without_a_token_when_the_host_turns_csrf_off(app):
    customer = make_customer(app)
    case_id = open_case(app, customer)
    client = app.test_client()
    _log_in(client, customer)
    answer = client.post(f"/advocacy/nps/cases/{case_id}/reply", data={"body": "Still waiting for it."})
    assert answer.status_code in (200, 302, 303), answer.get_data(as_text=True)[:500]
    assert "Still waiting for it." in client.get(f"/advocacy/nps/cases/{case_id}").get_data(as_text=True)


@pytest.mark.settings(WTF_CSRF_ENABLED=False)
def test_an_invalid_form_is_answered_with_its_errors_when_the_host_turns_csrf_off(app):
    """The views ask whether a failed form failed on its CSRF token: with no token field at all, that
    question must not raise (it did, in every view)."""
    customer = make_customer(app)
    staff = make_customer(app, staff=True, name="Sam Staff")
    case_id = open_case(app, customer)
    client = app.test_client()
    _log_in(client, customer)
    answer = client.post(f"/advocacy/nps/cases/{case_id}/reply", data={"body": ""})
    assert answer.status_code == 400
    assert "Write your reply first." in answer.get_data(as_text=True)

    staff_client = app.test_client()
    _log_in(staff_client, staff)
    answer = staff_client.post(f"/advocacy/admin/nps/cases/{case_id}/message", data={})
    assert answer.status_code == 400, answer.status_code
