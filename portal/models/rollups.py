"""Rollups: clicks counted per day, per advocate and day, and per advocate, folded in from the raw
clicks up to a watermark (:mod:`advocacy_portal.services.rollups`).

A reader adds the live count of the clicks above the watermark, in the same statement, so a figure is
exact whatever the fold has reached. ``day`` is the UTC calendar day of ``clicked_at``.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import Date
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from advocacy_portal.models.base import Base


class ClickDay(Base):
    """All counted clicks of one day, every advocate together."""

    __tablename__ = "advocacy_click_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)


class AdvocateClickDay(Base):
    """One advocate's counted clicks of one day (no row for a day without clicks)."""

    __tablename__ = "advocacy_advocate_click_days"
    __table_args__ = (Index("ix_advocacy_advocate_click_days_day", "day"),)

    advocate_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)


class AdvocateClickTotal(Base):
    """One advocate's counted clicks of all time, for the leaderboard."""

    __tablename__ = "advocacy_advocate_click_totals"

    advocate_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0, index=True)


class RollupMark(Base):
    """How far a rollup has been folded in: every raw row with ``id <= last_id`` is counted in it,
    none above."""

    __tablename__ = "advocacy_rollup_marks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    folded_at: Mapped[datetime | None] = mapped_column()


class ReportFigures:
    """The figures a report rollup row holds: a day's (:class:`ReportDay`) or an advocate's sum of all
    days (:class:`ReportAdvocateTotal`), in one currency, in minor units where money."""

    signups: Mapped[int] = mapped_column(BigInteger, default=0)
    flagged: Mapped[int] = mapped_column(BigInteger, default=0)
    paying_signups: Mapped[int] = mapped_column(BigInteger, default=0)
    first_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    payments: Mapped[int] = mapped_column(BigInteger, default=0)
    referred_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    referral_revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    net_revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    referral_net_revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    rewards: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_available: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_clawed_back: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportDay(ReportFigures, Base):
    """The program's figures of one UTC day, of one advocate's friends (``advocate_id``) or of the whole
    program (``advocate_id = 0``), in one currency (``""`` holds the counts that have none).

    Signups, flagged signups and signups that went on to pay count on the day of the signup; first
    payments on the day of the first payment; payments and revenue on the day paid; a reward's cost on
    the day its payment was paid. Folded from the raw tables (:mod:`advocacy_portal.services.report_rollups`)
    for the days not marked in :class:`ReportDirtyDay`.
    """

    __tablename__ = "advocacy_report_days"
    __table_args__ = (Index("ix_advocacy_report_days_day", "day"),)

    advocate_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)


class ReportDirtyDay(Base):
    """A day whose :class:`ReportDay` rows are stale: written by database triggers on referrals,
    payments and rewards in the same transaction as the change, removed by the fold that recounts it.
    Readers count a marked day live from the raw tables, so figures are exact before the fold."""

    __tablename__ = "advocacy_report_dirty_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class ReportAdvocateTotal(ReportFigures, Base):
    """The sum of one advocate's :class:`ReportDay` rows of all time in one currency, for the
    leaderboard; moved in the same transaction as the rows it sums."""

    __tablename__ = "advocacy_report_advocate_totals"

    advocate_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
