"""The SDK's typed taxonomy-admin results: a taxonomy's versions and one version's whole
definition, its routing-policy versions, its review settings and the reviewed examples it
learns from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triaged.client.results import RoutingBound, _opt_float, _opt_str

__all__ = [
    "LabelDefinition",
    "ReviewSettings",
    "ReviewedExample",
    "RoutingVersion",
    "TaxonomyDefinition",
    "TaxonomyVersion",
]


@dataclass(frozen=True, slots=True)
class TaxonomyVersion:
    """One version of a taxonomy (a new one on every change of labels or examples)."""

    version: int
    n_examples: int
    created_at: str
    #: labels this version renamed or merged into another: ``{old name: new name}``
    renames: dict[str, str] = field(default_factory=dict)
    #: the API key id that made it (None: made before this was recorded)
    created_by: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaxonomyVersion:
        return cls(
            version=int(data["version"]),
            n_examples=int(data.get("n_examples") or 0),
            created_at=str(data.get("created_at") or ""),
            renames={str(k): str(v) for k, v in (data.get("renames") or {}).items()},
            created_by=_opt_str(data.get("created_by")),
        )


@dataclass(frozen=True, slots=True)
class RoutingVersion:
    """One version of a taxonomy's routing policy as it was written: the thresholds
    (``auto`` ``None``: the lane was closed), what made it (``source``: ``training``,
    ``manual`` or ``live``) and why, the bound it rested on, and who made it
    (``created_by``: an API key id; ``None`` when the service changed it by itself)."""

    version: int
    auto: float | None
    review: float
    review_source: str
    source: str
    reason: str
    auto_lane_open: bool
    model_id: str | None
    created_at: str
    created_by: str | None
    bound: RoutingBound

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingVersion:
        return cls(
            version=int(data["version"]),
            auto=_opt_float(data.get("auto")),
            review=float(data["review"]),
            review_source=str(data.get("review_source") or "manual"),
            source=str(data.get("source") or ""),
            reason=str(data.get("reason") or ""),
            auto_lane_open=bool(data.get("auto_lane_open")),
            model_id=_opt_str(data.get("model_id")),
            created_at=str(data.get("created_at") or ""),
            created_by=_opt_str(data.get("created_by")),
            bound=RoutingBound.from_dict(data.get("bound") or {}),
        )


@dataclass(frozen=True, slots=True)
class LabelDefinition:
    """A label of a taxonomy version, with its description and examples."""

    name: str
    description: str
    examples: list[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelDefinition:
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            examples=[str(e) for e in data.get("examples") or []],
        )


@dataclass(frozen=True, slots=True)
class TaxonomyDefinition:
    """The full definition of one taxonomy version, examples included; ``out_of_scope``:
    the example texts that none of the labels fits."""

    name: str
    description: str
    version: int
    thresholds: dict[str, float]
    labels: list[LabelDefinition]
    raw: dict[str, Any] = field(repr=False)
    out_of_scope: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaxonomyDefinition:
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            version=int(data["version"]),
            thresholds={str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
            labels=[LabelDefinition.from_dict(lb) for lb in data.get("labels") or []],
            raw=dict(data),
            out_of_scope=[str(t) for t in data.get("out_of_scope") or []],
        )


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    """A taxonomy's review settings: ``guidelines`` shown to reviewers, ``overlap_rate`` (the
    share of items a second reviewer also answers) and ``reopen_window_seconds`` (how long a
    reviewer may undo an answer); ``updated_at``/``updated_by`` (a key id) once changed."""

    taxonomy: str
    guidelines: str
    overlap_rate: float
    reopen_window_seconds: int
    updated_at: str | None = None
    updated_by: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewSettings:
        return cls(
            taxonomy=str(data["taxonomy"]),
            guidelines=str(data.get("guidelines") or ""),
            overlap_rate=float(data.get("overlap_rate") or 0.0),
            reopen_window_seconds=int(data.get("reopen_window_seconds") or 0),
            updated_at=_opt_str(data.get("updated_at")),
            updated_by=_opt_str(data.get("updated_by")),
        )


@dataclass(frozen=True, slots=True)
class ReviewedExample:
    """A resolved review item as an example (``source``: ``review``): the reviewer's
    ``label`` (or ``oos``), the model's, and whether it trains or evaluates (``split``)."""

    text: str
    label: str
    source: str
    item_id: str
    decision_id: str
    queue: str
    action: str
    model_label: str
    split: str
    resolved_at: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewedExample:
        return cls(
            text=str(data["text"]),
            label=str(data["label"]),
            source=str(data.get("source") or ""),
            item_id=str(data["item_id"]),
            decision_id=str(data["decision_id"]),
            queue=str(data.get("queue") or ""),
            action=str(data.get("action") or ""),
            model_label=str(data.get("model_label") or ""),
            split=str(data.get("split") or ""),
            resolved_at=str(data.get("resolved_at") or ""),
        )
