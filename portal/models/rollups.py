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
