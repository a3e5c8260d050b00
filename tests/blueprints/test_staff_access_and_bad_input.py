"""Every staff URL (read from the URL map) refuses customers; the fraud queue, audit log and exports
answer bad input (unknown ids, absurd dates, pages past the end, nonsense decisions) clearly, never 500."""

from __future__ import annotations

import re

import pytest

from advocacy_portal.db import get_session
from advocacy_portal.models import FraudReview
from advocacy_portal.models import utcnow
from advocacy_portal.services import referrals as referral_service
from advocacy_portal.services.links import AttributionClaim
from advocacy_portal.testing import stripe_events
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver

ADMIN = "/advocacy/admin"


def _admin_urls(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(ADMIN):
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def test_a_customer_gets_403_or_404_on_every_admin_url(app):
    urls = _admin_urls(app)
    assert ("GET", ADMIN + "/fraud") in urls and ("GET", ADMIN + "/export/1.csv") in urls
    customer = app.test_client()
    login(customer, make_customer(app))
    token = csrf_token(customer, "/advocacy/")
    for method, path in urls:
        answer = customer.open(path, method=method, data={"csrf_token": token})
        assert answer.status_code in (403, 404), (method, path, answer.status_code)
        assert "This page is for staff only." in answer.get_data(as_text=True) or answer.status_code == 404


@pytest.fixture
def held(stripe_app):
    staff = stripe_app.test_client()
    login(staff, make_customer(stripe_app, "boss@example.com", staff=True))
    advocate = make_customer(stripe_app)
    friend = make_customer(stripe_app, "pal@mailinator.com")
    with stripe_app.app_context():
        row = referral_service.ensure_advocate(advocate.id, advocate.email)
        referral_service.attribute_signup(friend.id, friend.email, AttributionClaim(row.code, None, None, utcnow()))
        get_session().commit()
    deliver(stripe_app.test_client(), stripe_events.checkout_session_completed(
        amount_total=5000, metadata={"advocacy_user_id": str(friend.id)}))
    with stripe_app.app_context():
        review_id = get_session().query(FraudReview.id).scalar()
    return staff, review_id


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_fraud_queue_bad_input_gets_clear_answers(stripe_app, held):
    staff, review_id = held
    token = csrf_token(staff, ADMIN + "/fraud")
    for query in ("?state=nonsense", "?page=999999", "?page=-4&per_page=10000", "?state=%00"):
        assert staff.get(ADMIN + "/fraud" + query).status_code in (200, 400)
    past = staff.get(ADMIN + "/fraud?page=99").get_data(as_text=True)
    assert "No reward is waiting" in past or "Page" in past
    url = f"{ADMIN}/fraud/{review_id}/decide"
    assert staff.post(f"{ADMIN}/fraud/987654/decide", data={"csrf_token": token, "decision": "approve",
                                                            "reason": "x"}).status_code == 404
    assert staff.post(f"{ADMIN}/fraud/0/decide", data={"csrf_token": token}).status_code == 404
    no_reason = staff.post(url, data={"csrf_token": token, "decision": "approve", "reason": ""})
    assert no_reason.status_code == 400 and "Say why" in no_reason.get_data(as_text=True)
    nonsense = staff.post(url, data={"csrf_token": token, "decision": "pay-twice", "reason": "x"})
    assert nonsense.status_code == 409 and "Choose approve, void or reopen" in nonsense.get_data(as_text=True)
    assert staff.post(url, data={"decision": "approve", "reason": "x"}).status_code == 400  # no CSRF
    done = staff.post(url, data={"csrf_token": token, "decision": "approve", "reason": "fine"})
    assert done.status_code == 303
    again = staff.post(url, data={"csrf_token": token, "decision": "approve", "reason": "fine"})
    assert again.status_code == 409 and "approved already" in again.get_data(as_text=True)
    allow = staff.post(ADMIN + "/fraud/allow", data={"csrf_token": token, "review_id": "abc", "kind": "pair",
                                                     "reason": "family"})
    assert allow.status_code == 404
    wrong_kind = staff.post(ADMIN + "/fraud/allow", data={"csrf_token": token, "review_id": str(review_id),
                                                          "kind": "everyone", "reason": "family"})
    assert wrong_kind.status_code == 400
    ok = staff.post(ADMIN + "/fraud/allow", data={"csrf_token": token, "review_id": str(review_id),
                                                  "kind": "pair", "reason": "family"})
    assert ok.status_code == 303
    assert staff.post(f"{ADMIN}/fraud/allowances/987654/remove", data={"csrf_token": token}).status_code == 404
    assert staff.post(f"{ADMIN}/fraud/allowances/1/remove", data={"csrf_token": token}).status_code == 303


def test_audit_log_filters_and_absurd_input(app):
    staff = app.test_client()
    login(staff, make_customer(app, "boss@example.com", staff=True))
    for query in ("?start=0000-01-01", "?start=2026-13-45&end=x", "?start=2090-01-01&end=2000-01-01",
                  "?page=1000001", "?who=%25&action=_", "?subject=<script>"):
        answer = staff.get(ADMIN + "/audit" + query)
        assert answer.status_code in (200, 400), query
        assert "<script>" not in answer.get_data(as_text=True)
