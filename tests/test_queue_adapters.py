"""The outbox on the host's own queue: the Celery and RQ adapters, each with a real worker process on a
real Redis broker, deliver the plugin's email (and retry a failing task through the queue)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from advocacy_portal import outbox
from advocacy_portal.db import get_session
from advocacy_portal.models import OutboxTask
from tests.helpers import make_customer
from tests.helpers import wait_for
from tests.helpers import shop_notes as notes
from tests.testimonials_support import make_testimonial
from tests.webhook_receiver import LOCAL_DELIVERY

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("ADVOCACY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = [pytest.mark.slow, LOCAL_DELIVERY]


@pytest.fixture
def redis_connection():
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_URL} (.ci/run starts it)")
    yield connection
    connection.close()




def worker_env(app, queue: str, kind: str) -> dict:
    keys = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "SERVER_NAME", "ADVOCACY_MAIL_SERVER", "ADVOCACY_MAIL_PORT",
            "ADVOCACY_MAIL_SENDER", "ADVOCACY_WEBHOOKS_ALLOW_HTTP", "ADVOCACY_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES")
    config = {key: app.config[key] for key in keys}
    config["ADVOCACY_OUTBOX_RETRY_SECONDS"] = 1
    return {**os.environ, "PYTHONUNBUFFERED": "1", "SHOP_TEST_CONFIG": json.dumps(config),
            "SHOP_BROKER_URL": REDIS_URL, "SHOP_QUEUE": queue, "SHOP_QUEUE_KIND": kind}


def subscribe(app, receiver) -> str:
    """A webhook endpoint (the local receiver) for every event type: its secret."""
    from advocacy_portal import Customer
    from advocacy_portal.services import outgoing_webhooks
    from advocacy_portal.services.webhook_events import EVENT_TYPES

    with app.app_context():
        endpoint = outgoing_webhooks.create_endpoint(receiver.url, "CRM", list(EVENT_TYPES),
                                                     Customer(id="1", email="staff@example.com"))
        get_session().commit()
        return endpoint.secret


def publish_testimonial(app) -> None:
    """A testimonial written and approved: the "thanks" and "published" emails, and the webhook."""
    staff = make_customer(app, staff=True)
    make_testimonial(app, make_customer(app, email="writer@example.com"), state="approved", staff=staff)


def webhook_events(receiver, secret) -> list[str]:
    return [payload["type"] for payload in receiver.verified(secret)]


def states(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(t.topic, t.state) for t in get_session().scalars(select(OutboxTask).order_by(OutboxTask.id))]


def stop(process) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        return output
    return process.communicate()[0]


def test_celery_runs_the_outbox_emails_a_webhook_and_a_retry_through_a_real_worker_on_redis(
        app, smtp, redis_connection, receiver):
    from celery import Celery

    from advocacy_portal.contrib.celery import init_celery

    queue = f"advocacy-test-{uuid.uuid4().hex[:10]}"
    celery = Celery("shop-test-sender", broker=REDIS_URL)
    celery.conf.update(task_default_queue=queue, broker_connection_retry_on_startup=True)
    init_celery(celery, app)
    assert callable(app.config["ADVOCACY_TASK_EXECUTOR"])

    secret = subscribe(app, receiver)
    publish_testimonial(app)  # writes the emails and the webhook event, and hands their keys to Celery
    with app.app_context():
        outbox.enqueue("shop.note", {"text": "retried through celery", "fail": 1})
        get_session().commit()
    assert smtp.messages == [] and receiver.requests == []
    assert {state for _topic, state in states(app)} == {"queued"}

    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "tests.queue_host:celery", "worker", "--pool", "solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=REPO, env=worker_env(app, queue, "celery"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: len(smtp.messages) == 2 and len(receiver.requests) == 1
                        and notes(app) == ["retried through celery"], timeout=45), stop(worker)
    finally:
        output = stop(worker)
        redis_connection.delete(queue)
    assert sorted(m["Subject"] for m in smtp.messages) == ["Thank you for your testimonial",
                                                           "Your testimonial is published"]
    assert webhook_events(receiver, secret) == ["testimonial.published"]  # signature verified
    assert {state for _topic, state in states(app)} == {"done"}, output
    assert {"webhook.event", "webhook.deliver", "email", "shop.note"} <= {topic for topic, _ in states(app)}
    with app.app_context():
        note_task = get_session().scalar(select(OutboxTask).where(OutboxTask.topic == "shop.note"))
        assert note_task.attempts == 2  # failed once, sent again by the adapter with a countdown
    assert "advocacy_portal.run_outbox_task" in output


def test_rq_runs_the_outbox_emails_a_webhook_and_a_retry_through_a_real_worker_on_redis(
        app, smtp, redis_connection, receiver):
    from redis import Redis
    from rq import Queue

    from advocacy_portal.contrib.rq import init_rq

    queue_name = f"advocacy-test-{uuid.uuid4().hex[:10]}"
    queue = Queue(queue_name, connection=Redis.from_url(REDIS_URL))
    init_rq(queue, app, app_factory="tests.queue_host:make_app")

    secret = subscribe(app, receiver)
    publish_testimonial(app)
    with app.app_context():
        outbox.enqueue("shop.note", {"text": "retried through rq", "fail": 1})
        get_session().commit()
    assert smtp.messages == [] and len(queue) == 4  # two emails, the webhook event, the note

    worker = subprocess.Popen(
        [str(BIN / "rq"), "worker", queue_name, "--url", REDIS_URL, "--with-scheduler",
         "--worker-class", "rq.worker.SimpleWorker"],
        cwd=REPO, env=worker_env(app, queue_name, "rq"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: len(smtp.messages) == 2 and len(receiver.requests) == 1
                        and notes(app) == ["retried through rq"], timeout=45), stop(worker)
    finally:
        output = stop(worker)
        queue.empty()
    assert {m["To"] for m in smtp.messages} == {"writer@example.com"}
    assert webhook_events(receiver, secret) == ["testimonial.published"]
    assert {state for _topic, state in states(app)} == {"done"}, output
    assert "run_outbox_task('advocacy-outbox:" in output  # the webhook's delivery task went through RQ too
