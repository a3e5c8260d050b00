"""Outgoing webhooks end to end: a real HTTP server receives them and verifies every signature with the
``standardwebhooks`` package; each event type arrives after the action that causes it; retries,
timeouts, Retry-After, 410 Gone; exactly once per endpoint; nothing sent for a change rolled back."""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from advocacy_portal import Customer
from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import OutboxTask
from advocacy_portal.models import WebhookAttempt
from advocacy_portal.models import WebhookDelivery
from advocacy_portal.models import WebhookEndpoint
from advocacy_portal.models import WebhookMessage
from advocacy_portal.models import utcnow
from advocacy_portal.services import outgoing_webhooks
from advocacy_portal.services import redemptions
from advocacy_portal.services import rewards
from advocacy_portal.services.webhook_events import EVENT_TYPES
from advocacy_portal.testing import stripe_events
from tests.helpers import make_customer
from tests.rewards_helpers import PERCENT_RULES
from tests.rewards_helpers import deliver
from tests.rewards_helpers import later
from tests.rewards_helpers import make_referral
from tests.testimonials_support import make_testimonial
from tests.webhook_receiver import LOCAL_DELIVERY

pytestmark = [LOCAL_DELIVERY, pytest.mark.settings(REWARD_RULES=PERCENT_RULES)]

STAFF = Customer(id="1", email="staff@example.com")
ALL_EVENTS = list(EVENT_TYPES)

#: The Standard Webhooks specification's own example.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def add_endpoint(app, url, events=None, secret=None, description="CRM") -> tuple[int, str]:
    with app.app_context():
        endpoint = outgoing_webhooks.create_endpoint(url, description, events or ALL_EVENTS, STAFF, secret=secret)
        get_session().commit()
        return endpoint.id, endpoint.secret


def emit(app, event_type="referral.signed_up", data=None) -> str | None:
    with app.app_context():
        message_id = outgoing_webhooks.emit(event_type, data or {"referral": {"id": 1}})
        get_session().commit()
        return message_id


def deliveries(app) -> list[tuple[int, str, int]]:
    """``(endpoint id, state, attempts)`` of every delivery, in order."""
    with app.app_context():
        return [(d.endpoint_id, d.state, d.attempts)
                for d in get_session().scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def queued_attempts(app) -> list[tuple[str, float]]:
    """The waiting ``webhook.deliver`` tasks: ``(key, seconds from the end of the attempt before to when
    the task is due)``, so a slow machine does not shorten the wait seen."""
    with app.app_context():
        session = get_session()
        found = []
        for task in session.scalars(
            select(OutboxTask).where(OutboxTask.topic == "webhook.deliver", OutboxTask.state == "queued")
            .order_by(OutboxTask.id)
        ):
            last = session.scalar(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id == task.payload["delivery"])
                .order_by(WebhookAttempt.id.desc()).limit(1)
            )
            ended = last.attempted_at + timedelta(milliseconds=last.duration_ms)
            found.append((task.key, (task.next_attempt_at - ended).total_seconds()))
        return found


def run_waiting(app) -> outbox.RunReport:
    """Jump past every waiting task's time and run the relay once."""
    with app.app_context():
        session = get_session()
        session.execute(update(OutboxTask).where(OutboxTask.state == "queued")
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    return outbox.run_due(app)


def attempts_logged(app) -> list[WebhookAttempt]:
    with app.app_context():
        found = list(get_session().scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
        get_session().expunge_all()
        return found


# -- signatures ------------------------------------------------------------------------------------------


def test_signatures_match_the_specification_example():
    assert outgoing_webhooks.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, [SPEC_SECRET]) == SPEC_SIGNATURE


def test_new_secrets_are_valid_and_malformed_ones_are_refused():
    secret = outgoing_webhooks.new_secret()
    assert secret.startswith("whsec_") and outgoing_webhooks.check_secret(secret) == secret
    assert outgoing_webhooks.new_secret() != secret
    for bad, message in [("abc", "starts with whsec_"), ("whsec_!!!", "base64"),
                         ("whsec_c2hvcnQ=", "24 to 64 bytes")]:
        with pytest.raises(outgoing_webhooks.EndpointError, match=message):
            outgoing_webhooks.check_secret(bad)


def test_a_delivered_event_verifies_with_the_standardwebhooks_package(app, receiver):
    endpoint_id, secret = add_endpoint(app, receiver.url, ["referral.signed_up"])
    message_id = emit(app, data={"referral": {"id": 7}})
    assert message_id.startswith("msg_")
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "referral.signed_up" and payload["data"] == {"referral": {"id": 7}}
    assert datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert request.header("webhook-id") == message_id
    assert request.header("Content-Type") == "application/json"
    assert abs(int(request.header("webhook-timestamp")) - utcnow().timestamp()) < 10
    assert request.header("webhook-signature").startswith("v1,") and " " not in request.header("webhook-signature")
    with pytest.raises(WebhookVerificationError):
        Webhook(outgoing_webhooks.new_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"7", b"8"), request.headers)
    assert deliveries(app) == [(endpoint_id, "succeeded", 1)]
    [logged] = attempts_logged(app)
    assert (logged.status_code, logged.succeeded, logged.response_snippet, logged.error) == (200, True, "ok", None)


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one(app, receiver):
    endpoint_id, old_secret = add_endpoint(app, receiver.url)
    with app.app_context():
        new_secret = outgoing_webhooks.rotate_secret(get_session().get(WebhookEndpoint, endpoint_id), STAFF)
        get_session().commit()
    emit(app)
    during = receiver.requests[-1]
    assert len(during.header("webhook-signature").split(" ")) == 2
    assert Webhook(old_secret).verify(during.body, during.headers)["type"] == "referral.signed_up"
    assert Webhook(new_secret).verify(during.body, during.headers)["type"] == "referral.signed_up"

    with app.app_context():  # the window closes
        endpoint = get_session().get(WebhookEndpoint, endpoint_id)
        endpoint.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
        get_session().commit()
    emit(app)
    after = receiver.requests[-1]
    assert len(after.header("webhook-signature").split(" ")) == 1
    assert Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)


# -- each event after the action that causes it -------------------------------------------------------------


def received(receiver, secret) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for payload in receiver.verified(secret):
        found.setdefault(payload["type"], []).append(payload["data"])
    return found


def test_a_referral_signing_up_is_sent(app, receiver):
    _endpoint_id, secret = add_endpoint(app, receiver.url)
    referred = make_referral(app, campaign="spring")
    [data] = received(receiver, secret)["referral.signed_up"]
    assert data["referral"]["id"] == referred.referral_id
    assert data["referral"]["friend_user_id"] == str(referred.friend.id)
    assert data["referral"]["campaign"] == "spring"
    assert data["advocate"] == {"id": referred.advocate_id, "user_id": str(referred.advocate.id),
                                "email": referred.advocate.email}
    assert referred.friend.email not in json.dumps(data)  # the friend's email never leaves


def test_a_paid_conversion_holds_a_reward_then_it_is_released_clawed_back_and_sent_each_time(stripe_app, receiver):
    _endpoint_id, secret = add_endpoint(stripe_app, receiver.url)
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    response = deliver(client, stripe_events.checkout_session_completed(
        amount_total=5000, payment_intent="pi_hooks_1", metadata=referred.metadata,
        client_reference_id=str(referred.friend.id)))
    assert response.status_code == 200
    events = received(receiver, secret)
    [conversion] = events["conversion.created"]
    assert conversion["conversion"]["payment_key"] == "pi_hooks_1"
    assert (conversion["conversion"]["amount_minor"], conversion["conversion"]["currency"]) == (5000, "usd")
    assert conversion["conversion"]["referral_id"] == referred.referral_id
    assert conversion["advocate"]["id"] == referred.advocate_id
    [held] = events["reward.held"]
    assert (held["reward"]["amount_minor"], held["reward"]["currency"]) == (500, "usd")
    assert held["posting"] == {"reason": "reward.accrue", "amount_minor": 500, "currency": "usd",
                               "balance": "pending", "posted_at": held["posting"]["posted_at"]}
    assert held["posting"]["posted_at"].endswith("Z") and held["reward"]["hold_until"].endswith("Z")
    # The same event again (Stripe retries): nothing new is sent.
    count = len(receiver.requests)
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=5000, payment_intent="pi_hooks_1", metadata=referred.metadata,
        client_reference_id=str(referred.friend.id)))
    assert len(receiver.requests) == count

    with stripe_app.app_context():
        assert rewards.release_due(now=later(31)).released == 1
    [released] = received(receiver, secret)["reward.released"]
    assert released["reward"]["id"] == held["reward"]["id"]
    assert (released["posting"]["amount_minor"], released["posting"]["balance"]) == (500, "available")

    deliver(client, stripe_events.charge_refunded(amount=5000, amount_refunded=2500, payment_intent="pi_hooks_1"))
    [clawed] = received(receiver, secret)["reward.clawed_back"]
    assert clawed["posting"]["reason"] == "reward.clawback"
    assert (clawed["posting"]["amount_minor"], clawed["posting"]["balance"]) == (-250, "available")


def test_a_refund_before_release_claws_back_the_held_reward(stripe_app, receiver):
    _endpoint_id, secret = add_endpoint(stripe_app, receiver.url, ["reward.clawed_back"])
    client = stripe_app.test_client()
    referred = make_referral(stripe_app)
    deliver(client, stripe_events.checkout_session_completed(
        amount_total=5000, payment_intent="pi_hooks_2", metadata=referred.metadata))
    deliver(client, stripe_events.charge_refunded(amount=5000, payment_intent="pi_hooks_2"))
    [clawed] = received(receiver, secret)["reward.clawed_back"]
    assert (clawed["posting"]["reason"], clawed["posting"]["amount_minor"], clawed["posting"]["balance"]) == (
        "reward.void", -500, "pending")
    assert set(received(receiver, secret)) == {"reward.clawed_back"}  # only what it subscribed to


def test_a_redemption_is_sent_once_it_completes(stripe_app, fake_stripe, receiver):
    _endpoint_id, secret = add_endpoint(stripe_app, receiver.url, ["reward.redeemed"])
    referred = make_referral(stripe_app)
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        rewards.post_adjustment(advocate, 3000, "usd", "Opening balance", STAFF)
        get_session().commit()
        redemption = redemptions.request_redemption(advocate, 2000, "usd")
        assert redemption.state == "completed"
        redemption_id = redemption.id
    [redeemed] = received(receiver, secret)["reward.redeemed"]
    assert redeemed["redemption"]["id"] == redemption_id
    assert (redeemed["redemption"]["amount_minor"], redeemed["redemption"]["currency"]) == (2000, "usd")
    assert redeemed["redemption"]["method"] == "balance_credit"
    assert redeemed["redemption"]["stripe_balance_transaction"].startswith("cbtxn_")
    assert redeemed["advocate"]["email"] == referred.advocate.email


@pytest.mark.settings(REDEMPTION_METHOD="promotion_code")
def test_a_promotion_code_redemption_is_sent_without_the_code(stripe_app, fake_stripe, receiver):
    _endpoint_id, secret = add_endpoint(stripe_app, receiver.url, ["reward.redeemed"])
    referred = make_referral(stripe_app)
    with stripe_app.app_context():
        advocate = get_session().get(Advocate, referred.advocate_id)
        rewards.post_adjustment(advocate, 3000, "usd", "Opening balance", STAFF)
        get_session().commit()
        redemption = redemptions.request_redemption(advocate, 2000, "usd")
        get_session().refresh(redemption)
        assert redemption.state == "completed" and redemption.promotion_code
        code = redemption.promotion_code
    [redeemed] = received(receiver, secret)["reward.redeemed"]
    assert redeemed["redemption"]["method"] == "promotion_code"
    assert redeemed["redemption"]["amount_minor"] == 2000
    assert code not in receiver.requests[0].body.decode()


def test_publishing_a_testimonial_is_sent_without_the_authors_email(app, receiver):
    _endpoint_id, secret = add_endpoint(app, receiver.url, ["testimonial.published"])
    author = make_customer(app)
    staff = make_customer(app, staff=True)
    testimonial_id = make_testimonial(app, author, state="pending")
    assert receiver.requests == []  # submitted is not published
    make_testimonial(app, author, state="approved", staff=staff, consent="publish_anonymous")
    testimonial_id = make_testimonial(app, author, state="approved", staff=staff, display_name="Pat Named")
    published = received(receiver, secret)["testimonial.published"]
    assert [item["testimonial"]["anonymous"] for item in published] == [True, False]
    assert published[0]["testimonial"]["display_name"] is None
    assert published[1]["testimonial"]["id"] == testimonial_id
    assert published[1]["testimonial"]["display_name"] == "Pat Named"
    assert published[1]["testimonial"]["author_user_id"] == str(author.id)
    assert author.email not in json.dumps(published)


# -- transactional, exactly once ---------------------------------------------------------------------------------


def test_a_change_rolled_back_sends_nothing_and_leaves_no_trace(app, receiver):
    add_endpoint(app, receiver.url)
    with app.app_context():
        outgoing_webhooks.emit("referral.signed_up", {"referral": {"id": 1}})
        get_session().rollback()
        assert get_session().scalar(select(func.count()).select_from(WebhookMessage)) == 0
        assert get_session().scalar(select(func.count()).select_from(OutboxTask)) == 0
    outbox.run_due(app)
    assert receiver.requests == []


def test_no_subscriber_no_message(app, receiver):
    add_endpoint(app, receiver.url, ["testimonial.published"])
    assert emit(app, "referral.signed_up") is None
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(WebhookMessage)) == 0
    with app.app_context(), pytest.raises(ValueError, match="unknown webhook event type"):
        outgoing_webhooks.emit("referral.exploded", {})


@pytest.mark.settings(TASK_EXECUTOR="worker")
def test_each_endpoint_gets_each_message_exactly_once_however_often_the_relay_runs(app, receiver):
    first, secret_one = add_endpoint(app, receiver.url + "/one")
    second, secret_two = add_endpoint(app, receiver.url + "/two")
    add_endpoint(app, receiver.url + "/other", ["testimonial.published"])
    message_id = emit(app)
    assert receiver.requests == []  # the worker executor: nothing before the relay runs
    outbox.run_due(app)  # the fan-out, and the deliveries it queued (due at once)
    outbox.run_due(app)
    outbox.run_due(app)
    with app.app_context():  # the fan-out handler run again by hand adds nothing either
        message = get_session().scalar(select(WebhookMessage).where(WebhookMessage.message_id == message_id))
        assert outgoing_webhooks.fan_out(message.id) == []
        get_session().commit()
        keys = sorted(get_session().scalars(select(OutboxTask.key).where(OutboxTask.topic == "webhook.deliver")))
    outbox.run_due(app)
    assert sorted(request.path for request in receiver.requests) == ["/hooks/one", "/hooks/two"]
    assert {request.header("webhook-id") for request in receiver.requests} == {message_id}
    assert keys == sorted([f"{message_id}:{first}", f"{message_id}:{second}"])
    assert deliveries(app) == [(first, "succeeded", 1), (second, "succeeded", 1)]
    by_path = {request.path: request for request in receiver.requests}
    Webhook(secret_one).verify(by_path["/hooks/one"].body, by_path["/hooks/one"].headers)
    Webhook(secret_two).verify(by_path["/hooks/two"].body, by_path["/hooks/two"].headers)


@pytest.mark.settings(TASK_EXECUTOR="worker")
def test_relays_running_at_the_same_time_deliver_each_message_once_per_endpoint(app, receiver):
    import threading

    endpoints = [add_endpoint(app, f"{receiver.url}/{n}")[0] for n in range(3)]
    message_ids = [emit(app, data={"referral": {"id": n}}) for n in range(5)]
    start = threading.Barrier(4)
    failures = []

    def relay():
        try:
            start.wait()
            for _ in range(4):
                outbox.run_due(app)
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outbox.run_due(app)
    assert failures == []
    got = sorted((request.path, request.header("webhook-id")) for request in receiver.requests)
    assert got == sorted((f"/hooks/{n}", message_id) for n in range(3) for message_id in message_ids)
    assert sorted(deliveries(app)) == sorted((endpoint_id, "succeeded", 1) for endpoint_id in endpoints for _ in message_ids)


def test_one_failing_endpoint_does_not_hold_back_another(app, receiver):
    failing, _ = add_endpoint(app, receiver.url + "/down")
    working, _ = add_endpoint(app, receiver.url + "/up")
    receiver.answer(500, "boom")
    emit(app)
    assert deliveries(app) == [(failing, "pending", 1), (working, "succeeded", 1)]


# -- failures and retries ------------------------------------------------------------------------------------------


def test_a_500_is_retried_on_the_schedule_and_every_attempt_logged(app, receiver):
    endpoint_id, secret = add_endpoint(app, receiver.url)
    receiver.answer(500, "database down " + "x" * 2000)
    receiver.answer(502, "bad gateway")
    message_id = emit(app)
    [(key, wait)] = queued_attempts(app)
    assert key == f"{message_id}:{endpoint_id}:r0:a2" and 5 <= wait <= 6
    run_waiting(app)
    [(key, wait)] = queued_attempts(app)
    assert key.endswith(":a3") and 300 <= wait <= 301  # then 5 minutes
    run_waiting(app)
    assert queued_attempts(app) == []
    assert deliveries(app) == [(endpoint_id, "succeeded", 3)]
    first, second, third = attempts_logged(app)
    assert (first.status_code, first.succeeded, first.error) == (500, False, "The endpoint answered 500.")
    assert first.response_snippet.startswith("database down") and len(first.response_snippet) == 501  # truncated
    assert (second.status_code, second.response_snippet) == (502, "bad gateway")
    assert (third.status_code, third.succeeded) == (200, True)
    assert all(attempt.duration_ms >= 0 for attempt in (first, second, third))
    # Every try carried the same id and body, freshly signed.
    assert {request.header("webhook-id") for request in receiver.requests} == {message_id}
    assert len({request.body for request in receiver.requests}) == 1
    receiver.verified(secret)


def test_the_schedule_is_the_specifications():
    assert outgoing_webhooks.SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def test_after_the_last_attempt_the_delivery_has_failed(app, receiver):
    endpoint_id, _ = add_endpoint(app, receiver.url)
    receiver.answer(500, times=len(outgoing_webhooks.SCHEDULE))
    emit(app)
    waits = []
    while queued_attempts(app):
        waits.append(queued_attempts(app)[0][1])
        run_waiting(app)
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert len(waits) == len(expected)
    assert all(want <= got <= want + 1 for got, want in zip(waits, expected)), waits
    assert deliveries(app) == [(endpoint_id, "failed", 8)]
    assert len(receiver.requests) == 8


@pytest.mark.settings(WEBHOOKS_TIMEOUT_SECONDS=0.3)
def test_a_timeout_is_logged_and_retried(app, receiver):
    endpoint_id, _ = add_endpoint(app, receiver.url)
    receiver.answer(200, delay=1.5)
    emit(app)
    [logged] = attempts_logged(app)
    assert logged.status_code is None and "timeout" in logged.error
    assert deliveries(app) == [(endpoint_id, "pending", 1)]
    [(_key, wait)] = queued_attempts(app)
    assert 5 <= wait <= 6
    run_waiting(app)
    assert deliveries(app) == [(endpoint_id, "succeeded", 2)]


def test_retry_after_is_honoured_on_429_and_503(app, receiver):
    endpoint_id, _ = add_endpoint(app, receiver.url)
    receiver.answer(429, "slow down", headers={"Retry-After": "120"})
    emit(app)
    [(_key, wait)] = queued_attempts(app)
    assert 120 <= wait <= 121  # not the schedule's 5 s
    in_an_hour = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    receiver.answer(503, "maintenance", headers={"Retry-After": in_an_hour})
    run_waiting(app)
    [(_key, wait)] = queued_attempts(app)
    assert 3590 <= wait <= 3601  # the HTTP date, to the second
    [first, second] = attempts_logged(app)
    assert (first.status_code, first.details["retry_after"]) == (429, 120)
    assert second.status_code == 503
    run_waiting(app)
    assert deliveries(app) == [(endpoint_id, "succeeded", 3)]


def test_410_gone_disables_the_endpoint_and_no_further_events_go_there(app, receiver):
    endpoint_id, _ = add_endpoint(app, receiver.url)
    receiver.answer(410, "this hook was removed")
    emit(app)
    assert queued_attempts(app) == []
    assert deliveries(app) == [(endpoint_id, "failed", 1)]
    with app.app_context():
        endpoint = get_session().get(WebhookEndpoint, endpoint_id)
        assert endpoint.enabled is False
        assert "410 Gone" in endpoint.disabled_reason
    assert emit(app) is None
    assert len(receiver.requests) == 1


def test_a_retry_waiting_when_the_endpoint_is_disabled_is_cancelled(app, receiver):
    endpoint_id, _ = add_endpoint(app, receiver.url)
    receiver.answer(500)
    emit(app)
    with app.app_context():
        outgoing_webhooks.set_enabled(get_session().get(WebhookEndpoint, endpoint_id), False, STAFF)
        get_session().commit()
    run_waiting(app)
    assert deliveries(app) == [(endpoint_id, "cancelled", 1)]
    assert len(receiver.requests) == 1


@pytest.mark.settings(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=False)
def test_delivery_time_guard_refuses_an_endpoint_saved_while_local_addresses_were_allowed(app, receiver):
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = True
    endpoint_id, _ = add_endpoint(app, receiver.url)
    app.config["ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = False
    emit(app)
    assert receiver.requests == []
    [logged] = attempts_logged(app)
    assert logged.status_code is None and "Refused: 127.0.0.1 is a loopback address" in logged.error
    assert deliveries(app) == [(endpoint_id, "pending", 1)]


def test_replay_sends_the_same_message_again_and_restarts_the_schedule(app, receiver):
    endpoint_id, secret = add_endpoint(app, receiver.url)
    receiver.answer(410)
    message_id = emit(app)
    with app.app_context():
        outgoing_webhooks.set_enabled(get_session().get(WebhookEndpoint, endpoint_id), True, STAFF)
        delivery = get_session().scalar(select(WebhookDelivery))
        outgoing_webhooks.replay(delivery, STAFF)
        get_session().commit()
    assert deliveries(app) == [(endpoint_id, "succeeded", 1)]
    assert [request.header("webhook-id") for request in receiver.requests] == [message_id, message_id]
    receiver.verified(secret)
    assert [attempt.trigger for attempt in attempts_logged(app)] == ["auto", "replay"]
    with app.app_context():
        delivery = get_session().scalar(select(WebhookDelivery))
        assert delivery.replays == 1
        outgoing_webhooks.replay(delivery, STAFF)  # a delivered one may be replayed too
        get_session().commit()
    assert len(receiver.requests) == 3


def test_parse_retry_after():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert outgoing_webhooks.parse_retry_after("30", now) == 30
    assert outgoing_webhooks.parse_retry_after("Wed, 02 Dec 2026 12:10:00 GMT", now) == 600
    assert outgoing_webhooks.parse_retry_after("Wed, 02 Dec 2026 11:10:00 GMT", now) == 0
    assert outgoing_webhooks.parse_retry_after("soon", now) is None
    assert outgoing_webhooks.parse_retry_after(None, now) is None
