"""Fraud review of referral rewards: the payments a rule blocked or held, staff decisions, and the
household allow-list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: States of a review. ``held``: waiting for staff, never released; ``approved``: released when its
#: hold ends; ``voided``: the reward taken back (reversible until release); ``blocked``: a block rule
#: matched, never rewarded.
FRAUD_REVIEW_STATES = ("held", "approved", "voided", "blocked")
#: Kinds of allow-list entries: an advocate and friend pair (a household), or one hashed IP address.
FRAUD_ALLOWANCE_KINDS = ("pair", "ip")


class FraudReview(Base):
    """What the fraud rules said about one referred payment, and what staff decided."""

    __tablename__ = "advocacy_fraud_reviews"
    __table_args__ = (
        CheckConstraint("state IN ('held', 'approved', 'voided', 'blocked')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversion_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_conversions.id", ondelete="CASCADE"), unique=True
    )
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("advocacy_rewards.id", ondelete="SET NULL"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocacy_advocates.id", ondelete="CASCADE"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("advocacy_referrals.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: The rules that matched (codes of :data:`advocacy_portal.services.fraud.RULE_LABELS`).
    rules: Mapped[list[Any]] = mapped_column(JSON)
    #: The matched rules in words, for staff.
    detail: Mapped[str | None] = mapped_column(String(500))
    #: The hashed IP address of the friend's click, so staff can allow it.
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    decided_by_user_id: Mapped[str | None] = mapped_column(String(255))
    decided_by_email: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(Text)
    #: When ``ADVOCACY_FRAUD_DEADLINE_ACTION`` applies to a reward still held.
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FraudAllowance(Base):
    """A household the hold rules leave alone: an advocate and friend pair, or a hashed IP address."""

    __tablename__ = "advocacy_fraud_allowances"
    __table_args__ = (CheckConstraint("kind IN ('pair', 'ip')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    advocate_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="CASCADE"), index=True
    )
    friend_user_id: Mapped[str | None] = mapped_column(String(255))
    ip_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by_user_id: Mapped[str | None] = mapped_column(String(255))
    created_by_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
