"""Pages of long lists: one page of items with its position, and page numbers read safely."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

T = TypeVar("T")

#: Largest page size any list accepts, whatever the query string asks for.
MAX_PER_PAGE = 200
#: Largest page number any list accepts, so an offset always fits a 64-bit integer.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def clamp_page(page: Any, per_page: Any, default_per_page: int = 50) -> tuple[int, int]:
    """Page number and size from untrusted input: 1 to :data:`MAX_PAGE`, 1 to :data:`MAX_PER_PAGE`
    (numbers written in ASCII digits only; anything else gives the first page, the default size)."""
    page = _whole_number(page)
    page = 1 if page is None else min(MAX_PAGE, max(1, page))
    per_page = _whole_number(per_page)
    per_page = default_per_page if per_page is None else min(MAX_PER_PAGE, max(1, per_page))
    return page, per_page


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= 19:
            return sign * int(digits)
    return None
