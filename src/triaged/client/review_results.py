"""The SDK's typed review-workspace results: a page of review items with its queue counts,
a reviewer's progress and the agreement between reviewers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triaged.client.results import ReviewItem, _opt_float, _opt_str

__all__ = [
    "LabelAgreement",
    "QueueCounts",
    "ReviewAgreement",
    "ReviewItemPage",
    "ReviewProgress",
    "ReviewerPairAgreement",
]


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


@dataclass(frozen=True, slots=True)
class ReviewerPairAgreement:
    """Two reviewers (key ids, and their key names) over the ``items`` both answered: the
    share they agreed on and Cohen's kappa (None when it is undefined)."""

    reviewers: list[str]
    names: list[str]
    items: int
    agreement: float
    kappa: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewerPairAgreement:
        return cls(
            reviewers=[str(r) for r in data["reviewers"]],
            names=[str(n) for n in data.get("names") or []],
            items=int(data["items"]),
            agreement=float(data["agreement"]),
            kappa=_opt_float(data.get("kappa")),
        )


@dataclass(frozen=True, slots=True)
class LabelAgreement:
    """Agreement on one label (either answer gave it) over ``items``: Cohen's kappa."""

    label: str
    items: int
    kappa: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelAgreement:
        return cls(
            label=str(data["label"]),
            items=int(data["items"]),
            kappa=_opt_float(data.get("kappa")),
        )


@dataclass(frozen=True, slots=True)
class ReviewAgreement:
    """Agreement between reviewers over the ``items`` two of them answered: overall, per
    reviewer pair and per label, and the ``open_disagreements`` waiting for an admin;
    ``overlap_rate`` is the taxonomy's (None for the whole workspace)."""

    overlap_rate: float | None
    items: int
    agreement: float | None
    kappa: float | None
    by_pair: list[ReviewerPairAgreement]
    by_label: list[LabelAgreement]
    open_disagreements: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewAgreement:
        return cls(
            overlap_rate=_opt_float(data.get("overlap_rate")),
            items=int(data.get("items") or 0),
            agreement=_opt_float(data.get("agreement")),
            kappa=_opt_float(data.get("kappa")),
            by_pair=[ReviewerPairAgreement.from_dict(p) for p in data.get("by_pair") or []],
            by_label=[LabelAgreement.from_dict(lb) for lb in data.get("by_label") or []],
            open_disagreements=int(data.get("open_disagreements") or 0),
        )
