"""Poison Stripe events: correctly signed events that can never be applied are recorded as rejected with
their reason, answered 200 so Stripe stops retrying, shown to staff, and never posted to the ledger."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import Conversion
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import StripeEvent
from advocacy_portal.services import conversions
from advocacy_portal.services import stripe_events as reader
from advocacy_portal.testing import stripe_events
from advocacy_portal.testing.stripe_events import WEBHOOK_SECRET
from advocacy_portal.testing.stripe_events import sign
from tests.helpers import login
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import WEBHOOK_PATH
from tests.rewards_helpers import deliver
from tests.rewards_helpers import make_referral


def paid(referred, **fields):
    return stripe_events.checkout_session_completed(
        amount_total=5000, metadata=referred.metadata, client_reference_id=str(referred.friend.id), **fields
    )


def recorded(app):
    with app.app_context():
        session = get_session()
        events = [(row.event_id, row.outcome, row.reason) for row in session.scalars(select(StripeEvent))]
        return (
            events,
            session.scalar(select(func.count()).select_from(Conversion)),
            session.scalar(select(func.count()).select_from(LedgerTransaction)),
            session.scalar(select(func.count()).select_from(OutboxTask).where(OutboxTask.topic == "stripe.event")),
        )


def ledger_verifies(app):
    result = app.test_cli_runner().invoke(args=["advocacy", "ledger", "verify"])
    assert result.exit_code == 0, result.output
    return result.output


def nested(depth: int):
    value = {"leaf": True}
    for _ in range(depth):
        value = {"next": value}
    return value


def amount_beyond_64_bits(event):
    event["data"]["object"]["amount_total"] = 2**64


def negative_created(event):
    event["created"] = -1


def long_id(event):
    event["id"] = "evt_" + "x" * 5000


def long_payment_intent(event):
    event["data"]["object"]["payment_intent"] = "pi_" + "9" * 400


def bad_currency(event):
    event["data"]["object"]["currency"] = "dollars"


def float_amount(event):
    event["data"]["object"]["amount_total"] = 50.5


def nul_in_metadata(event):
    event["data"]["object"]["metadata"]["note"] = "a\x00b"


def created_in_year_3000(event):
    event["created"] = 32503680000


def object_not_a_dict(event):
    event["data"]["object"] = ["not", "an", "object"]


POISONS = {
    "amount_beyond_64_bits": (amount_beyond_64_bits, "beyond 64 bits"),
    "negative_created": (negative_created, "time out of range"),
    "long_id": (long_id, "not a Stripe id (5004 characters)"),
    "long_payment_intent": (long_payment_intent, "Stripe id of 403 characters"),
    "bad_currency": (bad_currency, "three-letter code"),
    "float_amount": (float_amount, "not a whole number"),
    "nul_in_metadata": (nul_in_metadata, "NUL character"),
    "created_in_year_3000": (created_in_year_3000, "time out of range"),
    "object_not_a_dict": (object_not_a_dict, "no data.object"),
}


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_signed_event_that_can_never_be_applied_is_rejected_with_its_reason(stripe_app, poison):
    spoil, reason = POISONS[poison]
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    event = paid(referred)
    spoil(event)
    answer = deliver(client, event)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["outcome"] == "rejected" and body["duplicate"] is False
    assert reason in body["reason"]
    events, conversion_count, ledger_count, tasks = recorded(stripe_app)
    assert [(outcome, stored_reason) for _, outcome, stored_reason in events] == [("rejected", body["reason"])]
    assert conversion_count == 0 and ledger_count == 0 and tasks == 0
    # Stripe's retry of the same delivery is a duplicate: still 200, still one record.
    again = deliver(client, event)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert len(recorded(stripe_app)[0]) == 1
    ledger_verifies(stripe_app)
    # A good event of the same payment afterwards is applied as usual.
    good = deliver(client, paid(referred))
    assert good.get_json()["outcome"] == "applied"
    ledger_verifies(stripe_app)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_five_thousand_character_id_is_recorded_under_a_digest(stripe_app):
    event = paid(make_referral(stripe_app))
    long_id(event)
    assert deliver(stripe_app.test_client(), event).status_code == 200
    (event_id, outcome, _), = recorded(stripe_app)[0]
    assert outcome == "rejected" and event_id.startswith("invalid_") and len(event_id) <= 255


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_deeply_nested_json_is_rejected_without_parsing_it(stripe_app):
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    event = paid(referred)
    event["data"]["object"]["metadata"]["deep"] = nested(40)
    answer = deliver(client, event)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["outcome"] == "rejected"
    assert "nests" in answer.get_json()["reason"] and "at most 32" in answer.get_json()["reason"]
    (event_id, outcome, _), = recorded(stripe_app)[0]
    assert event_id == event["id"] and outcome == "rejected"

    # Deep enough to crash a recursive parser (a RecursionError), and no id to read: a digest of the body.
    body = b"[" * 200_000 + b"]" * 200_000
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, WEBHOOK_SECRET)}
    crash = client.post(WEBHOOK_PATH, data=body, headers=headers)
    assert crash.status_code == 200 and crash.get_json()["outcome"] == "rejected"
    events, conversion_count, ledger_count, _ = recorded(stripe_app)
    assert len(events) == 2 and any(row[0].startswith("unreadable_") for row in events)
    assert conversion_count == 0 and ledger_count == 0
    ledger_verifies(stripe_app)


def test_json_depth_ignores_brackets_in_strings():
    assert reader.json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert reader.json_depth(json.dumps(nested(31)).encode()) == 32
    assert reader.json_depth(b"[" * 100_000) == 100_000


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, STRIPE_WEBHOOK_MAX_DEPTH=12)
def test_the_depth_limit_is_a_setting(stripe_app):
    event = paid(make_referral(stripe_app))
    event["data"]["object"]["metadata"]["deep"] = nested(12)
    assert deliver(stripe_app.test_client(), event).get_json()["outcome"] == "rejected"


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_staff_see_rejected_events_on_the_payments_page(stripe_app):
    referred = make_referral(stripe_app)
    event = paid(referred)
    amount_beyond_64_bits(event)
    deliver(stripe_app.test_client(), event)
    staff = stripe_app.test_client()
    login(staff, make_customer(stripe_app, "ops@example.com", staff=True))
    page = staff.get("/advocacy/admin/payments")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Rejected Stripe events" in html
    assert f'data-event="{event["id"]}"' in html and "beyond 64 bits" in html
    customer = stripe_app.test_client()
    login(customer, make_customer(stripe_app))
    assert "beyond 64 bits" not in customer.get("/advocacy/admin/payments").get_data(as_text=True)


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, TASK_EXECUTOR="worker")
def test_an_event_whose_effects_fail_for_good_is_parked_and_marked_failed(stripe_app):
    # Recorded before its values were checked (an older version queued it): the handler's readers refuse
    # it, so the task is parked at once with the reason rather than retried, and the event says why.
    referred = make_referral(stripe_app)
    event = paid(referred)
    amount_beyond_64_bits(event)
    with stripe_app.app_context():
        session = get_session()
        row = StripeEvent(event_id=event["id"], type=event["type"], outcome="queued")
        session.add(row)
        session.flush()
        outbox.enqueue(conversions.EVENT_TOPIC, {"event": event, "row": row.id}, key=f"stripe-event:{event['id']}")
        session.commit()
    report = outbox.run_due(stripe_app)
    assert report.dead == 1, report
    with stripe_app.app_context():
        session = get_session()
        task = session.scalar(select(OutboxTask).where(OutboxTask.topic == conversions.EVENT_TOPIC))
        assert task.state == "dead" and task.attempts == 1
        assert "amount out of range" in task.last_error
        stored = session.scalar(select(StripeEvent))
        assert stored.outcome == "failed" and stored.reason == task.last_error
        assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
    ledger_verifies(stripe_app)
    staff = stripe_app.test_client()
    login(staff, make_customer(stripe_app, "ops@example.com", staff=True))
    html = staff.get("/advocacy/admin/payments").get_data(as_text=True)
    assert f'data-event="{event["id"]}"' in html and "failed" in html


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_an_event_that_cannot_be_recorded_now_answers_503_and_its_retry_is_applied(stripe_app):
    # A transient failure (here the events table is away, as during a failed migration or a database
    # restart) is not a poison event: 503, nothing recorded, and Stripe's retry is applied once it is back.
    from sqlalchemy import text

    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    event = paid(referred)
    with stripe_app.app_context():
        get_session().execute(text("ALTER TABLE advocacy_stripe_events RENAME TO advocacy_stripe_events_away"))
        get_session().commit()
    answer = deliver(client, event)
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "try_again"
    with stripe_app.app_context():
        get_session().execute(text("ALTER TABLE advocacy_stripe_events_away RENAME TO advocacy_stripe_events"))
        get_session().commit()
    assert recorded(stripe_app)[0] == []
    retry = deliver(client, event)
    assert retry.status_code == 200 and retry.get_json()["outcome"] == "applied"
    ledger_verifies(stripe_app)


def test_a_signed_body_that_is_not_a_json_event_is_rejected_not_retried(stripe_app):
    client = stripe_app.test_client()
    bodies = {
        b"{not json": "not JSON",
        json.dumps([1, 2]).encode(): "no type",
        json.dumps({"type": "charge.refunded"}).encode(): "no id",
        # Python refuses to read an integer of over 4,300 digits: not JSON it can read.
        b'{"id": "evt_big", "type": "charge.refunded", "created": ' + b"9" * 5000 + b"}": "not JSON",
    }
    for body, reason in bodies.items():
        answer = client.post(WEBHOOK_PATH, data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["outcome"] == "rejected" and reason in answer.get_json()["reason"]
        again = client.post(WEBHOOK_PATH, data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET)})
        assert again.get_json()["duplicate"] is True
    events, conversion_count, ledger_count, tasks = recorded(stripe_app)
    assert len(events) == 4 and {outcome for _, outcome, _ in events} == {"rejected"}
    assert ("evt_big", "rejected", "The body is not JSON.") in events
    assert conversion_count == ledger_count == tasks == 0
