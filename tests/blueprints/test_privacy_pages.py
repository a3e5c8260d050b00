"""The customer's data export page (re-authentication, rate limit, audit), staff erasure with its
confirmation step, and consent before the attribution cookie, both ways."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from advocacy_portal import get_portal
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import AuditEntry
from advocacy_portal.models import Referral
from advocacy_portal.models import ReferralClick
from advocacy_portal.models import utcnow
from advocacy_portal.services import referrals
from tests.helpers import PASSWORD
from tests.helpers import csrf_token
from tests.helpers import follow
from tests.helpers import login
from tests.helpers import make_customer
from tests.helpers import referral_path
from tests.helpers import signup

EXPORT = "/advocacy/privacy/export"
PAGE = "/advocacy/privacy/"
CONSENT = "/advocacy/privacy/consent"


@pytest.fixture
def hooks(app):
    """Set the portal's privacy hooks for one test, and put them back afterwards."""
    portal = get_portal(app)
    saved = (portal._password_check_callback, portal._last_login_callback, portal._attribution_consent_callback)
    yield portal
    portal._password_check_callback, portal._last_login_callback, portal._attribution_consent_callback = saved


def _export(client, **data):
    token = csrf_token(client, PAGE)
    return client.post(EXPORT, data={"csrf_token": token, **data})


def test_a_customer_downloads_their_own_export_and_it_is_audited(app, client):
    customer = make_customer(app)
    login(client, customer)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Download my data" in page.get_data(as_text=True)
    response = _export(client)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="my-advocacy-data.zip"'
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.namelist() == ["export.json"]  # no testimonial, no photo
        document = json.loads(archive.read("export.json"))
    assert document["schema"] == "advocacy-portal.person-export" and document["user_id"] == str(customer.id)
    with app.app_context():
        entry = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "privacy.export")).one()
        assert entry.subject_id == str(customer.id)


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get(PAGE).status_code == 302
    assert client.post(EXPORT).status_code in (302, 400)


def test_the_password_hook_asks_for_the_password_again(app, client, hooks):
    hooks.password_check(lambda user, password: password == PASSWORD)
    customer = make_customer(app)
    login(client, customer)
    assert 'type="password"' in client.get(PAGE).get_data(as_text=True)
    refused = _export(client, **{"advocacy-export-password": "wrong"})
    assert refused.status_code == 403 and "That password is not right" in refused.get_data(as_text=True)
    assert _export(client, **{"advocacy-export-password": PASSWORD}).status_code == 200


def test_a_login_long_ago_is_refused_by_the_last_login_hook(app, client, hooks):
    when = {"at": utcnow() - timedelta(hours=2)}
    hooks.last_login(lambda user: when["at"])
    login(client, make_customer(app))
    refused = _export(client)
    assert refused.status_code == 403 and "log in again" in refused.get_data(as_text=True)
    when["at"] = utcnow()
    assert _export(client).status_code == 200


@pytest.mark.settings(EXPORT_RATE_LIMIT="2 per hour")
def test_the_export_is_rate_limited(app, client):
    login(client, make_customer(app))
    assert [_export(client).status_code for _ in range(3)] == [200, 200, 429]


def test_staff_erase_a_customer_after_confirming(app, client):
    staff = make_customer(app, staff=True)
    customer = make_customer(app)
    path = referral_path(app, customer)
    with app.app_context():
        advocate_id = referrals.get_advocate(customer.id).id
    login(client, staff)
    url = f"/advocacy/admin/advocates/{advocate_id}/erase"
    assert f"/advocates/{advocate_id}/erase" in client.get(f"/advocacy/admin/advocates/{advocate_id}").get_data(as_text=True)
    page = client.get(url)
    assert page.status_code == 200 and "cannot be undone" in page.get_data(as_text=True)
    token = csrf_token(client, url)
    wrong = client.post(url, data={"csrf_token": token, "advocacy-erase-confirm_user_id": "nope",
                                   "advocacy-erase-understood": "y"})
    assert wrong.status_code == 400 and "not this customer" in wrong.get_data(as_text=True)
    done = client.post(url, data={"csrf_token": token, "advocacy-erase-confirm_user_id": str(customer.id),
                                  "advocacy-erase-understood": "y"})
    assert done.status_code == 303
    assert follow(app.test_client(), path).status_code == 404
    with app.app_context():
        advocate = get_session().get(Advocate, advocate_id)
        assert advocate.user_id.startswith("erased-") and advocate.email is None
        entry = get_session().scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).one()
        assert entry.actor_user_id == str(staff.id)
    assert client.get(url).status_code == 410


def test_customers_cannot_erase(app, client):
    customer = make_customer(app)
    with app.app_context():
        advocate_id = referrals.ensure_advocate(customer.id, customer.email).id
        get_session().commit()
    login(client, make_customer(app))
    assert client.get(f"/advocacy/admin/advocates/{advocate_id}/erase").status_code == 403


# -- consent before the attribution cookie ----------------------------------------------------------


def test_without_a_consent_setting_the_cookie_is_set_at_once(app, client):
    path = referral_path(app, make_customer(app))
    response = follow(client, path)
    assert response.status_code == 302 and "advocacy_referral" not in response.headers["Location"]
    assert "advocacy_ref=" in response.headers.get("Set-Cookie", "")


@pytest.mark.settings(ATTRIBUTION_CONSENT="required")
def test_without_consent_no_cookie_and_an_anonymous_click_then_consent_credits_the_advocate(app, client, hooks):
    agreed = {"yes": False}
    hooks.attribution_consent(lambda: agreed["yes"])
    advocate = make_customer(app)
    path = referral_path(app, advocate)
    response = follow(client, path)
    assert response.status_code == 302
    assert "Set-Cookie" not in response.headers
    location = response.headers["Location"]
    assert "advocacy_referral=" in location
    ref = location.split("advocacy_referral=", 1)[1]
    with app.app_context():
        [click] = get_session().scalars(select(ReferralClick)).all()
        assert click.ip_hash == "" and click.referrer_host is None

    token = csrf_token(client, "/login")
    refused = client.post(CONSENT, data={"csrf_token": token, "ref": ref}, headers={"Accept": "application/json"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "no_consent"
    assert client.post(CONSENT, data={"ref": ref}, headers={"Accept": "application/json"}).status_code == 400
    assert client.post(CONSENT, data={"csrf_token": token, "ref": ref + "x"},
                       headers={"Accept": "application/json"}).status_code in (400, 403)

    agreed["yes"] = True
    granted = client.post(CONSENT, data={"csrf_token": token, "ref": ref}, headers={"Accept": "application/json"})
    assert granted.status_code == 200 and granted.get_json() == {"attributed": True}
    assert "Set-Cookie" in granted.headers
    assert signup(client, "consenting.friend@example.com").status_code == 302
    with app.app_context():
        referral = get_session().scalars(select(Referral)).one()
        assert referral.advocate_id == referrals.get_advocate(advocate.id).id
        assert referral.click_id == click.id


@pytest.mark.settings(ATTRIBUTION_CONSENT="required")
def test_with_consent_already_given_the_redirect_sets_the_cookie(app, client, hooks):
    hooks.attribution_consent(lambda: True)
    response = follow(client, referral_path(app, make_customer(app)))
    assert "advocacy_referral" not in response.headers["Location"]
    assert "Set-Cookie" in response.headers
    with app.app_context():
        assert get_session().scalars(select(ReferralClick)).one().ip_hash != ""
