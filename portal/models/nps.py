"""The advocacy loop: NPS survey invitations (every ask), answers, detractor follow-up cases, their
messages, notes and history, the shop's root causes and the customers who unsubscribed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: How a survey was asked: an email with score links, or only the question on the customer's pages.
NPS_CHANNELS = ("email", "in_app")
#: Why it was asked.
NPS_REASONS = ("manual", "list", "first_payment", "payment", "resurvey")
#: ``sent``: asked, no answer yet. ``answered``. ``skipped``: not asked (throttled, unsubscribed, no
#: email), with ``skip_reason``: logged, never queued.
NPS_INVITATION_STATES = ("sent", "answered", "skipped")
#: Where an answer came from.
NPS_ANSWER_CHANNELS = ("email", "in_app")
#: A case's life.
CASE_STATUSES = ("open", "in_progress", "waiting_on_customer", "resolved", "closed")
#: What opened a case: a low score, or the customer's own "I have a problem".
CASE_SOURCES = ("score", "request")
#: Entries of a case's timeline: messages to and from the customer, internal notes (staff only),
#: status changes, assignments.
CASE_EVENT_KINDS = ("opened", "staff_message", "customer_message", "note", "status", "assigned", "due")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class NpsInvitation(Base):
    """One ask of the survey (or one skipped ask, with its reason)."""

    __tablename__ = "advocacy_nps_invitations"
    __table_args__ = (
        CheckConstraint(_in("channel", NPS_CHANNELS), name="channel"),
        CheckConstraint(_in("reason", NPS_REASONS), name="reason"),
        CheckConstraint(_in("state", NPS_INVITATION_STATES), name="state"),
        Index("ix_advocacy_nps_invitations_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    reason: Mapped[str] = mapped_column(String(16), default="manual")
    state: Mapped[str] = mapped_column(String(16), default="sent")
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    #: The staff member who sent it (``None``: automatic).
    sent_by_user_id: Mapped[str | None] = mapped_column(String(255))
    #: The case a re-survey follows up on.
    case_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()


class NpsResponse(Base):
    """The answer to one invitation; a second answer within the invitation's life updates it."""

    __tablename__ = "advocacy_nps_responses"
    __table_args__ = (
        CheckConstraint("score BETWEEN 0 AND 10", name="score"),
        CheckConstraint(_in("channel", NPS_ANSWER_CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_nps_invitations.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    score: Mapped[int] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    #: How many times the answer was changed after the first.
    changes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def category(self) -> str:
        """``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6)."""
        return "promoter" if self.score >= 9 else "passive" if self.score >= 7 else "detractor"


class NpsRootCause(Base):
    """One entry of the shop's short list of root causes (edited on the staff pages)."""

    __tablename__ = "advocacy_nps_root_causes"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NpsCase(Base):
    """A detractor follow-up case: owned by a staff member until resolved."""

    __tablename__ = "advocacy_nps_cases"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("source", CASE_SOURCES), name="source"),
        CheckConstraint(
            "status NOT IN ('resolved', 'closed') OR resolved_at IS NOT NULL OR status = 'closed'",
            name="resolved_at",
        ),
        Index("ix_advocacy_nps_cases_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(16))
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_nps_responses.id", ondelete="SET NULL"), index=True
    )
    #: The score that opened it (``None`` for a customer's own request).
    score: Mapped[int | None] = mapped_column()
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24), default="open")
    owner_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    owner_email: Mapped[str | None] = mapped_column(String(320))
    #: What the customer sees of the owner: a first name.
    owner_first_name: Mapped[str | None] = mapped_column(String(80))
    due_at: Mapped[datetime] = mapped_column()
    root_cause_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_nps_root_causes.id", ondelete="SET NULL"), index=True
    )
    root_cause_text: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    @property
    def is_finished(self) -> bool:
        return self.status in ("resolved", "closed")

    def is_overdue(self, now: datetime | None = None) -> bool:
        return not self.is_finished and self.due_at < (now or utcnow())


class NpsCaseEvent(Base):
    """One entry of a case's timeline: a message, an internal note, a status change, an assignment."""

    __tablename__ = "advocacy_nps_case_events"
    __table_args__ = (CheckConstraint(_in("kind", CASE_EVENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("advocacy_nps_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    #: Who wrote it: a staff member, the customer, or ``None`` (the system).
    author_user_id: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[str | None] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def customer_visible(self) -> bool:
        """Internal notes are for staff only; everything else the customer sees."""
        return self.kind != "note"


class NpsUnsubscribe(Base):
    """A customer who asked for no more surveys; honoured from the moment it is written."""

    __tablename__ = "advocacy_nps_unsubscribes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
