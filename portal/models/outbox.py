"""The outbox: every side effect (an email, a Stripe call, a webhook delivery, a Stripe event's effects)
written as a task in the same transaction as the change that causes it, and run by the relay
(:mod:`advocacy_portal.outbox`) once committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: Task states. ``queued``: to run (again) from ``next_attempt_at``; ``done``; ``dead``: parked after
#: its last attempt failed (or its handler gave up), shown to staff, replayable.
OUTBOX_STATES = ("queued", "done", "dead")


class OutboxTask(Base):
    """One side effect to run after the commit that wrote it, at least until it succeeds once."""

    __tablename__ = "advocacy_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'done', 'dead')", name="state"),
        # Partial indexes: only the waiting tasks, so claiming stays fast with millions of done ones.
        Index("ix_advocacy_outbox_due", "next_attempt_at", "id",
              postgresql_where=text("state = 'queued'"), sqlite_where=text("state = 'queued'")),
        Index("ix_advocacy_outbox_group", "group_key", "id",
              postgresql_where=text("state = 'queued' AND group_key IS NOT NULL"),
              sqlite_where=text("state = 'queued' AND group_key IS NOT NULL")),
        Index("ix_advocacy_outbox_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the task does: its handler (``email``, ``stripe.event``, ``stripe.redemption``, ...).
    topic: Mapped[str] = mapped_column(String(64), index=True)
    #: Dedupe key: a second task with the same key is never written.
    key: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Tasks of one group run one at a time, in id order (the events of one Stripe customer, ...).
    group_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict] = mapped_column(JSON)
    #: The record the task is about, for the staff page (``testimonial``, ``12``).
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    #: Runs started so far (counted when a run claims the task, so a run that crashed counts too).
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A run holds the task until then; another run may take it over afterwards.
    locked_until: Mapped[datetime | None] = mapped_column()
    #: Which run holds it: only that run may mark it done.
    lease: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"<OutboxTask {self.id} {self.topic} {self.state}>"
