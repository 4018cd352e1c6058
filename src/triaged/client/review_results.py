"""The SDK's typed review-workspace results: a page of review items with its queue counts,
and a reviewer's progress."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triaged.client.results import ReviewItem, _opt_float, _opt_str

__all__ = ["QueueCounts", "ReviewItemPage", "ReviewProgress"]


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """One review queue's items: ``pending`` (claimable), ``claimed`` (under a live lease),
    ``resolved``, ``open`` (not resolved) and the oldest open one's time and age."""

    pending: int
    claimed: int
    resolved: int
    open: int
    oldest_created_at: str | None = None
    oldest_age_seconds: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueCounts:
        return cls(
            pending=int(data.get("pending") or 0),
            claimed=int(data.get("claimed") or 0),
            resolved=int(data.get("resolved") or 0),
            open=int(data.get("open") or 0),
            oldest_created_at=_opt_str(data.get("oldest_created_at")),
            oldest_age_seconds=_opt_float(data.get("oldest_age_seconds")),
        )


@dataclass(frozen=True, slots=True)
class ReviewItemPage:
    """One page of review items (oldest first), pass ``next_cursor`` back for the next
    (None: the last page); ``counts``: per queue (hold, review, audit) of the same taxonomy."""

    data: list[ReviewItem]
    next_cursor: str | None
    has_more: bool
    counts: dict[str, QueueCounts]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItemPage:
        return cls(
            data=[ReviewItem.from_dict(d) for d in data["data"]],
            next_cursor=data.get("next_cursor"),
            has_more=bool(data.get("has_more")),
            counts={
                str(k): QueueCounts.from_dict(v) for k, v in (data.get("counts") or {}).items()
            },
        )


@dataclass(frozen=True, slots=True)
class ReviewProgress:
    """The calling key's answers today (UTC, less those it reopened), the open items left
    and its rate per hour over its last hour of work (None: no answer in that hour)."""

    done_today: int
    remaining: int
    rate_per_hour: float | None
    taxonomy: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewProgress:
        return cls(
            done_today=int(data["done_today"]),
            remaining=int(data["remaining"]),
            rate_per_hour=_opt_float(data.get("rate_per_hour")),
            taxonomy=_opt_str(data.get("taxonomy")),
        )
