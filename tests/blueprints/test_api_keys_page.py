"""The staff page of API keys: staff only, CSRF on every form, the secret shown once, revoke, last use."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import ApiKey
from advocacy_portal.models import AuditEntry
from tests.api_support import API
from tests.api_support import bearer
from tests.helpers import csrf_token
from tests.helpers import login
from tests.helpers import make_customer

PAGE = "/advocacy/admin/api-keys/"
SECRET = re.compile(r'value="(adv_live_[A-Za-z0-9_-]{43})"')
TOKEN = re.compile(r'name="(?:advocacy-key-)?csrf_token" type="hidden" value="([^"]+)"|'
                   r'type="hidden" name="csrf_token" value="([^"]+)"')


def token(client) -> str:
    match = TOKEN.search(client.get(PAGE).get_data(as_text=True))
    assert match
    return match.group(1) or match.group(2)


def create(client, name="Finance export", scopes=("ledger:read", "rewards:read"), csrf=True):
    data = {"advocacy-key-name": name, "advocacy-key-scopes": list(scopes)}
    if csrf:
        data["advocacy-key-csrf_token"] = token(client)
    return client.post(PAGE, data=data)


def keys(app) -> list[ApiKey]:
    with app.app_context():
        found = list(get_session().scalars(select(ApiKey)))
        get_session().expunge_all()
        return found


@pytest.fixture
def staff_client(app, auth):
    auth.login(make_customer(app, staff=True))
    return auth._client


def test_only_staff_see_the_page(app, client, auth):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(make_customer(app))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"advocacy-key-name": "x"}).status_code in (400, 403)
    assert keys(app) == []


def test_an_empty_page_says_what_to_do_and_is_in_the_staff_nav(staff_client):
    html = staff_client.get(PAGE).get_data(as_text=True)
    assert "No API keys yet" in html
    assert f'href="{PAGE}" aria-current="page">API keys</a>' in html
    assert "/advocacy/api/openapi.json" in html


def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(app, staff_client):
    response = create(staff_client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.get_data(as_text=True)
    secret = SECRET.search(html).group(1)
    assert "This is the only time it is shown" in html
    [key] = keys(app)
    assert key.name == "Finance export" and key.scopes == ["rewards:read", "ledger:read"]
    assert secret not in (key.token_hash, key.display_prefix) and secret.startswith(key.display_prefix)
    assert "Set-Cookie" not in response.headers or secret not in response.headers["Set-Cookie"]
    again = staff_client.get(PAGE).get_data(as_text=True)
    assert secret not in again and f"{key.display_prefix}…" in again and "Never" in again
    # The key works at once, for its scopes only.
    assert staff_client.get(API + "/rewards", headers=bearer(secret)).status_code == 200
    assert staff_client.get(API + "/advocates", headers=bearer(secret)).status_code == 403
    with app.app_context():
        entry = get_session().scalar(select(AuditEntry).where(AuditEntry.action == "api_key.create"))
        assert entry.after["scopes"] == ["rewards:read", "ledger:read"] and secret not in str(entry.after)


def test_the_last_use_is_shown(app, staff_client):
    secret = SECRET.search(create(staff_client).get_data(as_text=True)).group(1)
    assert "Never" in staff_client.get(PAGE).get_data(as_text=True)
    staff_client.get(API + "/rewards", headers=bearer(secret))
    [key] = keys(app)
    html = staff_client.get(PAGE).get_data(as_text=True)
    assert f"{key.last_used_at.strftime('%Y-%m-%d %H:%M')} UTC" in html and "Never" not in html


def test_a_form_without_its_csrf_token_makes_no_key(app, staff_client):
    response = create(staff_client, csrf=False)
    assert response.status_code == 400 and "This form expired" in response.get_data(as_text=True)
    assert keys(app) == []


@pytest.mark.parametrize(
    "name, scopes, message",
    [("", ("ledger:read",), "Give the key a name."), ("Export", (), "Choose at least one scope."),
     ("Export", ("admin:write",), "is not a valid choice")],
)
def test_a_key_needs_a_name_and_known_scopes(app, staff_client, name, scopes, message):
    response = create(staff_client, name=name, scopes=scopes)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert not SECRET.search(html)
    assert keys(app) == []


def test_revoking_a_key_refuses_it_from_then_on(app, staff_client):
    secret = SECRET.search(create(staff_client).get_data(as_text=True)).group(1)
    [key] = keys(app)
    revoke = f"{PAGE}{key.id}/revoke"
    assert staff_client.post(revoke).status_code == 400  # no CSRF token
    assert keys(app)[0].revoked_at is None
    response = staff_client.post(revoke, data={"csrf_token": token(staff_client)})
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert keys(app)[0].revoked_at is not None
    html = staff_client.get(PAGE).get_data(as_text=True)
    assert "is revoked" in html and "Finance export (revoked)" in html and revoke not in html
    assert staff_client.get(API + "/rewards", headers=bearer(secret)).status_code == 401
    with app.app_context():
        actions = [e.action for e in get_session().scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["api_key.create", "api_key.revoke"]
    assert staff_client.post(f"{PAGE}999/revoke", data={"csrf_token": token(staff_client)}).status_code == 404


def test_customers_cannot_revoke_keys(app, staff_client):
    create(staff_client)
    [key] = keys(app)
    other = app.test_client()
    login(other, make_customer(app))
    response = other.post(f"{PAGE}{key.id}/revoke", data={"csrf_token": csrf_token(other, "/")})
    assert response.status_code == 403
    assert keys(app)[0].revoked_at is None
