"""The SDK's typed results: one frozen dataclass per API object.

They mirror the server's response schemas (``/openapi.json``); ``tests/test_sdk_contract.py``
checks the fields and types of each against the schema so the two cannot drift.  Objects with
open-ended parts keep the whole answer in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triaged.client.model_results import ModelInfo, TrainingProgress
from triaged.client.webhook_results import Webhook, WebhookDelivery
from triaged.types import Alternative, Bucket

__all__ = [
    "AutoErrorEstimate",
    "BucketShares",
    "Classification",
    "Decision",
    "Evaluation",
    "Key",
    "LaneError",
    "ModelInfo",
    "ReviewAlternative",
    "ReviewItem",
    "ReviewStats",
    "Routing",
    "RoutingBound",
    "TaxonomyInfo",
    "TrainingProgress",
    "Usage",
    "Webhook",
    "WebhookDelivery",
    "WhatIf",
]


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_strs(value: Any) -> list[str] | None:
    return None if value is None else [str(v) for v in value]


def _alternatives(items: Any) -> list[Alternative]:
    return [Alternative(str(a["label"]), float(a["confidence"])) for a in items or []]


def _classification_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "label": data["label"],
        "confidence": float(data["confidence"]),
        "bucket": Bucket(data["bucket"]),
        "alternatives": _alternatives(data["alternatives"]),
        "prediction_set": _opt_strs(data.get("prediction_set")),
        "taxonomy": data["taxonomy"],
        "taxonomy_version": int(data["taxonomy_version"]),
        "model_version": data["model_version"],
        "latency_ms": float(data.get("latency_ms") or 0.0),
        "created_at": str(data.get("created_at", "")),
        "policy_version": _opt_int(data.get("policy_version")),
        "routing_reason": _opt_str(data.get("routing_reason")),
        "external_id": data.get("external_id"),
        "metadata": data.get("metadata"),
        "key_id": data.get("key_id"),
    }


@dataclass(frozen=True, slots=True)
class Classification:
    """One classification, as logged by the server under ``id`` (``POST /v1/classify``).

    ``policy_version`` is the routing policy that chose the bucket, ``routing_reason`` why;
    ``prediction_set`` the labels that hold the right one with probability 0.9 (None for
    models without conformal calibration and for decisions read back from the log)."""

    id: str
    label: str
    confidence: float
    bucket: Bucket
    alternatives: list[Alternative]
    taxonomy: str
    taxonomy_version: int
    model_version: str
    latency_ms: float
    created_at: str
    policy_version: int | None = None
    routing_reason: str | None = None
    prediction_set: list[str] | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    key_id: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        return cls(**_classification_fields(data))


@dataclass(frozen=True, slots=True)
class Decision:
    """A logged decision, with its text and the reviewer's final label once set."""

    id: str
    label: str
    confidence: float
    bucket: Bucket
    alternatives: list[Alternative]
    taxonomy: str
    taxonomy_version: int
    model_version: str
    latency_ms: float
    created_at: str
    text: str
    policy_version: int | None = None
    routing_reason: str | None = None
    prediction_set: list[str] | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    key_id: str | None = None
    final_label: str | None = None
    final_source: str | None = None
    resolved_at: str | None = None
    redacted_at: str | None = None  # when its text and metadata were erased

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            **_classification_fields(data),
            text=str(data.get("text", "")),
            final_label=data.get("final_label"),
            final_source=data.get("final_source"),
            resolved_at=data.get("resolved_at"),
            redacted_at=data.get("redacted_at"),
        )


@dataclass(frozen=True, slots=True)
class Erased:
    """What :meth:`~triaged.client.Client.erase_decisions` did: ``erased`` decisions lost
    their text and metadata by this call; ``decisions``: every id matched."""

    erased: int
    decisions: list[str]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Erased:
        return cls(int(data["erased"]), [str(d) for d in data.get("decisions") or []])


_ITEM_FIELDS = frozenset(
    {
        "id",
        "decision_id",
        "queue",
        "status",
        "taxonomy",
        "text",
        "label",
        "label_now",
        "confidence",
        "alternatives",
        "lease_expires_at",
        "action",
        "final_label",
        "final_source",
        "resolved_at",
        "note",
    }
)


@dataclass(frozen=True, slots=True)
class ReviewAlternative:
    """A runner-up of a review item's decision: its label, its share of the confidence,
    whether it is in the decision's prediction set (None: the model has no sets) and its
    name in the taxonomy now (``label_now``: None when removed since)."""

    label: str
    confidence: float
    in_set: bool | None = None
    label_now: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewAlternative:
        in_set = data.get("in_set")
        now = data.get("label_now", data["label"])
        return cls(
            str(data["label"]),
            float(data["confidence"]),
            None if in_set is None else bool(in_set),
            None if now is None else str(now),
        )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A queued decision waiting for (or claimed by, or resolved by) a human reviewer.

    ``action``, ``final_label``, ``final_source``, ``resolved_at`` and ``note`` are set once the
    item is resolved; every other field the server sends is in ``extra``.  ``label_now``: the
    model's label as the taxonomy calls it now (``label`` unless renamed or merged since the
    decision; None when removed, and it cannot be confirmed)."""

    id: str
    decision_id: str
    queue: str
    status: str
    taxonomy: str
    text: str
    label: str
    confidence: float
    alternatives: list[ReviewAlternative]
    lease_expires_at: str | None
    action: str | None = None
    final_label: str | None = None
    final_source: str | None = None
    resolved_at: str | None = None
    note: str | None = None
    extra: dict[str, Any] | None = None
    label_now: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItem:
        return cls(
            id=data["id"],
            decision_id=data["decision_id"],
            queue=data["queue"],
            status=str(data.get("status", "")),
            taxonomy=str(data.get("taxonomy", "")),
            text=data["text"],
            label=data["label"],
            confidence=float(data["confidence"]),
            alternatives=[ReviewAlternative.from_dict(a) for a in data.get("alternatives") or []],
            lease_expires_at=data.get("lease_expires_at"),
            action=data.get("action"),
            final_label=data.get("final_label"),
            final_source=data.get("final_source"),
            resolved_at=data.get("resolved_at"),
            note=data.get("note"),
            extra={k: v for k, v in data.items() if k not in _ITEM_FIELDS} or None,
            label_now=data.get("label_now", data["label"]),
        )


@dataclass(frozen=True, slots=True)
class RoutingBound:
    """The evidence behind the auto threshold: an upper confidence bound of the auto lane's
    error (``None`` while there is none), its point estimate, and the ``n`` items (``errors``
    of them wrong) it rests on, collected ``since``; ``basis``: ``training`` | ``live``."""

    upper: float | None
    estimate: float | None
    n: int
    errors: int
    since: str | None
    basis: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingBound:
        return cls(
            upper=_opt_float(data.get("upper")),
            estimate=_opt_float(data.get("estimate")),
            n=int(data.get("n") or 0),
            errors=int(data.get("errors") or 0),
            since=data.get("since"),
            basis=str(data.get("basis") or ""),
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """A taxonomy's routing policy (one version): thresholds, the error target and the bound.

    ``auto`` is ``None`` while the auto lane is closed (everything acts through ``review``);
    ``reason`` says why, in words."""

    taxonomy: str
    version: int
    auto: float | None
    review: float
    audit_rate: float
    auto_error_target: float
    confidence_level: float
    expected_out_of_scope: float
    source: str
    reason: str
    auto_lane_open: bool
    bound: RoutingBound
    created_at: str
    raw: dict[str, Any] = field(repr=False)
    effective_audit_rate: float | None = None  # higher while live evidence is thin
    model_id: str | None = None  # the model whose evidence set the threshold
    review_source: str = "manual"  # evidence: the hold threshold chosen from the evidence
    review_floor: float | None = None  # the lowest hold threshold the evidence may choose
    hold_share: float | None = None  # the out-of-scope share the hold threshold was chosen for
    auto_share: float | None = None  # ... and the one the auto threshold was certified for
    created_by: str | None = None  # the API key id that made it (None: the service itself)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Routing:
        return cls(
            taxonomy=data["taxonomy"],
            version=int(data["version"]),
            auto=_opt_float(data.get("auto")),
            review=float(data["review"]),
            audit_rate=float(data["audit_rate"]),
            auto_error_target=float(data["auto_error_target"]),
            confidence_level=float(data["confidence_level"]),
            expected_out_of_scope=float(data["expected_out_of_scope"]),
            source=str(data.get("source") or ""),
            reason=str(data.get("reason") or ""),
            auto_lane_open=bool(data.get("auto_lane_open")),
            bound=RoutingBound.from_dict(data.get("bound") or {}),
            created_at=str(data.get("created_at") or ""),
            raw=dict(data),
            effective_audit_rate=_opt_float(data.get("effective_audit_rate")),
            model_id=data.get("model_id"),
            review_source=str(data.get("review_source") or "manual"),
            review_floor=_opt_float(data.get("review_floor")),
            hold_share=_opt_float(data.get("hold_share")),
            auto_share=_opt_float(data.get("auto_share")),
            created_by=_opt_str(data.get("created_by")),
        )


@dataclass(frozen=True, slots=True)
class BucketShares:
    """Shares of decisions per bucket (they sum to 1; ``None`` when the window had none)."""

    auto: float | None
    review: float | None
    hold: float | None


@dataclass(frozen=True, slots=True)
class AutoErrorEstimate:
    """The auto lane's error at the what-if thresholds, from the reviewed decisions (audits
    importance-weighted): point estimate and interval (``None`` without evidence)."""

    estimate: float | None
    lower: float | None
    upper: float | None
    n_reviewed: int
    effective_n: float
    confidence_level: float | None = None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """What the logged decisions of a window would have done under other thresholds."""

    auto: float | None
    review: float | None
    n_decisions: int
    shares: BucketShares
    auto_error: AutoErrorEstimate
    since: str | None
    until: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WhatIf:
        shares = data.get("shares") or {}
        err = data.get("auto_error") or {}
        window = data.get("window") or {}
        return cls(
            auto=_opt_float(data.get("auto")),
            review=_opt_float(data.get("review")),
            n_decisions=int(data.get("n_decisions") or 0),
            shares=BucketShares(
                auto=_opt_float(shares.get("auto")),
                review=_opt_float(shares.get("review")),
                hold=_opt_float(shares.get("hold")),
            ),
            auto_error=AutoErrorEstimate(
                estimate=_opt_float(err.get("estimate")),
                lower=_opt_float(err.get("lower")),
                upper=_opt_float(err.get("upper")),
                n_reviewed=int(err.get("n_reviewed") or 0),
                effective_n=float(err.get("effective_n") or 0.0),
                confidence_level=_opt_float(err.get("confidence_level")),
            ),
            since=window.get("since"),
            until=window.get("until"),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    plan: str
    period: str
    used: int
    limit: int | None
    remaining: int | None
    reset: str
    per_minute_limit: int | None
    per_minute_used: int
    reserved: int = 0  # held by queued and running bulk jobs (not in ``remaining``)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        minute = data.get("per_minute") or {}
        return cls(
            plan=data["plan"],
            period=data["period"],
            used=int(data["used"]),
            limit=data.get("limit"),
            remaining=data.get("remaining"),
            reset=data["reset"],
            per_minute_limit=minute.get("limit"),
            per_minute_used=int(minute.get("used", 0)),
            reserved=int(data.get("reserved") or 0),
        )


@dataclass(frozen=True, slots=True)
class TaxonomyInfo:
    """A taxonomy's current version; ``model`` is the active model, ``training`` the newest job.

    ``thresholds``: those the definition sets (one not set is the routing policy's to choose);
    ``auto_threshold`` (None: lane closed) and ``review_threshold``: what classify routes by
    now, in routing policy version ``routing_version`` (``Client.routing()``: the policy)."""

    name: str
    version: int
    ready: bool
    status: str
    labels: list[str]
    thresholds: dict[str, float]
    raw: dict[str, Any] = field(repr=False)
    model: ModelInfo | None = None
    training: ModelInfo | None = None
    auto_threshold: float | None = None
    review_threshold: float | None = None
    routing_version: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaxonomyInfo:
        model, training = data.get("model"), data.get("training")
        routing, given = data.get("routing") or {}, data.get("thresholds") or {}
        return cls(
            name=data["name"],
            version=int(data["version"]),
            ready=bool(data.get("ready")),
            status=str(data.get("status", "")),
            labels=[lb["name"] for lb in data.get("labels", [])],
            thresholds={k: float(v) for k, v in given.items() if v is not None},
            raw=dict(data),
            model=ModelInfo.from_dict(model) if model else None,
            training=ModelInfo.from_dict(training) if training else None,
            auto_threshold=_opt_float(routing.get("auto")),
            review_threshold=_opt_float(routing.get("review")),
            routing_version=_opt_int(routing.get("version")),
        )


@dataclass(frozen=True, slots=True)
class Key:
    """An API key's record; ``key`` (the secret) is set only in the answer that created it."""

    id: str
    workspace: str
    role: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    key: str | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Key:
        return cls(
            id=data["id"],
            workspace=str(data["workspace"]),
            role=str(data["role"]),
            name=str(data.get("name") or ""),
            prefix=str(data.get("prefix") or ""),
            created_at=str(data.get("created_at") or ""),
            revoked_at=data.get("revoked_at"),
            key=data.get("key"),
        )


@dataclass(frozen=True, slots=True)
class LaneError:
    """Measured error of one lane (``auto`` from its audit sample) with a Clopper–Pearson
    interval ``[ci_low, ci_high]`` at ``confidence_level``; ``error`` is ``None`` unreviewed."""

    lane: str
    queue: str
    reviewed: int
    errors: int
    error: float | None
    ci_low: float | None
    ci_high: float | None
    confidence_level: float
    method: str

    @classmethod
    def from_dict(cls, lane: str, data: Mapping[str, Any]) -> LaneError:
        return cls(
            lane=lane,
            queue=str(data["queue"]),
            reviewed=int(data.get("reviewed") or 0),
            errors=int(data.get("errors") or 0),
            error=_opt_float(data.get("error")),
            ci_low=_opt_float(data.get("ci_low")),
            ci_high=_opt_float(data.get("ci_high")),
            confidence_level=float(data.get("confidence_level") or 0.0),
            method=str(data.get("method") or ""),
        )


def _lanes(data: Any) -> dict[str, LaneError]:
    return {str(k): LaneError.from_dict(str(k), v) for k, v in (data or {}).items()}


@dataclass(frozen=True, slots=True)
class ReviewStats:
    """The review queues of a workspace (or one taxonomy): open items and their age per queue,
    reviewer throughput, agreement with the model and each lane's measured error."""

    taxonomy: str | None
    generated_at: str
    counts: dict[str, int]
    oldest_age_seconds: dict[str, float | None]
    audit_rate: float | None
    lane_error: dict[str, LaneError]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewStats:
        return cls(
            taxonomy=data.get("taxonomy"),
            generated_at=str(data.get("generated_at") or ""),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            oldest_age_seconds={
                str(k): _opt_float(v) for k, v in (data.get("oldest_age_seconds") or {}).items()
            },
            audit_rate=_opt_float(data.get("audit_rate")),
            lane_error=_lanes(data.get("lane_error")),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Figures of ``triaged eval`` on a taxonomy (``evaluation``: ``holdout`` | ``given``)."""

    evaluation: str
    taxonomy: str
    taxonomy_version: int
    model_version: str
    mode: str
    n_test: int
    accuracy: float | None
    macro_f1: float | None
    ece: float | None
    nll: float | None
    auto_share: float
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            evaluation=str(data.get("evaluation") or ""),
            taxonomy=str(data["taxonomy"]),
            taxonomy_version=int(data["taxonomy_version"]),
            model_version=str(data["model_version"]),
            mode=str(data.get("mode") or ""),
            n_test=int(data.get("n_test") or 0),
            accuracy=_opt_float(data.get("accuracy")),
            macro_f1=_opt_float(data.get("macro_f1")),
            ece=_opt_float(data.get("ece")),
            nll=_opt_float(data.get("nll")),
            auto_share=float(data.get("auto_share") or 0.0),
            raw=dict(data),
        )
