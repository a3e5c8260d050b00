"""The one input layer of every plugin view: query arguments and path ids read safely.

A value that cannot be what the view needs never reaches a service or the database: ids outside
``1..2**31-1`` (:data:`MAX_ID`) are a 404 (the ``advocacy_id`` URL converter), NUL and surrogate characters anywhere in
the path, the query string or a form are a 400 (404 in the path), numbers are ASCII digits only (``²``
and Arabic-Indic digits pass ``str.isdigit()`` but are no page number), and dates stay within
2000..2100 (``analytics.FIRST_YEAR``, ``LAST_YEAR``), so extending a period never overflows.

Staff and customer list pages are forgiving, as they always were: an unreadable page number, filter
or date falls back to its default (``strict=False``). JSON endpoints pass ``strict=True`` and answer a
400 ``{"error": {"code": "bad_request", "message": ...}}`` through their blueprint's error handler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from flask import abort
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from advocacy_portal.services.analytics import FIRST_YEAR
from advocacy_portal.services.analytics import LAST_YEAR
from advocacy_portal.services.paging import MAX_PAGE
from advocacy_portal.services.paging import MAX_PER_PAGE

#: Largest id any table holds: ids are ``INTEGER`` columns, 32 bits signed on PostgreSQL (a larger
#: number is a ``DataError`` there, an ``OverflowError`` on SQLite beyond 64 bits).
MAX_ID = 2**31 - 1

_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)
_ISO_DATE = re.compile(r"([0-9]{4})-[0-9]{2}-[0-9]{2}", re.ASCII)
# NUL (PostgreSQL refuses it in text) and lone surrogates (no encoding can store them).
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class BadInput(BadRequest):
    """A query argument the endpoint cannot use (a 400 with ``description`` as the message)."""


class IdConverter(IntegerConverter):
    """``<advocacy_id:name>``: a row id, ASCII digits within ``1..MAX_ID``; anything else is a 404
    before the view runs (Werkzeug's ``int`` converter takes any size and Unicode digits)."""

    regex = r"[0-9]{1,19}"  # longer is no id (and int() refuses numbers of over 4,300 digits)

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def has_bad_characters(value: str) -> bool:
    """Whether ``value`` holds NUL or a lone surrogate."""
    return _BAD_CHARACTERS.search(value) is not None


def whole_number(raw: object, low: int, high: int) -> int | None:
    """``raw`` as an int within ``low..high`` when it is one written in ASCII digits, else ``None``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw):
        number = int(raw)
    else:
        return None
    return number if low <= number <= high else None


def int_arg(name: str, default: int | None, low: int, high: int, *, strict: bool = False) -> int | None:
    """The whole number in query argument ``name``; ``default`` when it is missing or empty.

    :raises BadInput: (``strict`` only) when it is no ASCII whole number within ``low..high``; without
        ``strict`` such a value gives ``default``.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    number = whole_number(raw, low, high)
    if number is None:
        if strict:
            raise BadInput(f"'{name}' must be a whole number from {low} to {high}")
        return default
    return number


def page_arg(name: str = "page", *, strict: bool = False) -> int:
    """The page number in ``name``: 1 to :data:`advocacy_portal.services.paging.MAX_PAGE`."""
    return int_arg(name, 1, 1, MAX_PAGE, strict=strict)


def per_page_arg(default: int, name: str = "per_page", maximum: int = MAX_PER_PAGE, *,
                 strict: bool = False) -> int:
    """The page size in ``name``: 1 to ``maximum``; a larger one is cut to ``maximum`` unless ``strict``."""
    raw = request.args.get(name)
    if not strict and whole_number(raw, maximum, MAX_ID) is not None:
        return maximum
    return int_arg(name, default, 1, maximum, strict=strict)


def date_arg(name: str, *, strict: bool = False) -> date | None:
    """The ISO date (``YYYY-MM-DD``) in ``name`` within ``FIRST_YEAR``..``LAST_YEAR``;
    ``None`` when missing (or, without ``strict``, unreadable)."""
    raw = request.args.get(name)
    if not raw:
        return None
    found = parse_date(raw)
    if found is None and strict:
        raise BadInput(f"'{name}' must be a date (YYYY-MM-DD) between {FIRST_YEAR} and {LAST_YEAR}")
    return found


def parse_date(raw: object) -> date | None:
    """``raw`` as a date when it is ``YYYY-MM-DD`` in ASCII within the allowed years, else ``None``."""
    if isinstance(raw, date):
        candidate = raw
    elif isinstance(raw, str) and _ISO_DATE.fullmatch(raw):
        try:
            candidate = date.fromisoformat(raw)
        except ValueError:
            return None
    else:
        return None
    return candidate if FIRST_YEAR <= candidate.year <= LAST_YEAR else None


def choice_arg(name: str, choices: Iterable[str], default: str | None = None, *,
               strict: bool = False) -> str | None:
    """Query argument ``name`` when it is one of ``choices``; ``default`` when missing (or, without
    ``strict``, anything else)."""
    raw = request.args.get(name)
    allowed = list(choices)
    if raw is None or raw == "":
        return default
    if raw in allowed:
        return raw
    if strict:
        raise BadInput(f"'{name}' must be one of: {', '.join(allowed)}")
    return default


def choice_arg_value(value: object, choices: Iterable[str]) -> str | None:
    """``value`` when it is one of ``choices``, else ``None`` (for form fields a validator skipped)."""
    return value if isinstance(value, str) and value in set(choices) else None


def text_arg(name: str, max_length: int) -> str | None:
    """Query argument ``name`` stripped and cut to ``max_length`` characters; ``None`` when empty."""
    return (request.args.get(name) or "").strip()[:max_length] or None


def refuse_bad_characters(endpoint, values) -> None:
    """A URL value preprocessor: NUL or a lone surrogate in a path value is a 404, in a query
    argument or a posted form field a 400, before any view or database sees it."""
    for value in (values or {}).values():
        if isinstance(value, str) and has_bad_characters(value):
            abort(404)
    req = request._get_current_object()
    if req.environ.get("QUERY_STRING"):  # no query string, no arguments to parse
        for key, value in req.args.items(multi=True):
            if has_bad_characters(key) or has_bad_characters(value):
                raise BadInput("The address holds a character no text may hold (NUL or a lone surrogate).")
    if req.method in ("POST", "PUT", "PATCH") and req.mimetype in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        for key, value in req.form.items(multi=True):
            if has_bad_characters(key) or has_bad_characters(value):
                raise BadInput("The form holds a character no text may hold (NUL or a lone surrogate).")


def guard_input(bp) -> None:
    """Refuse NUL and surrogate characters on every request of ``bp`` (see :func:`refuse_bad_characters`)."""
    bp.url_value_preprocessor(refuse_bad_characters)


def period_args(default_days: int, max_days: int, *, start: str = "start", end: str = "end",
                today: date | None = None) -> tuple[date, date]:
    """The first and last day (both included) of the period in query arguments ``start`` and
    ``end``; the last ``default_days`` days when both are missing, one missing one taken from the other.

    :raises BadInput: when a date is unreadable or outside the allowed years, when the period ends
        before it starts, or when it is longer than ``max_days`` days.
    """
    from datetime import datetime
    from datetime import timedelta
    from datetime import timezone

    first, last = date_arg(start, strict=True), date_arg(end, strict=True)
    today = today or datetime.now(timezone.utc).date()
    if first is None and last is None:
        last = today
        first = today - timedelta(days=default_days - 1)
    elif first is None:
        first = last - timedelta(days=default_days - 1)
    elif last is None:
        last = max(first, min(today, first + timedelta(days=default_days - 1)))
    if first > last:
        raise BadInput(
            f"The period ends ({last.isoformat()}) before it starts ({first.isoformat()}): "
            f"choose a start on or before the end."
        )
    if (last - first).days + 1 > max_days:
        raise BadInput(f"The period is longer than {max_days} days: choose a shorter one.")
    return first, last
