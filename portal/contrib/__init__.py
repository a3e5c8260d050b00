"""Adapters that hand the outbox's tasks to a host's own queue (Celery, RQ). Optional: each needs its
extra (``pip install advocacy-portal[celery]`` or ``[rq]``)."""
