"""The audit log: who did what to which record, with the state before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow


class AuditEntry(Base):
    """One staff (or system) action. Rows are only ever added, never changed.

    ``subject_type``/``subject_id`` name the record acted on (``"testimonial"``, ``"42"``);
    ``before``/``after`` hold the fields the action changed, as JSON.
    """

    __tablename__ = "advocacy_audit_log"
    __table_args__ = (Index("ix_advocacy_audit_log_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The host user id of whoever acted; ``None`` for the system (a command, a webhook).
    actor_user_id: Mapped[str | None] = mapped_column(String(255))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    #: What was done, dotted: ``"testimonial.approve"``, ``"ledger.adjust"``.
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
