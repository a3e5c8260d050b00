"""Advocates, the clicks on their links, and the friends their links brought."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from advocacy_portal.models.base import Base
from advocacy_portal.models.base import utcnow

#: Referral states. ``signed_up``: the friend created an account through the link. ``flagged``: refused
#: as fraud (``flag_reason`` says why) and never rewarded.
REFERRAL_STATES = ("signed_up", "flagged")

#: Device classes a click is sorted into from its User-Agent.
DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "unknown")


class Advocate(Base):
    """A customer of the host app who shares referral links.

    ``user_id`` is the host's own user id (as text, whatever its type); the plugin never owns users.
    ``code`` is the random public handle a link names; replacing it retires every link issued before.
    """

    __tablename__ = "advocacy_advocates"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    link_issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The first name the advocate lets friends see on the landing page ("Sam invited you");
    #: ``None``: friends are told "a friend invited you" (the default: nothing is shown unasked).
    inviter_name: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clicks: Mapped[list[ReferralClick]] = relationship(back_populates="advocate", lazy="raise")
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="advocate", lazy="raise", foreign_keys="Referral.advocate_id"
    )

    def __repr__(self) -> str:
        return f"<Advocate {self.id} user={self.user_id!r}>"


class ReferralClick(Base):
    """One counted visit through a referral link. The visitor's IP is kept only as a salted hash."""

    __tablename__ = "advocacy_referral_clicks"
    __table_args__ = (
        Index("ix_advocacy_referral_clicks_dedupe", "advocate_id", "ip_hash", "clicked_at"),
        #: Periods of clicks (the live count of a rollup, the fraud and privacy reads).
        Index("ix_advocacy_referral_clicks_clicked_at", "clicked_at"),
        #: The clicks of testimonial campaigns (``t<id>``), without scanning every click. Only the
        #: clicks with a campaign (few of them): one index entry less per click for the redirect.
        Index(
            "ix_advocacy_referral_clicks_campaign", "campaign", "advocate_id",
            postgresql_where=text("campaign IS NOT NULL"), sqlite_where=text("campaign IS NOT NULL"),
        ),
        CheckConstraint(
            "device_class IN ('desktop', 'mobile', 'tablet', 'bot', 'unknown')", name="device_class"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocacy_advocates.id", ondelete="CASCADE"))
    campaign: Mapped[str | None] = mapped_column(String(64))
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    referrer_host: Mapped[str | None] = mapped_column(String(255))
    device_class: Mapped[str] = mapped_column(String(16), default="unknown")
    ip_hash: Mapped[str] = mapped_column(String(64))
    #: The visitor's device cluster, hashed (:func:`advocacy_portal.services.visitors.hash_device`);
    #: blanked with ``ip_hash``, absent on clicks counted before it existed.
    device_hash: Mapped[str | None] = mapped_column(String(32))
    #: Where the click came from: ``link`` (a shared URL) or ``widget``.
    source: Mapped[str] = mapped_column(String(16), default="link")

    advocate: Mapped[Advocate] = relationship(back_populates="clicks", lazy="raise")


class Referral(Base):
    """A friend who signed up through an advocate's link: at most one per friend, ever."""

    __tablename__ = "advocacy_referrals"
    __table_args__ = (
        CheckConstraint("status IN ('signed_up', 'flagged')", name="status"),
        CheckConstraint(
            "(status = 'flagged') = (flag_reason IS NOT NULL)", name="flag_reason_iff_flagged"
        ),
        Index("ix_advocacy_referrals_created_at", "created_at"),
        Index("ix_advocacy_referrals_first_paid_at", "first_paid_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="CASCADE"), index=True
    )
    friend_user_id: Mapped[str] = mapped_column(String(255), unique=True)
    friend_email_normalized: Mapped[str | None] = mapped_column(String(320))
    campaign: Mapped[str | None] = mapped_column(String(64))
    click_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocacy_referral_clicks.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="signed_up")
    flag_reason: Mapped[str | None] = mapped_column(String(64))
    clicked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the friend first pays (Stripe attribution fills it in).
    first_paid_at: Mapped[datetime | None] = mapped_column()

    advocate: Mapped[Advocate] = relationship(
        back_populates="referrals", lazy="raise", foreign_keys=[advocate_id]
    )

    @property
    def is_flagged(self) -> bool:
        return self.status == "flagged"


class IdBlock(Base):
    """The next id free for rows that get their id before they are written: clicks batched off the
    request path take theirs from here on SQLite, which has no sequences (PostgreSQL uses the table's
    own sequence). Each process reserves a small block at a time."""

    __tablename__ = "advocacy_id_blocks"

    #: The table whose ids are handed out, e.g. ``advocacy_referral_clicks``.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_id: Mapped[int] = mapped_column(BigInteger)


class LinkQrCode(Base):
    """A referral link's QR code, drawn once and kept: the widget shows it on every view, and drawing
    one takes several milliseconds. ``link_digest`` is the SHA-256 (hex) of the full link it encodes
    (host, token and ``?via=widget`` included), so a reissued or reset link gets a code of its own."""

    __tablename__ = "advocacy_link_qr_codes"

    link_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocacy_advocates.id", ondelete="CASCADE"), index=True
    )
    #: Modules per side, without the quiet zone.
    size: Mapped[int] = mapped_column()
    #: SVG path data of the dark modules, one unit per module.
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
