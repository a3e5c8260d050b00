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
    """Page number and size from untrusted input: at least 1, at most :data:`MAX_PER_PAGE`."""
    try:
        page = max(1, int(page))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    except (TypeError, ValueError):
        per_page = default_per_page
    return page, per_page
