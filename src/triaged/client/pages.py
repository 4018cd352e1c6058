"""Pages of lists: every list of the API answers ``{"data", "next_cursor", "has_more"}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from triaged.client.results import Decision

__all__ = ["DecisionPage", "Page"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """One page of decisions; pass ``next_cursor`` back for the next (None: the last page)."""

    decisions: list[Decision]
    next_cursor: str | None
    has_more: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionPage:
        return cls(
            [Decision.from_dict(d) for d in data["data"]],
            data.get("next_cursor"),
            bool(data.get("has_more")),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of any list: ``data``, and ``next_cursor`` (opaque) while ``has_more``."""

    data: list[T]
    next_cursor: str | None
    has_more: bool

    @classmethod
    def read(cls, data: Mapping[str, Any], item: Callable[[Any], T]) -> Page[T]:
        """The list envelope ``{"data", "next_cursor", "has_more"}`` with items read by ``item``."""
        return cls(
            [item(d) for d in data["data"]], data.get("next_cursor"), bool(data.get("has_more"))
        )
