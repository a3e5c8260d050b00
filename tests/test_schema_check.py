"""An unmigrated or out-of-date schema says what to run: `flask advocacy db check` names the missing
revisions and exits non-zero; pages answer a 503 error page, JSON endpoints a JSON 503 and the Stripe
webhook a 503 (so Stripe retries), with one clear log line and no traceback."""

from __future__ import annotations

import logging

import pytest
from flask import got_request_exception

from advocacy_portal import migrate
from advocacy_portal.testing import stripe_events
from tests.helpers import make_customer
from tests.rewards_helpers import deliver

FIRST = "c2c3f9bbbaf5"  # the plugin's first revision: referral links only


@pytest.fixture
def raised(app):
    """Exceptions Flask saw as unhandled (each would be a 500 with a traceback)."""
    seen = []

    def record(sender, exception, **extra):
        seen.append(exception)

    got_request_exception.connect(record, app)
    yield seen
    got_request_exception.disconnect(record, app)


def test_db_check_names_the_missing_revisions(app, runner):
    assert runner.invoke(args=["advocacy", "db", "check"]).exit_code == 0
    migrate.downgrade(app, FIRST)
    result = runner.invoke(args=["advocacy", "db", "check"])
    assert result.exit_code == 1
    assert f"database is at {FIRST}" in result.output
    missing = [line for line in result.output.splitlines() if line.strip().startswith("missing ")]
    assert len(missing) == len(migrate.missing_revisions(app)) >= 3
    assert "rewards ledger and stripe" in result.output and "run `flask advocacy db upgrade`" in result.output
    migrate.downgrade(app, "base")
    result = runner.invoke(args=["advocacy", "db", "check"])
    assert result.exit_code == 1 and "nothing (no advocacy tables)" in result.output


def test_an_unmigrated_database_answers_503_pages_json_and_webhook(app, client, auth, raised, caplog):
    user = make_customer(app)
    migrate.downgrade(app, "base")
    auth.login(user)
    with caplog.at_level(logging.ERROR, logger="advocacy_portal.blueprints.schema"):
        page = client.get("/advocacy/rewards/")
        widget = client.get("/advocacy/widget/api/referral")
        hook = deliver(client, stripe_events.checkout_session_completed(amount_total=100))
    assert page.status_code == 503 and "text/html" in page.content_type
    assert "flask advocacy db upgrade" in page.get_data(as_text=True)
    assert "Temporarily unavailable" in page.get_data(as_text=True)
    assert widget.status_code == 503 and widget.json["error"]["code"] == "schema_out_of_date"
    assert hook.status_code == 503 and hook.json["error"]["code"] == "schema_out_of_date"
    assert hook.headers["Retry-After"] == "60"
    assert raised == []  # no traceback, no 500
    lines = [record for record in caplog.records if "flask advocacy db upgrade" in record.getMessage()]
    assert len(lines) == 3 and all(record.exc_info is None for record in lines)
    # Fixed by the command the page names.
    migrate.upgrade(app)
    app.extensions["advocacy"].state(app).cache.clear()
    assert client.get("/advocacy/rewards/").status_code == 200


@pytest.mark.settings(SCHEMA_CHECK_SECONDS=3600)
def test_a_table_missing_behind_a_stale_revision_check_is_still_a_503(app, client, auth, raised):
    user = make_customer(app)
    auth.login(user)
    assert client.get("/advocacy/rewards/").status_code == 200  # the check is cached as up to date
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE advocacy_ledger_entries")
    page = client.get("/advocacy/rewards/")
    assert page.status_code == 503 and "flask advocacy db upgrade" in page.get_data(as_text=True)
    assert raised == []


def test_the_hosts_own_database_errors_are_left_alone(app, raised):
    from sqlalchemy import text

    from tests.host_app import db

    @app.get("/host-broken")
    def broken():
        db.session.execute(text("SELECT * FROM shop_missing_table"))
        return "unreachable"

    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = app.test_client().get("/host-broken")
    assert answer.status_code == 500 and len(raised) == 1
