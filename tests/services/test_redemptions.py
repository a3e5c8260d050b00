"""Redeeming rewards as a Stripe customer balance credit, against the local Stripe server: never lost,
never doubled, whatever Stripe answers or fails to answer."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal import Customer
from advocacy_portal.models import Advocate
from advocacy_portal.models import Redemption
from advocacy_portal.services import redemptions
from advocacy_portal.services import rewards
from tests.fixtures import needs_postgres
from tests.rewards_helpers import advocate_balances
from tests.rewards_helpers import flat
from tests.rewards_helpers import make_referral
from tests.rewards_helpers import snapshot

CREDITS = "/v1/customers/*/balance_transactions"
STAFF = Customer(id="1", email="staff@example.com")


def funded(app, amount=5000):
    """An advocate with ``amount`` available (a staff credit)."""
    referred = make_referral(app)
    with app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        rewards.post_adjustment(advocate, amount, "usd", "Opening balance", STAFF)
        get_session().commit()
    return referred


def redeem(app, referred, amount, currency="usd"):
    with app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        redemption = redemptions.request_redemption(advocate, amount, currency)
        return redemption.id, redemption.state


def money(app, referred):
    return flat(advocate_balances(app, referred.advocate_id))


def credits(fake):
    return [
        (txn["customer"], txn["amount"], txn["currency"])
        for txn in fake.objects("customer_balance_transaction")
    ]


def test_a_redemption_credits_the_stripe_balance_once(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "completed"
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}
    ((customer, amount, currency),) = credits(fake_stripe)
    assert (amount, currency) == (-2000, "usd")
    assert fake_stripe.get(customer)["metadata"]["advocacy_user_id"] == str(referred.advocate.id)
    (request,) = fake_stripe.requests_to(CREDITS, method="POST")
    with stripe_app.app_context():
        redemption = get_session().get(Redemption, redemption_id)
        assert request.idempotency_key == redemption.idempotency_key
        assert redemption.stripe_balance_transaction_id.startswith("cbtxn_")
    # "All of it" redeems the rest; a retry run finds nothing to do.
    assert redeem(stripe_app, referred, None)[1] == "completed"
    assert money(stripe_app, referred)["redeemed"] == 5000
    result = stripe_app.test_cli_runner().invoke(args=["advocacy", "rewards", "retry-redemptions"])
    assert result.exit_code == 0 and "0 completed" in result.output
    assert len(credits(fake_stripe)) == 2
    snapshot(stripe_app)


def test_a_definite_refusal_returns_the_funds(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", CREDITS, status=400, error_type="invalid_request_error",
                          code="parameter_invalid", message="Nope")
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "failed"
    assert money(stripe_app, referred) == {"pending": 0, "available": 5000, "reserved": 0, "redeemed": 0}
    assert credits(fake_stripe) == []
    with stripe_app.app_context():
        assert "Nope" in get_session().get(Redemption, redemption_id).last_error
    snapshot(stripe_app)


@pytest.mark.parametrize("apply", [True, False])
def test_a_timeout_stays_reserved_and_the_retry_completes_exactly_once(stripe_app, fake_stripe, apply):
    referred = funded(stripe_app)
    fake_stripe.hang_next("POST", CREDITS, seconds=2.5, apply=apply)
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "unknown"
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 2000, "redeemed": 0}
    assert len(credits(fake_stripe)) == (1 if apply else 0)

    runner = stripe_app.test_cli_runner()
    result = runner.invoke(args=["advocacy", "rewards", "retry-redemptions"])
    assert result.exit_code == 0, result.output
    assert "1 completed" in result.output
    assert runner.invoke(args=["advocacy", "rewards", "retry-redemptions"]).output.startswith(
        "Redemptions: 0 completed")
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}
    # One effective credit at Stripe, whatever the first attempt did: the retry first looks for the
    # credit by its metadata (found if the first attempt was applied), else asks again with the same key.
    assert [amount for _c, amount, _cur in credits(fake_stripe)] == [-2000]
    attempts = fake_stripe.requests_to(CREDITS, method="POST")
    assert len(attempts) == (1 if apply else 2) and len({attempt.idempotency_key for attempt in attempts}) == 1
    assert len(fake_stripe.requests_to(CREDITS, method="GET")) == 1
    snapshot(stripe_app)


def test_a_server_error_is_retried_until_stripe_answers(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", CREDITS, status=500, times=2)
    assert redeem(stripe_app, referred, 1000)[1] == "unknown"
    runner = stripe_app.test_cli_runner()
    still = runner.invoke(args=["advocacy", "rewards", "retry-redemptions"])
    assert still.exit_code == 1 and "1 still without an answer" in still.output
    done = runner.invoke(args=["advocacy", "rewards", "retry-redemptions"])
    assert done.exit_code == 0 and "1 completed" in done.output
    assert len(credits(fake_stripe)) == 1
    assert money(stripe_app, referred)["redeemed"] == 1000


@pytest.mark.settings(REDEMPTION_MINIMUM_MINOR=1000)
def test_too_little_too_much_and_nonsense_are_refused_without_a_trace(stripe_app, fake_stripe):
    referred = funded(stripe_app, 3000)
    for amount, currency, code in ((999, "usd", "below_minimum"), (3001, "usd", "insufficient_funds"),
                                   (0, "usd", "invalid_amount"), (-5, "usd", "invalid_amount"),
                                   (1000, "eur", "insufficient_funds"), (1000, "us dollars", "invalid_currency")):
        with pytest.raises(redemptions.RedemptionRefused) as refused:
            redeem(stripe_app, referred, amount, currency)
        assert refused.value.code == code, (amount, currency)
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 0}
    assert fake_stripe.requests_to(CREDITS) == []
    with stripe_app.app_context():
        assert get_session().scalars(select(Redemption)).all() == []


@needs_postgres
def test_parallel_redemptions_never_overdraw(stripe_app, fake_stripe):
    referred = funded(stripe_app, 5000)
    outcomes, errors = [], []
    barrier = threading.Barrier(20)

    def attempt():
        try:
            with stripe_app.app_context():
                advocate = get_session().get(Advocate, referred.advocate_id)
                get_session().commit()  # hand the connection back: 20 threads, a smaller pool
                barrier.wait(timeout=30)
                try:
                    outcomes.append(redemptions.request_redemption(advocate, 1000, "usd").state)
                except redemptions.RedemptionRefused as refused:
                    outcomes.append(refused.code)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == ["completed"] * 5 + ["insufficient_funds"] * 15
    assert money(stripe_app, referred) == {"pending": 0, "available": 0, "reserved": 0, "redeemed": 5000}
    assert len(credits(fake_stripe)) == 5
    snapshot(stripe_app)


# -- through the outbox ---------------------------------------------------------------------------------


def redemption_task(app, redemption_id):
    from advocacy_portal.models import OutboxTask

    with app.app_context():
        task = get_session().scalar(select(OutboxTask).where(OutboxTask.key == f"redemption:{redemption_id}"))
        return {"state": task.state, "attempts": task.attempts, "last_error": task.last_error,
                "topic": task.topic, "subject": (task.subject_type, task.subject_id)}


def make_due(app, redemption_id):
    from advocacy_portal.models import OutboxTask
    from advocacy_portal.models import utcnow

    with app.app_context():
        task = get_session().scalar(select(OutboxTask).where(OutboxTask.key == f"redemption:{redemption_id}"))
        task.next_attempt_at = utcnow()
        get_session().commit()


@pytest.mark.settings(TASK_EXECUTOR="worker")
def test_with_a_worker_the_request_reserves_and_the_worker_asks_stripe_once(stripe_app, fake_stripe):
    from advocacy_portal import outbox

    referred = funded(stripe_app)
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "reserved" and credits(fake_stripe) == []  # the request never waited on Stripe
    assert money(stripe_app, referred)["reserved"] == 2000
    assert redemption_task(stripe_app, redemption_id)["subject"] == ("redemption", str(redemption_id))
    assert outbox.run_due(stripe_app).done == 1
    assert outbox.run_due(stripe_app).ran == 0
    assert [amount for _c, amount, _cur in credits(fake_stripe)] == [-2000]
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}
    assert redemption_task(stripe_app, redemption_id)["state"] == "done"


@pytest.mark.parametrize("apply", [True, False])
def test_stripe_timing_out_is_retried_by_the_outbox_with_the_same_key(stripe_app, fake_stripe, apply):
    from advocacy_portal import outbox

    referred = funded(stripe_app)
    fake_stripe.hang_next("POST", CREDITS, seconds=2.5, apply=apply)
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "unknown"
    task = redemption_task(stripe_app, redemption_id)
    assert task["state"] == "queued" and task["attempts"] == 1 and "No definite answer" in task["last_error"]
    make_due(stripe_app, redemption_id)
    assert outbox.run_due(stripe_app).done == 1
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}
    assert [amount for _c, amount, _cur in credits(fake_stripe)] == [-2000]
    attempts = fake_stripe.requests_to(CREDITS, method="POST")
    assert len(attempts) == (1 if apply else 2) and len({attempt.idempotency_key for attempt in attempts}) == 1
    snapshot(stripe_app)


def test_a_retry_after_stripe_forgot_the_key_finds_the_credit_by_its_metadata(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    fake_stripe.hang_next("POST", CREDITS, seconds=2.5, apply=True)  # applied, answer lost
    redemption_id, state = redeem(stripe_app, referred, 2000)
    assert state == "unknown" and len(credits(fake_stripe)) == 1
    fake_stripe.forget_idempotency_keys()  # 24 hours later: the key no longer protects
    with stripe_app.app_context():
        redemption = redemptions.settle(get_session().get(Redemption, redemption_id))
        assert redemption.state == "completed"
        [credit] = fake_stripe.objects("customer_balance_transaction")
        assert redemption.stripe_balance_transaction_id == credit["id"]
    assert [amount for _c, amount, _cur in credits(fake_stripe)] == [-2000]  # not doubled
    assert money(stripe_app, referred) == {"pending": 0, "available": 3000, "reserved": 0, "redeemed": 2000}


@pytest.mark.settings(OUTBOX_MAX_ATTEMPTS=2)
def test_stripe_answering_500_until_the_last_attempt_parks_the_task_and_keeps_the_money_reserved(
        stripe_app, fake_stripe, client, auth):
    from advocacy_portal import outbox
    from tests.helpers import make_customer

    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", CREDITS, status=500, times=2)  # both attempts
    redemption_id, state = redeem(stripe_app, referred, 1000)
    assert state == "unknown"
    make_due(stripe_app, redemption_id)
    assert outbox.run_due(stripe_app).dead == 1
    task = redemption_task(stripe_app, redemption_id)
    assert task["state"] == "dead" and "(500)" in task["last_error"]
    # Never lost: still reserved, and shown to staff with Stripe's answer.
    assert money(stripe_app, referred)["reserved"] == 1000 and credits(fake_stripe) == []
    auth.login(make_customer(stripe_app, staff=True))
    page = client.get("/advocacy/admin/outbox").get_data(as_text=True)
    assert "stripe.redemption" in page and f"redemption {redemption_id}" in page
    # Stripe is back (the injected failures are used up); staff replay the task: one credit.
    from advocacy_portal.models import OutboxTask

    with stripe_app.app_context():
        task_id = get_session().scalar(select(OutboxTask.id).where(OutboxTask.key == f"redemption:{redemption_id}"))
    with stripe_app.app_context():
        assert outbox.replay(task_id)
        get_session().commit()
    assert redemption_task(stripe_app, redemption_id)["state"] == "done"
    assert money(stripe_app, referred) == {"pending": 0, "available": 4000, "reserved": 0, "redeemed": 1000}
    assert len(credits(fake_stripe)) == 1


def test_a_definite_refusal_returns_the_money_and_finishes_the_task(stripe_app, fake_stripe):
    referred = funded(stripe_app)
    fake_stripe.fail_next("POST", CREDITS, status=400, error_type="invalid_request_error", message="Nope")
    redemption_id, state = redeem(stripe_app, referred, 1500)
    assert state == "failed"
    assert redemption_task(stripe_app, redemption_id)["state"] == "done"
    assert money(stripe_app, referred)["available"] == 5000
