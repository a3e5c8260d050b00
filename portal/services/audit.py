"""Writing and reading the audit log (:class:`advocacy_portal.models.AuditEntry`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from advocacy_portal.db import get_session
from advocacy_portal.models import AuditEntry


def record_action(
    actor: Any,
    action: str,
    subject_type: str,
    subject_id: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Add one entry to the audit log (flushed; the caller's unit of work commits it with the action).

    :param actor: a :class:`advocacy_portal.Customer` (or anything with ``id`` and ``email``) for
        the staff member who acted, or ``None`` for the system.
    :param action: dotted name of what was done, e.g. ``"testimonial.approve"``.
    :param subject_type: the kind of record acted on, e.g. ``"testimonial"``.
    :param subject_id: that record's id.
    :param before: the changed fields as they were (JSON-serialisable).
    :param after: the changed fields as they are now (JSON-serialisable).
    :param reason: why, in the actor's words.
    """
    entry = AuditEntry(
        actor_user_id=None if actor is None else str(actor.id),
        actor_email=None if actor is None else getattr(actor, "email", None),
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=before,
        after=after,
        reason=reason,
    )
    session = get_session()
    session.add(entry)
    session.flush()
    return entry


def history(subject_type: str, subject_id: Any) -> list[AuditEntry]:
    """Every audit entry of one record, oldest first."""
    return list(
        get_session().scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == str(subject_id))
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    )


def recent_actions(limit: int = 100, *, action_prefix: str | None = None) -> list[AuditEntry]:
    """The newest audit entries, optionally only those whose action starts with ``action_prefix``."""
    query = sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return list(get_session().scalars(query.limit(limit)))


def search(
    *,
    actor: str | None = None,
    action_prefix: str | None = None,
    subject_type: str | None = None,
    start=None,
    end=None,
    page: int = 1,
    per_page: int = 50,
):
    """Audit entries, newest first, filtered by who (part of the actor's email or their user id), what
    (an action prefix such as ``testimonial.``, or the kind of record) and when (``[start, end)``,
    datetimes): a :class:`~advocacy_portal.services.paging.Page`."""
    from advocacy_portal.services.paging import Page
    from advocacy_portal.services.paging import clamp_page

    page, per_page = clamp_page(page, per_page, default_per_page=50)
    query = sa.select(AuditEntry)
    if actor:
        if actor.lower() == "system":
            query = query.where(AuditEntry.actor_user_id.is_(None))
        else:
            query = query.where(sa.or_(
                sa.func.lower(AuditEntry.actor_email).contains(actor.lower(), autoescape=True),
                AuditEntry.actor_user_id == actor,
            ))
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if start is not None:
        query = query.where(AuditEntry.created_at >= start)
    if end is not None:
        query = query.where(AuditEntry.created_at < end)
    session = get_session()
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ))
    return Page(items, page, per_page, total)


def subject_types() -> list[str]:
    """The kinds of records the log holds entries about (for the filter)."""
    return sorted(get_session().scalars(sa.select(AuditEntry.subject_type).distinct()))
