"""Stripe's webhook is verify, record, answer: the effects are applied by the outbox's relay, once, even
when their application crashes, the worker applies them later, or events of one customer race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import LedgerTransaction
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import StripeEvent
from advocacy_portal.services import rewards
from advocacy_portal.testing import stripe_events
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import deliver
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral
from tests.rewards_helpers import snapshot


def paid(referred, amount=5000, **fields):
    return stripe_events.checkout_session_completed(
        amount_total=amount, metadata=referred.metadata, client_reference_id=str(referred.friend.id), **fields
    )


def event_row(app, event_id) -> tuple[str, str]:
    """(the event's outcome, its outbox task's state)."""
    with app.app_context():
        session = get_session()
        outcome = session.scalar(select(StripeEvent.outcome).where(StripeEvent.event_id == event_id))
        state = session.scalar(select(OutboxTask.state).where(OutboxTask.key == f"stripe-event:{event_id}"))
        return outcome, state


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES, TASK_EXECUTOR="worker")
def test_with_a_worker_the_webhook_records_and_answers_and_the_worker_applies(stripe_app):
    referred = make_referral(stripe_app)
    event = paid(referred, 5000)
    client = stripe_app.test_client()
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "duplicate": False, "outcome": "queued"}
    assert event_row(stripe_app, event["id"]) == ("queued", "queued")
    assert flat(advocate_balances(stripe_app, referred.advocate_id))["pending"] == 0  # not applied yet
    # Stripe's retry of the same delivery, before the worker ran: recorded once.
    assert deliver(client, event).get_json()["duplicate"] is True

    report = outbox.run_due(stripe_app)
    assert report.done == 1
    assert event_row(stripe_app, event["id"]) == ("applied", "done")
    assert flat(advocate_balances(stripe_app, referred.advocate_id))["pending"] == 500
    before = snapshot(stripe_app)
    assert deliver(client, event).get_json()["duplicate"] is True
    assert outbox.run_due(stripe_app).ran == 0
    assert snapshot(stripe_app) == before


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_a_crash_while_applying_loses_nothing_and_doubles_nothing(stripe_app, monkeypatch):
    referred = make_referral(stripe_app)
    event = paid(referred, 5000)
    real_reconcile = rewards.reconcile
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        real_reconcile(*args, **kwargs)  # the ledger rows are written ... and then the process "dies"
        if len(calls) == 1:
            raise RuntimeError("the process died half-way")

    monkeypatch.setattr(rewards, "reconcile", crash_once)
    response = deliver(stripe_app.test_client(), event)
    # The event is recorded: Stripe is told so (no retry storm), and the relay owns the retry.
    assert response.status_code == 200 and response.get_json()["outcome"] == "queued"
    with stripe_app.app_context():
        assert get_session().scalar(select(func.count()).select_from(LedgerTransaction)) == 0  # rolled back
        task = get_session().scalar(select(OutboxTask).where(OutboxTask.topic == "stripe.event"))
        assert task.state == "queued" and task.attempts == 1 and "died half-way" in task.last_error
        task.next_attempt_at = task.created_at  # due now
        get_session().commit()
    assert outbox.run_due(stripe_app).done == 1
    assert event_row(stripe_app, event["id"]) == ("applied", "done")
    assert flat(advocate_balances(stripe_app, referred.advocate_id))["pending"] == 500  # once


@pytest.mark.settings(REWARD_RULES=PERCENT_RULES)
def test_concurrent_events_of_one_customer_are_applied_in_order_inline(stripe_app):
    referred = make_referral(stripe_app)
    payment = paid(referred, 8000)
    intent = payment["data"]["object"]["payment_intent"]
    refund = stripe_events.charge_refunded(amount=8000, amount_refunded=3000, payment_intent=intent)
    results = {}
    barrier = threading.Barrier(2)

    def send(name, event):
        client = stripe_app.test_client()
        barrier.wait()
        results[name] = deliver(client, event)

    threads = [threading.Thread(target=send, args=(name, event)) for name, event in
               (("payment", payment), ("refund", refund))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert {name: response.status_code for name, response in results.items()} == {"payment": 200, "refund": 200}
    # One waited for the other (same payment). On a loaded machine the second may outwait its 10 s, or lose
    # a race five times and be left for a retry: then the relay's next pass applies it, still in order.
    states = {event_row(stripe_app, e["id"])[1] for e in (payment, refund)}
    if states != {"done"}:
        outbox.run_due(stripe_app, ids=None)
        with stripe_app.app_context():
            from advocacy_portal.models import utcnow

            for task in get_session().scalars(select(OutboxTask).where(OutboxTask.state == "queued")):
                task.next_attempt_at = utcnow()
            get_session().commit()
        outbox.run_due(stripe_app)
    assert event_row(stripe_app, payment["id"])[1] == "done" and event_row(stripe_app, refund["id"])[1] == "done"
    # The reward follows the refund, whichever order they were applied in.
    assert flat(advocate_balances(stripe_app, referred.advocate_id))["pending"] == 500
