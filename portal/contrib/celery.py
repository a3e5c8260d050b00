"""Run the outbox's tasks on Celery.

::

    from celery import Celery
    from advocacy_portal.contrib.celery import init_celery

    celery = Celery("shop", broker="redis://localhost:6379/0")
    init_celery(celery, app)        # sets ADVOCACY_TASK_EXECUTOR on the Flask app

After each commit that writes a task the plugin sends Celery the task's key (never its payload: the
database stays the one source of truth); the Celery task runs it with :func:`advocacy_portal.outbox.run_task`
in an app context. A task that must be retried is sent again with a countdown to its next attempt, so
retries need nothing else; still schedule ``advocacy_portal.outbox_sweep`` (every minute, with beat), or
``flask advocacy outbox run`` from cron, for tasks whose hand-over to the broker failed.
"""

from __future__ import annotations

from flask import Flask

from advocacy_portal import outbox

#: Names of the Celery tasks this adapter registers.
RUN_TASK_NAME = "advocacy_portal.run_outbox_task"
SWEEP_TASK_NAME = "advocacy_portal.outbox_sweep"


def init_celery(celery_app, flask_app: Flask, *, queue: str | None = None):
    """Register the plugin's Celery tasks on ``celery_app`` and make them the outbox's executor.

    :param queue: the Celery queue to send to (the default queue when ``None``).
    :returns: the executor function (also stored in ``ADVOCACY_TASK_EXECUTOR``).
    """

    @celery_app.task(name=RUN_TASK_NAME, ignore_result=True, acks_late=True)
    def run_outbox_task(key: str) -> str:
        outcome, wait = outbox.run_for_queue(key, app=flask_app)
        if wait is not None:  # still queued: come back when it is due
            run_outbox_task.apply_async(args=[key], countdown=wait + 0.05, queue=queue)
        return outcome

    @celery_app.task(name=SWEEP_TASK_NAME, ignore_result=True)
    def outbox_sweep() -> int:
        return outbox.run_due(flask_app).ran

    def enqueue(topic: str, payload: dict, key: str) -> None:
        run_outbox_task.apply_async(args=[key], queue=queue)

    flask_app.config["ADVOCACY_TASK_EXECUTOR"] = enqueue
    flask_app.extensions.setdefault("advocacy_celery", celery_app)
    return enqueue
