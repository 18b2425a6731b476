"""Paging shared by every read model's queries: a page of rows with the cursor of the next one,
and the bounds of a page's size (`first`). Each model encodes its own cursors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from write_side.errors import InvalidInput

__all__ = ["MAX_PAGE_SIZE", "Page", "check_page_size"]

T = TypeVar("T")

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None  # pass as `after` for the next page; None on the last page


def check_page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE_SIZE}", field="first")
    return first
