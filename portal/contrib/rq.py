"""Run the outbox's tasks on RQ.

::

    from redis import Redis
    from rq import Queue
    from advocacy_portal.contrib.rq import init_rq

    init_rq(Queue("shop", connection=Redis()), app, app_factory="shop:create_app")

then ``rq worker shop --with-scheduler`` (the scheduler runs the delayed retries). After each commit that
writes a task the plugin enqueues an RQ job with the task's key (never its payload); the job builds the
Flask app once per worker process from ``app_factory`` and runs the task with
:func:`advocacy_portal.outbox.run_task`. A task to retry is enqueued again for its next attempt time.
Keep ``flask advocacy outbox run`` in cron for tasks whose hand-over to Redis failed.
"""

from __future__ import annotations

import importlib
import math
from datetime import timedelta

from flask import Flask

from advocacy_portal import outbox

_apps: dict[str, Flask] = {}


def _app(app_factory: str) -> Flask:
    """The worker process's Flask app, built once from ``"module:factory"``."""
    if app_factory not in _apps:
        module_name, _, name = app_factory.partition(":")
        target = getattr(importlib.import_module(module_name), name or "create_app")
        _apps[app_factory] = target() if not isinstance(target, Flask) else target
    return _apps[app_factory]


def run_outbox_task(key: str, app_factory: str, queue_name: str | None = None) -> str:
    """The RQ job: run one outbox task; enqueue it again for its retry time if it must be retried."""
    app = _app(app_factory)
    outcome, wait = outbox.run_for_queue(key, app=app)
    if wait is not None:  # still queued: come back when it is due (RQ's scheduler works in whole seconds)
        from rq import Queue
        from rq import get_current_job

        job = get_current_job()
        queue = Queue(queue_name or job.origin, connection=job.connection)
        queue.enqueue_in(timedelta(seconds=max(math.ceil(wait), 1)), run_outbox_task, key, app_factory,
                         queue_name)
    return outcome


def init_rq(queue, flask_app: Flask, *, app_factory: str):
    """Make ``queue`` (an :class:`rq.Queue`) the outbox's executor for ``flask_app``.

    :param app_factory: ``"module:function"`` (or ``"module:app"``) the worker imports to build the app.
    :returns: the executor function (also stored in ``ADVOCACY_TASK_EXECUTOR``).
    """

    def enqueue(topic: str, payload: dict, key: str) -> None:
        queue.enqueue(run_outbox_task, key, app_factory, queue.name, job_id=key.replace(":", "-"),
                      description=f"advocacy outbox {topic} {key}")

    flask_app.config["ADVOCACY_TASK_EXECUTOR"] = enqueue
    return enqueue
