"""The API key service: secrets made and hashed, keys checked, last use written sparingly, settings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from advocacy_portal import Customer
from advocacy_portal.db import get_session
from advocacy_portal.models import utcnow
from advocacy_portal.services import api_keys
from tests.host_app import create_app

STAFF = Customer(id="7", email="staff@example.com")


def test_each_key_is_random_and_only_its_hash_identifies_it(app_ctx):
    made = [api_keys.create_key("Export", ["ledger:read"], STAFF) for _ in range(3)]
    assert len({m.secret for m in made}) == 3 and len({m.key.token_hash for m in made}) == 3
    for m in made:
        assert api_keys.authenticate(m.secret).id == m.key.id
        assert m.key.token_hash == api_keys.hash_secret(m.secret) != m.secret


@pytest.mark.parametrize(
    "name, scopes, message",
    [(" ", ["ledger:read"], "name"), ("x" * 101, ["ledger:read"], "name"), ("Export", [], "at least one"),
     ("Export", ["ledger:write"], "Unknown scope")],
)
def test_a_key_needs_a_name_and_known_scopes(app_ctx, name, scopes, message):
    with pytest.raises(ValueError, match=message):
        api_keys.create_key(name, scopes, STAFF)


@pytest.mark.parametrize(
    "secret, code",
    [(None, "missing"), ("", "missing"), ("adv_live_short", "malformed"), ("x" * 500, "malformed"),
     ("adv_live_" + "A" * 43, "unknown")],
)
def test_keys_that_do_not_authenticate(app_ctx, secret, code):
    with pytest.raises(api_keys.ApiKeyError) as caught:
        api_keys.authenticate(secret)
    assert caught.value.code == code


def test_a_revoked_key_stays_revoked(app_ctx):
    made = api_keys.create_key("Export", ["ledger:read"], STAFF)
    assert api_keys.revoke_key(made.key, STAFF) is True
    assert api_keys.revoke_key(made.key, STAFF) is False  # once only in the audit log
    with pytest.raises(api_keys.ApiKeyError) as caught:
        api_keys.authenticate(made.secret)
    assert caught.value.code == "revoked"


def test_last_use_is_written_once_per_interval(app_ctx):
    key = api_keys.create_key("Export", ["ledger:read"], STAFF).key
    now = utcnow()
    assert api_keys.mark_used(key, now) is True
    assert api_keys.mark_used(key, now + timedelta(seconds=59)) is False
    assert key.last_used_at == now
    assert api_keys.mark_used(key, now + timedelta(seconds=61)) is True
    get_session().expire_all()
    assert api_keys.get_key(key.id).last_used_at == now + timedelta(seconds=61)


@pytest.mark.settings(API_KEY_PREFIX="shop_key_")
def test_keys_made_before_a_prefix_change_keep_working(app):
    with app.app_context():
        made = api_keys.create_key("Export", ["ledger:read"], STAFF)
        key_id = made.key.id
        get_session().commit()
    assert made.secret.startswith("shop_key_")
    app.config["ADVOCACY_API_KEY_PREFIX"] = "adv_live_"
    with app.app_context():
        assert api_keys.authenticate(made.secret).id == key_id


@pytest.mark.parametrize(
    "setting, value",
    [("API_KEY_PREFIX", "no spaces "), ("API_KEY_PREFIX", ""), ("API_KEY_RATE_LIMIT", "lots"),
     ("API_KEY_LAST_USED_INTERVAL_SECONDS", -1)],
)
def test_bad_settings_are_refused_at_startup(setting, value):
    with pytest.raises(RuntimeError, match=setting):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", f"ADVOCACY_{setting}": value})
