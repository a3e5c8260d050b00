"""The plugin's rate limits: the referral redirect's per-IP limit, and leaving the host's routes alone."""

from __future__ import annotations

import pytest
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from tests.helpers import follow
from tests.helpers import make_customer
from tests.helpers import referral_path


@pytest.mark.settings(LINK_FOLLOW_LIMIT="3 per minute")
def test_a_click_burst_from_one_ip_gets_a_clear_429(app, client):
    path = referral_path(app, make_customer(app))
    for _ in range(3):
        assert follow(client, path, ip="203.0.113.9").status_code == 302
    response = follow(client, path, ip="203.0.113.9")
    assert response.status_code == 429
    assert "opened too many times from your network" in response.get_data(as_text=True)
    # Another visitor is not affected.
    assert follow(app.test_client(), path, ip="203.0.113.10").status_code == 302


def _ran_flask_limiter(client) -> bool:
    # Flask-Limiter's hooks keep their per-request state on the request context (its ``context``).
    from flask.globals import request_ctx

    return hasattr(request_ctx._get_current_object(), "_limiter_request_context")


@pytest.mark.settings(LINK_FOLLOW_LIMIT="2 per minute", RATELIMIT_ENABLED=True)
def test_the_redirect_and_host_pages_skip_flask_limiters_hooks_and_keep_their_limit(app):
    path = referral_path(app, make_customer(app))
    client = app.test_client()
    for expected in (302, 302, 429):
        with client:
            assert follow(client, path, ip="203.0.113.21").status_code == expected
            # Counted by the in-process precount alone: Flask-Limiter never saw the request.
            assert not _ran_flask_limiter(client)
    with client:
        assert client.get("/").status_code == 200  # the host's home page
        assert not _ran_flask_limiter(client)
    with client:
        # A blueprint Flask-Limiter does limit still runs its hooks.
        assert client.get("/advocacy/wall").status_code == 200
        assert _ran_flask_limiter(client)
    assert not any(
        getattr(function, "__self__", None) in app.extensions["limiter"]
        for function in app.before_request_funcs.get(None, [])
    )


def test_a_host_limiter_keeps_working_beside_the_plugins_own(database_url):
    from advocacy_portal import migrate
    from tests.host_app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "k", "SQLALCHEMY_DATABASE_URI": database_url,
                      "SERVER_NAME": "shop.test", "RATELIMIT_DEFAULT": "2 per minute",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    host_limiter = Limiter(get_remote_address, app=app)
    migrate.upgrade(app)
    client = app.test_client()
    # The host's default limit applies to its own routes, counted once per request.
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert len(app.extensions["limiter"]) == 2 and host_limiter in app.extensions["limiter"]
    from tests.host_app import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
