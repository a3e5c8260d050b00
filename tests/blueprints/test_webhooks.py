"""Stripe's webhook endpoint through the real app and the real SDK's signature check."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import StripeEvent
from advocacy_portal.testing import stripe_events
from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET
from advocacy_portal.testing.stripe_events import sign
from tests.fixtures import needs_postgres
from tests.helpers import csrf_token
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import WEBHOOK_PATH
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral
from tests.rewards_helpers import snapshot


def stored(app) -> tuple[int, int, int]:
    with app.app_context():
        session = get_session()
        return (
            session.scalar(select(func.count()).select_from(StripeEvent)),
            session.scalar(select(func.count()).select_from(Conversion)),
            session.scalar(select(func.count()).select_from(LedgerTransaction)),
        )


def paid(referred, amount=5000, **fields):
    return stripe_events.checkout_session_completed(
        amount_total=amount, metadata=referred.metadata, client_reference_id=str(referred.friend.id), **fields
    )


def assert_refused(response, code):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_signed_payment_posts_a_pending_reward(stripe_app):
    referred = make_referral(stripe_app)
    response = deliver(stripe_app.test_client(), paid(referred, 5000))
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "duplicate": False, "outcome": "applied"}
    assert flat(advocate_balances(stripe_app, referred.advocate_id)) == {
        "pending": 500, "available": 0, "reserved": 0, "redeemed": 0,
    }


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_bad_deliveries_are_refused_and_store_nothing(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    event = paid(referred)
    body, headers = stripe_events.signed_request(event)

    forged = dict(headers, **{"Stripe-Signature": sign(body, "whsec_someone_else")})
    assert_refused(client.post(WEBHOOK_PATH, data=body, headers=forged), "invalid_signature")
    tampered = body.replace(b"5000", b"9000")
    assert_refused(client.post(WEBHOOK_PATH, data=tampered, headers=headers), "invalid_signature")
    stale = dict(headers, **{"Stripe-Signature": sign(body, WEBHOOK_SECRET, int(time.time()) - 301)})
    assert_refused(client.post(WEBHOOK_PATH, data=body, headers=stale), "invalid_signature")
    garbage_header = dict(headers, **{"Stripe-Signature": "t=yesterday,v1=zz"})
    assert_refused(client.post(WEBHOOK_PATH, data=body, headers=garbage_header), "invalid_signature")
    no_header = {"Content-Type": "application/json"}
    assert_refused(client.post(WEBHOOK_PATH, data=body, headers=no_header), "missing_signature")
    not_utf8 = b"\xff\xfe{}"
    assert_refused(
        client.post(WEBHOOK_PATH, data=not_utf8, headers={"Stripe-Signature": sign(not_utf8, WEBHOOK_SECRET)}),
        "malformed_payload",
    )
    huge = json.dumps(dict(event, padding="x" * (600 * 1024))).encode()
    assert_refused(
        client.post(WEBHOOK_PATH, data=huge, headers={"Stripe-Signature": sign(huge, WEBHOOK_SECRET)}),
        "payload_too_large",
    )
    assert stored(stripe_app) == (0, 0, 0)
    # The genuine delivery still works afterwards.
    assert client.post(WEBHOOK_PATH, data=body, headers=headers).status_code == 200
    assert stored(stripe_app)[:2] == (1, 1)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, STRIPE_WEBHOOK_SECRETS=["whsec_new", WEBHOOK_SECRET])
def test_every_secret_of_a_rolling_change_is_accepted(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    assert deliver(client, paid(referred), secret="whsec_new").status_code == 200
    assert deliver(client, paid(referred), secret=WEBHOOK_SECRET).status_code == 200
    assert_refused(deliver(client, paid(referred), secret="whsec_retired"), "invalid_signature")
    assert stored(stripe_app)[0] == 2


@pytest.mark.settings(STRIPE_WEBHOOK_SECRETS=[])
def test_without_secrets_nothing_is_accepted(app):
    body, headers = stripe_events.signed_request(stripe_events.checkout_session_completed())
    assert_refused(app.test_client().post(WEBHOOK_PATH, data=body, headers=headers), "not_configured")
    assert stored(app) == (0, 0, 0)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_duplicate_delivery_is_answered_200_and_posts_once(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    event = paid(referred)
    first = deliver(client, event)
    before = snapshot(stripe_app)
    again = deliver(client, event)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["duplicate"] is True
    assert snapshot(stripe_app) == before
    assert stored(stripe_app) == (1, 1, 1)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_unknown_event_types_are_recorded_and_ignored(stripe_app, caplog):
    client = stripe_app.test_client()
    event = stripe_events.event("customer.created", {"id": "cus_123", "object": "customer"})
    with caplog.at_level("INFO"):
        response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"
    assert "not handled" in caplog.text
    with stripe_app.app_context():
        row = get_session().scalar(select(StripeEvent))
        assert (row.event_id, row.type, row.outcome) == (event["id"], "customer.created", "ignored")
    assert stored(stripe_app)[1:] == (0, 0)


def test_the_endpoint_needs_no_csrf_token_while_host_forms_still_do(stripe_app):
    # The demo host uses CSRFProtect: the webhook is exempt, the host's own forms are not.
    client = stripe_app.test_client()
    stripe_app.config["WTF_CSRF_ENABLED"] = True
    assert deliver(client, stripe_events.event("ping", {"id": "x"})).status_code == 200
    assert client.post("/login", data={"email": "a@example.com", "password": "x"}).status_code == 400
    assert csrf_token(client, "/login")


def test_the_webhook_works_when_csrf_is_set_up_after_the_plugin(database_url):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from flask_wtf import CSRFProtect

    from advocacy_portal import AdvocacyPortal
    from advocacy_portal import migrate

    host = Flask("late_csrf")
    host.config.update(SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=database_url,
                       ADVOCACY_STRIPE_WEBHOOK_SECRETS=[WEBHOOK_SECRET])
    db = SQLAlchemy()
    db.init_app(host)
    AdvocacyPortal(host)
    CSRFProtect(host)  # after the plugin
    migrate.upgrade(host)
    body, headers = stripe_events.signed_request(stripe_events.event("ping", {"id": "x"}))
    response = host.test_client().post(WEBHOOK_PATH, data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    with host.app_context():
        db.engine.dispose()


def test_only_post_is_allowed(stripe_app):
    assert stripe_app.test_client().get(WEBHOOK_PATH).status_code == 405


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_unknown_customers_are_stored_unattributed(stripe_app):
    client = stripe_app.test_client()
    event = stripe_events.checkout_session_completed(amount_total=7000, customer="cus_stranger")
    assert deliver(client, event).status_code == 200
    with stripe_app.app_context():
        conversion = get_session().scalar(select(Conversion))
        assert conversion.referral_id is None and conversion.advocate_id is None
        assert (conversion.amount_minor, conversion.currency) == (7000, "usd")
        assert conversion.reward_outcome == "unattributed"
    assert stored(stripe_app) == (1, 1, 0)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_malformed_but_signed_objects_are_answered_200_and_change_nothing(stripe_app):
    client = stripe_app.test_client()
    weird = [
        stripe_events.event("charge.refunded", {"id": "ch_1", "amount_refunded": "lots"}),
        stripe_events.event("charge.refunded", "not an object"),
        stripe_events.event("charge.dispute.closed", {"id": "du_1", "charge": "ch_1", "status": "odd"}),
        stripe_events.event("checkout.session.completed", {"id": None, "mode": "setup"}),
    ]
    for event in weird:
        response = deliver(client, event)
        assert response.status_code == 200, response.get_data(as_text=True)
    assert stored(stripe_app) == (4, 0, 0)


@needs_postgres
@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_hundred_concurrent_deliveries_of_one_event_post_once(stripe_app):
    import threading

    import requests
    from werkzeug.serving import make_server

    referred = make_referral(stripe_app)
    body, headers = stripe_events.signed_request(paid(referred, 5000))
    server = make_server("127.0.0.1", 0, stripe_app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}{WEBHOOK_PATH}"
    barrier = threading.Barrier(100)
    answers, errors = [], []

    def post():
        try:
            barrier.wait(timeout=30)
            response = requests.post(url, data=body, headers={**headers, "Host": "shop.test"}, timeout=60)
            answers.append((response.status_code, response.json().get("duplicate")))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(100)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
    assert errors == []
    assert sorted(answers) == [(200, False)] + [(200, True)] * 99
    assert stored(stripe_app) == (1, 1, 1)
    assert flat(advocate_balances(stripe_app, referred.advocate_id))["pending"] == 500
    snapshot(stripe_app)
