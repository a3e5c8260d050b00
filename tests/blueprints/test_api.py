"""The back-office JSON API through the real app: keys, scopes, every list's data, filters and pages,
the OpenAPI document, the rate limit."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import ApiKey
from advocacy_portal.models import utcnow
from advocacy_portal.services import api_keys
from tests.api_support import ALL_SCOPES
from tests.api_support import API
from tests.api_support import bearer
from tests.api_support import make_key
from tests.api_support import seed
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES

#: Each back-office list and the scope it needs.
ENDPOINTS = {
    "/advocates": "advocates:read",
    "/referrals": "referrals:read",
    "/conversions": "conversions:read",
    "/rewards": "rewards:read",
    "/ledger-entries": "ledger:read",
    "/testimonials/submissions": "testimonials:read",
}


def get(client, path, secret=None, **params):
    headers = bearer(secret) if secret else {}
    return client.get(API + path, headers=headers, query_string=params)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"
    return body


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_back_office_list_needs_a_key(client, path):
    response = get(client, path)
    assert_error(response, 401, "missing_api_key")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Advocacy Portal API"'


@pytest.mark.parametrize(
    "header, code",
    [
        ("Basic dXNlcjpwYXNz", "malformed_api_key"),
        ("Bearer", "malformed_api_key"),
        ("Bearer not-a-key", "malformed_api_key"),
        ("Bearer adv_live_" + "x" * 30, "malformed_api_key"),  # too short to be a key
        ("Bearer adv_live_" + "x" * 43 + "é", "malformed_api_key"),
        ("Bearer adv_live_" + "A" * 43, "unknown_api_key"),
    ],
)
def test_bad_keys_get_401_with_www_authenticate(client, header, code):
    response = client.get(API + "/advocates", headers={"Authorization": header})
    assert_error(response, 401, code)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="Advocacy Portal API"') and 'error="invalid_token"' in challenge


def test_a_revoked_key_is_refused_at_once(app, client):
    secret = make_key(app)
    assert get(client, "/advocates", secret).status_code == 200
    with app.app_context():
        key = get_session().scalar(select(ApiKey))
        assert api_keys.revoke_key(key, None)
        get_session().commit()
    response = get(client, "/advocates", secret)
    assert_error(response, 401, "revoked_api_key")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path, scope", list(ENDPOINTS.items()))
def test_a_key_reads_only_what_its_scopes_allow(app, client, path, scope):
    others = [s for s in ALL_SCOPES if s != scope]
    without = make_key(app, others)
    response = get(client, path, without)
    body = assert_error(response, 403, "insufficient_scope")
    assert scope in body["error"]["message"]
    assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]
    assert get(client, path, make_key(app, [scope])).status_code == 200


def test_last_use_is_written_at_most_once_a_minute(app, client):
    secret = make_key(app, ["advocates:read"])
    with app.app_context():
        assert get_session().scalar(select(ApiKey.last_used_at)) is None
    assert get(client, "/advocates", secret).status_code == 200
    with app.app_context():
        first = get_session().scalar(select(ApiKey.last_used_at))
    assert first is not None and (utcnow() - first).total_seconds() < 60
    assert get(client, "/advocates", secret).status_code == 200
    with app.app_context():
        assert get_session().scalar(select(ApiKey.last_used_at)) == first  # a second later: not written
        key = get_session().scalar(select(ApiKey))
        key.last_used_at = first.replace(year=first.year - 1)
        get_session().commit()
    assert get(client, "/advocates", secret).status_code == 200
    with app.app_context():
        assert get_session().scalar(select(ApiKey.last_used_at)) > first


def test_a_key_without_the_scope_is_still_marked_used(app, client):
    secret = make_key(app, ["ledger:read"])
    assert get(client, "/advocates", secret).status_code == 403
    with app.app_context():
        assert get_session().scalar(select(ApiKey.last_used_at)) is not None


# -- the lists -------------------------------------------------------------------------------------


@pytest.fixture
def program(stripe_app):
    return seed(stripe_app)


@pytest.fixture
def secret(stripe_app):
    return make_key(stripe_app)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_advocates_with_their_results_and_balances(stripe_app, program, secret):
    client = stripe_app.test_client()
    response = get(client, "/advocates", secret)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_json()
    by_id = {item["id"]: item for item in body["items"]}
    usd, eur = (by_id[advocate_id] for advocate_id in program.advocate_ids)
    assert usd["signups"] == 1 and usd["paying_friends"] == 1
    assert usd["balances"]["pending"] == [{"amount_minor": 500, "currency": "USD"}]
    assert eur["balances"]["pending"] == []  # EUR is not rewarded by the rules
    assert usd["created_at"].endswith("Z")
    assert body["total"] == len(body["items"]) >= 2 and body["page"] == 1 and body["has_more"] is False


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_conversions_in_minor_units_filtered_by_currency_advocate_and_attribution(stripe_app, program, secret):
    client = stripe_app.test_client()
    body = get(client, "/conversions", secret).get_json()
    assert body["total"] == 3
    assert {item["payment_key"] for item in body["items"]} == set(program.payment_keys)
    eur = get(client, "/conversions", secret, currency="eur").get_json()["items"]
    assert [(c["amount_minor"], c["currency"], c["reward_outcome"]) for c in eur] == [
        (8000, "EUR", "currency_not_rewarded")
    ]
    mine = get(client, "/conversions", secret, advocate_id=program.advocate_ids[0]).get_json()["items"]
    assert [c["payment_key"] for c in mine] == ["pi_api_seed_0"]
    assert mine[0]["stripe"]["payment_intent_id"] == "pi_api_seed_0" and mine[0]["paid_at"].endswith("Z")
    assert mine[0]["net_minor"] == 5000
    unattributed = get(client, "/conversions", secret, attributed="false").get_json()["items"]
    assert [c["payment_key"] for c in unattributed] == ["pi_api_seed_unattributed"]
    assert unattributed[0]["advocate_id"] is None


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_rewards_and_ledger_entries_balance(stripe_app, program, secret):
    client = stripe_app.test_client()
    rewards = get(client, "/rewards", secret).get_json()["items"]
    assert [(r["advocate_id"], r["amount_minor"], r["currency"], r["state"]) for r in rewards] == [
        (program.advocate_ids[0], 500, "USD", "pending")
    ]
    assert rewards[0]["rule"]["type"] == "percent" and rewards[0]["hold_until"].endswith("Z")
    assert get(client, "/rewards", secret, state="void").get_json()["items"] == []
    entries = get(client, "/ledger-entries", secret).get_json()["items"]
    assert sum(entry["amount_minor"] for entry in entries) == 0  # double entry
    advocate_side = get(client, "/ledger-entries", secret, advocate_id=program.advocate_ids[0]).get_json()["items"]
    assert [(e["account"]["kind"], e["amount_minor"], e["reason"]) for e in advocate_side] == [
        ("pending", 500, "reward.accrue")
    ]
    program_side = get(client, "/ledger-entries", secret, account="reward_expense").get_json()["items"]
    assert [(e["account"]["owner"], e["amount_minor"]) for e in program_side] == [("program", -500)]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_referrals_filtered_by_advocate_campaign_and_state(stripe_app, program, secret):
    client = stripe_app.test_client()
    body = get(client, "/referrals", secret).get_json()
    assert {item["id"] for item in body["items"]} == set(program.referral_ids)
    spring = get(client, "/referrals", secret, campaign="spring").get_json()["items"]
    assert [r["id"] for r in spring] == [program.referral_ids[1]]
    assert spring[0]["state"] == "signed_up" and spring[0]["first_paid_at"] is not None
    assert get(client, "/referrals", secret, state="flagged").get_json()["total"] == 0
    mine = get(client, "/referrals", secret, advocate_id=program.advocate_ids[0]).get_json()["items"]
    assert [r["advocate_id"] for r in mine] == [program.advocate_ids[0]]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_testimonials_in_every_state_for_the_back_office_and_published_ones_in_public(
    stripe_app, program, secret
):
    client = stripe_app.test_client()
    every = get(client, "/testimonials/submissions", secret).get_json()["items"]
    assert {(t["id"], t["state"]) for t in every} == {
        (program.testimonial_ids[0], "approved"), (program.testimonial_ids[1], "pending")
    }
    assert all(t["author_user_id"] for t in every)
    pending = get(client, "/testimonials/submissions", secret, state="pending").get_json()["items"]
    assert [t["id"] for t in pending] == [program.testimonial_ids[1]]
    public = get(client, "/testimonials").get_json()  # the public API needs no key
    assert [t["id"] for t in public["items"]] == [program.testimonial_ids[0]]


def test_pages_walk_the_whole_list_once_in_a_stable_order(app, client):
    secret = make_key(app, ["advocates:read"])
    from advocacy_portal.services import referrals

    with app.app_context():
        for index in range(7):
            referrals.ensure_advocate(f"user-{index}", f"advocate{index}@example.com")
        get_session().commit()
    seen, page = [], 1
    while True:
        body = get(client, "/advocates", secret, page=page, per_page=3).get_json()
        assert body["per_page"] == 3 and body["total"] == 7 and body["pages"] == 3
        seen += [item["id"] for item in body["items"]]
        if not body["has_more"]:
            break
        page += 1
    assert page == 3 and len(seen) == 7 == len(set(seen))
    assert get(client, "/advocates", secret, page=4, per_page=3).get_json()["items"] == []


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/advocates", {"per_page": "101"}, "per_page"),
        ("/advocates", {"page": "0"}, "page"),
        ("/advocates", {"page": "two"}, "page"),
        ("/advocates", {"serach": "x"}, "serach"),
        ("/referrals", {"state": "paid"}, "state"),
        ("/conversions", {"currency": "dollars"}, "currency"),
        ("/rewards", {"start": "yesterday"}, "start"),
        ("/rewards", {"start": "0001-01-01T00:00:00+05:00"}, "start"),
        ("/ledger-entries", {"advocate_id": "99999999999"}, "advocate_id"),
        ("/ledger-entries", {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
    ],
)
def test_bad_query_parameters_get_a_400_naming_them(app, client, path, params, field):
    body = assert_error(get(client, path, make_key(app), **params), 400, "bad_request")
    assert field in body["error"]["fields"]


def test_a_date_range_filters_by_time(app, client):
    secret = make_key(app, ["advocates:read", "referrals:read"])
    empty = get(client, "/referrals", secret, start="2999-01-01T00:00:00Z").get_json()
    assert empty["total"] == 0
    assert get(client, "/referrals", secret, end="2999-01-01").status_code == 200  # a date alone is midnight UTC


def test_write_methods_get_a_json_405(app, client):
    response = client.post(API + "/advocates", headers=bearer(make_key(app)))
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.mark.settings(API_KEY_RATE_LIMIT="3 per minute")
def test_each_key_has_its_own_rate_limit(app, client):
    first, second = make_key(app, ["advocates:read"]), make_key(app, ["advocates:read"])
    assert [get(client, "/advocates", first).status_code for _ in range(3)] == [200, 200, 200]
    response = get(client, "/advocates", first)
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert get(client, "/advocates", second).status_code == 200


# -- the OpenAPI document --------------------------------------------------------------------------


def test_the_openapi_document_is_valid_openapi_3_1(client):
    response = client.get(API + "/openapi.json")
    assert response.status_code == 200 and response.headers["ETag"]
    document = response.get_json()
    validate_spec(document)  # raises on any error
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/advocacy/api", "description": "This site"}]
    operations = {path: ops["get"] for path, ops in document["paths"].items()}
    assert set(operations) == {"/testimonials", *ENDPOINTS}
    assert operations["/testimonials"]["security"] == []
    for path, scope in ENDPOINTS.items():
        assert operations[path]["security"] == [{"ApiKey": [scope]}]
        assert {"200", "400", "401", "403", "429"} <= set(operations[path]["responses"])
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


@pytest.mark.settings(URL_PREFIX="/referrals-program", API_MAX_PAGE_SIZE=40)
def test_the_document_follows_the_prefix_and_page_size(client):
    document = client.get("/referrals-program/api/openapi.json").get_json()
    validate_spec(document)
    assert document["servers"][0]["url"] == "/referrals-program/api"
    per_page = next(p for p in document["paths"]["/advocates"]["get"]["parameters"] if p["name"] == "per_page")
    assert per_page["schema"]["maximum"] == 40


def test_the_secret_is_never_stored(app):
    secret = make_key(app)
    with app.app_context():
        key = get_session().scalar(select(ApiKey))
        row = get_session().execute(select(ApiKey.__table__)).one()
    assert secret.startswith("adv_live_") and len(secret) == len("adv_live_") + 43
    assert all(secret not in str(value) for value in row)
    assert key.token_hash == api_keys.hash_secret(secret) and key.display_prefix == secret[:13]


def test_staff_made_keys_are_in_the_audit_log(app):
    from advocacy_portal.services import audit

    staff = make_customer(app, staff=True)
    make_key(app, ["ledger:read"], name="Finance", staff=staff)
    with app.app_context():
        key = get_session().scalar(select(ApiKey))
        api_keys.revoke_key(key, None)
        get_session().commit()
        actions = [(e.action, e.actor_user_id) for e in audit.history("api_key", key.id)]
    assert actions == [("api_key.create", str(staff.id)), ("api_key.revoke", None)]
