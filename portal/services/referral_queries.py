"""Referrals, the reads of the advocate's page: counts of clicks, signups and paying friends, the
newest referrals, and friends' addresses masked for display.

The writes (advocates, clicks, attribution) are in :mod:`advocacy_portal.services.referrals`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select

from advocacy_portal.db import get_session
from advocacy_portal.models import Advocate
from advocacy_portal.models import Referral
from advocacy_portal.services import rollups


@dataclass(frozen=True)
class AdvocateStats:
    """The counts on an advocate's referral page."""

    clicks: int
    signups: int
    paying_friends: int


def advocate_stats(advocate: Advocate) -> AdvocateStats:
    """Counted clicks, credited signups (flagged ones excluded) and friends who have paid."""
    session = get_session()
    clicks = rollups.clicks_of_advocate(advocate.id)
    signups, paying = session.execute(
        select(func.count(), func.count(Referral.first_paid_at)).where(
            Referral.advocate_id == advocate.id, Referral.status == "signed_up"
        )
    ).one()
    return AdvocateStats(clicks=clicks or 0, signups=signups or 0, paying_friends=paying or 0)


def recent_referrals(advocate: Advocate, limit: int = 20) -> list[Referral]:
    """The advocate's newest referrals, flagged ones included, newest first."""
    return list(
        get_session().scalars(
            select(Referral)
            .where(Referral.advocate_id == advocate.id)
            .order_by(Referral.created_at.desc(), Referral.id.desc())
            .limit(limit)
        )
    )


def mask_email(normalized_email: str | None) -> str:
    """``j***@example.com``: enough for an advocate to recognise a friend, not to harvest addresses."""
    if not normalized_email or "@" not in normalized_email:
        return "a friend"
    local, _, domain = normalized_email.partition("@")
    return f"{local[:1]}***@{domain}"
