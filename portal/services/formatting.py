"""One date, time and number format for every page, email and export, from the locale (Babel).

Templates reach these as ``advocacy_date``, ``advocacy_datetime`` and ``advocacy_number`` (template
globals of every plugin blueprint). The locale is ``ADVOCACY_LOCALE`` and the time zone shown is
``ADVOCACY_DISPLAY_TIMEZONE``; stored times stay UTC.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from advocacy_portal.config import config_value


def _locale() -> str:
    return config_value("LOCALE") or "en_US"


def _zone():
    name = config_value("DISPLAY_TIMEZONE") or "UTC"
    return timezone.utc if name == "UTC" else ZoneInfo(name)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(_zone())


def format_date(value: date | datetime | None, fmt: str = "medium") -> str:
    """``2026-12-02`` → ``"Dec 2, 2026"`` (en_US, ``medium``); ``None`` → ``"—"``."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = _aware(value).date()
    return _format_day(value, fmt, _locale())


@lru_cache(maxsize=4096)
def _format_day(value: date, fmt: str, locale: str) -> str:
    # A report by day labels hundreds of days per page, and the same ones on every page: Babel's
    # pattern formatting, done once per day, format and locale.
    return babel_dates.format_date(value, format=fmt, locale=locale)


def format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp in the display time zone: ``"Dec 2, 2026, 4:05 PM"`` (en_US); ``None`` → ``"—"``."""
    if value is None:
        return "—"
    aware = _aware(value)
    day = babel_dates.format_date(aware.date(), format=fmt, locale=_locale())
    clock = babel_dates.format_time(aware, format="short", locale=_locale())
    return f"{day}, {clock}"


def format_number(value: int | float | None, decimals: int | None = None) -> str:
    """``12345`` → ``"12,345"``; ``None`` → ``"—"``; ``decimals`` fixes the number of fraction digits."""
    if value is None:
        return "—"
    return _format_number(value, decimals, _locale())


# The overview of a year by day formats thousands of figures; Babel parses the locale each time.
@lru_cache(maxsize=8192)
def _format_number(value: int | float, decimals: int | None, locale: str) -> str:
    if decimals is None:
        return babel_numbers.format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale)
