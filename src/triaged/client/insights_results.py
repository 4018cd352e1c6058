"""The SDK's typed insights result (``GET /v1/taxonomies/{name}/insights``): gap clusters,
overlapping labels and each label's health.  Open-ended parts (``summary``, an overlap's
``evidence``) stay dicts; the whole answer is in ``raw``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triaged.client.results import _opt_float, _opt_str

__all__ = ["GapCluster", "Insights", "LabelHealth", "LabelOverlap"]


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value or []]


@dataclass(frozen=True, slots=True)
class GapCluster:
    """A group of similar inputs that no label fits well, with a proposed label."""

    id: int
    size: int
    held: int
    share_of_held: float
    share_of_candidates: float
    proposed_label: str
    description: str
    keywords: list[str]
    keyword_scores: list[float]
    terms: list[str]
    between: list[str]
    between_counts: list[dict[str, Any]]
    examples: list[str]
    decision_ids: list[str]
    new_category_votes: int
    reviewer_names: list[str]
    mean_confidence: float
    cohesion: float
    coverage: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GapCluster:
        return cls(
            id=int(data["id"]),
            size=int(data["size"]),
            held=int(data.get("held") or 0),
            share_of_held=float(data.get("share_of_held") or 0.0),
            share_of_candidates=float(data.get("share_of_candidates") or 0.0),
            proposed_label=str(data.get("proposed_label") or ""),
            description=str(data.get("description") or ""),
            keywords=_strs(data.get("keywords")),
            keyword_scores=[float(v) for v in data.get("keyword_scores") or []],
            terms=_strs(data.get("terms")),
            between=_strs(data.get("between")),
            between_counts=[dict(v) for v in data.get("between_counts") or []],
            examples=_strs(data.get("examples")),
            decision_ids=_strs(data.get("decision_ids")),
            new_category_votes=int(data.get("new_category_votes") or 0),
            reviewer_names=_strs(data.get("reviewer_names")),
            mean_confidence=float(data.get("mean_confidence") or 0.0),
            cohesion=float(data.get("cohesion") or 0.0),
            coverage=float(data.get("coverage") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class LabelOverlap:
    """Two labels that overlap (``score``), the evidence and a suggested ``action``."""

    labels: list[str]
    score: float
    evidence: dict[str, Any]
    action: str
    rationale: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelOverlap:
        return cls(
            labels=_strs(data["labels"]),
            score=float(data["score"]),
            evidence=dict(data.get("evidence") or {}),
            action=str(data.get("action") or ""),
            rationale=str(data.get("rationale") or ""),
        )


@dataclass(frozen=True, slots=True)
class LabelHealth:
    """How one label did over the window (decisions the model gave it)."""

    label: str
    volume: int
    share: float
    mean_confidence: float | None
    buckets: dict[str, int]
    held_share: float | None
    review_share: float | None
    reviewed: int
    corrected: int
    correction_rate: float | None
    new_category: int
    received_corrections: int
    corrected_to: list[dict[str, Any]]
    ece: float | None
    accuracy_reviewed: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelHealth:
        return cls(
            label=str(data["label"]),
            volume=int(data.get("volume") or 0),
            share=float(data.get("share") or 0.0),
            mean_confidence=_opt_float(data.get("mean_confidence")),
            buckets={str(k): int(v) for k, v in (data.get("buckets") or {}).items()},
            held_share=_opt_float(data.get("held_share")),
            review_share=_opt_float(data.get("review_share")),
            reviewed=int(data.get("reviewed") or 0),
            corrected=int(data.get("corrected") or 0),
            correction_rate=_opt_float(data.get("correction_rate")),
            new_category=int(data.get("new_category") or 0),
            received_corrections=int(data.get("received_corrections") or 0),
            corrected_to=[dict(v) for v in data.get("corrected_to") or []],
            ece=_opt_float(data.get("ece")),
            accuracy_reviewed=_opt_float(data.get("accuracy_reviewed")),
        )


@dataclass(frozen=True, slots=True)
class Insights:
    """Why the model is uncertain about a taxonomy over ``[since, until)``."""

    taxonomy: str
    taxonomy_version: int
    generated_at: str
    summary: dict[str, Any]
    gap_clusters: list[GapCluster]
    overlaps: list[LabelOverlap]
    labels: list[LabelHealth]
    timings: dict[str, float]
    since: str | None
    until: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Insights:
        window = data.get("window") or {}
        return cls(
            taxonomy=str(data["taxonomy"]),
            taxonomy_version=int(data["taxonomy_version"]),
            generated_at=str(data.get("generated_at") or ""),
            summary=dict(data.get("summary") or {}),
            gap_clusters=[GapCluster.from_dict(c) for c in data.get("gap_clusters") or []],
            overlaps=[LabelOverlap.from_dict(o) for o in data.get("overlaps") or []],
            labels=[LabelHealth.from_dict(h) for h in data.get("labels") or []],
            timings={str(k): float(v) for k, v in (data.get("timings") or {}).items()},
            since=_opt_str(window.get("since")),
            until=_opt_str(window.get("until")),
            raw=dict(data),
        )
