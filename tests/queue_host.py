"""The test shop as a Celery or RQ worker process builds it: ``SHOP_TEST_CONFIG`` (JSON) is the app's
config, ``SHOP_BROKER_URL`` and ``SHOP_QUEUE`` the broker and queue (tests/test_queue_adapters.py)."""

from __future__ import annotations

import json
import os

from celery import Celery

from advocacy_portal.contrib.celery import init_celery
from tests.host_app import create_app


def make_app():
    """The shop for an RQ worker: tasks it writes itself (a webhook's deliveries) go back to RQ too."""
    app = create_app(json.loads(os.environ["SHOP_TEST_CONFIG"]))
    if os.environ.get("SHOP_QUEUE_KIND") == "rq":
        from redis import Redis
        from rq import Queue

        from advocacy_portal.contrib.rq import init_rq

        init_rq(Queue(os.environ["SHOP_QUEUE"], connection=Redis.from_url(os.environ["SHOP_BROKER_URL"])), app,
                app_factory="tests.queue_host:make_app")
    return app


app = make_app()
celery = Celery("shop", broker=os.environ["SHOP_BROKER_URL"])
celery.conf.update(task_default_queue=os.environ["SHOP_QUEUE"], broker_connection_retry_on_startup=True,
                   worker_hijack_root_logger=False)
if os.environ.get("SHOP_QUEUE_KIND") != "rq":
    init_celery(celery, app)
