"""Bodies of the routing-policy routes (interfaces §4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triaged.api.paging import Page

__all__ = [
    "ERROR_RESPONSES",
    "ErrorOut",
    "RoutingBoundOut",
    "RoutingOut",
    "RoutingUpdate",
    "RoutingVersionList",
    "RoutingVersionOut",
    "WhatIfOut",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Structured context: the field, a limit, a reason."
    )
    request_id: str | None = Field(
        default=None, description="The `Request-Id` of this request (also a response header)."
    )


class ErrorOut(BaseModel):
    """Every error: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _err("Missing or unknown API key."),
    403: _err("The key's role may not do this."),
    404: _err("No such taxonomy in the caller's workspace."),
    422: _err("A parameter is invalid (a value outside [0, 1], review above auto ...)."),
}


class RoutingBoundOut(BaseModel):
    upper: float | None = Field(description="Upper confidence bound of the auto lane's error.")
    estimate: float | None
    n: int = Field(description="Evidence behind it (held-out items or audited decisions).")
    errors: int
    since: str | None = Field(description="Start of the live evidence (basis live).")
    basis: Literal["training", "live"]


class LiveOut(BaseModel):
    n: int
    errors: int
    estimate: float | None
    lower: float
    upper: float
    effective_n: float
    since: str


class RoutingOut(BaseModel):
    taxonomy: str
    version: int = Field(description="Routing-policy version (0: none recorded yet).")
    auto: float | None = Field(description="Auto threshold; null: the auto lane is closed.")
    review: float = Field(description="Hold threshold: below it a decision waits for a person.")
    review_source: Literal["evidence", "manual"] = Field(
        default="manual",
        description="evidence: the hold threshold is chosen from the model's held-out evidence "
        "for the expected out-of-scope share (never below review_floor); manual: set by hand.",
    )
    review_floor: float | None = Field(
        default=None, description="Lowest hold threshold the evidence may choose (evidence only)."
    )
    hold_share: float | None = Field(
        default=None,
        description="Out-of-scope share the hold threshold was chosen for: expected_out_of_scope, "
        "or the share the reviews measured after a live change.",
    )
    auto_share: float | None = Field(
        default=None,
        description="Out-of-scope share the auto threshold was certified for at training (or "
        "a PUT): expected_out_of_scope, or the lower end of the share the reviews measured "
        "when that is clearly more.",
    )
    audit_rate: float = Field(description="Configured audit share of auto decisions.")
    effective_audit_rate: float = Field(
        description="Audit share applied now (higher while live evidence is thin)."
    )
    auto_error_target: float
    confidence_level: float
    expected_out_of_scope: float
    source: Literal["training", "manual", "live"]
    reason: str
    auto_lane_open: bool
    bound: RoutingBoundOut
    live: LiveOut | None = Field(
        default=None, description="The auto lane's error measured by audits since this version."
    )
    model_id: str | None = None
    created_at: str
    created_by: str | None = Field(
        default=None,
        description="Id of the API key that made this version (a PUT, or thresholds set in the "
        "taxonomy's definition); \"operator\" for the server's command line; null when the "
        "service made it by itself (a new model's certification, a live change).",
    )


class RoutingVersionOut(BaseModel):
    """One version of a taxonomy's routing policy, as it was written."""

    version: int = Field(description="Routing-policy version (1, 2, ... per taxonomy).")
    auto: float | None = Field(description="Auto threshold; null: the auto lane was closed.")
    review: float = Field(description="Hold threshold: below it a decision waited for a person.")
    review_source: Literal["evidence", "manual"] = Field(
        description="evidence: the hold threshold was chosen from the model's held-out "
        "evidence; manual: set by hand."
    )
    source: Literal["training", "manual", "live"] = Field(
        description="What made the version: `training` (certified from a model's held-out "
        "evidence), `manual` (pinned through the API or the definition) or `live` (the live "
        "audits moved the auto threshold)."
    )
    reason: str = Field(description="Why the version is what it is, in words.")
    auto_lane_open: bool = Field(description="Whether the version routed anything to auto.")
    model_id: str | None = Field(description="The model version the policy was set for.")
    created_at: str = Field(description="When the version was written (ISO 8601, UTC).")
    created_by: str | None = Field(
        description='Id of the API key that made it ("operator": the server\'s command '
        "line); null when the service made it by itself (a new model's certification, a live "
        "change)."
    )
    bound: RoutingBoundOut = Field(
        description="The bound of the auto lane's error the version was written with."
    )


class RoutingVersionList(Page[RoutingVersionOut]):
    """The routing-policy versions of a taxonomy, newest first."""


Unit = Field(default=None, ge=0.0, le=1.0)


class RoutingUpdate(BaseModel):
    """Any of the fields; a new policy version, never a retrain.  ``auto: null``
    recomputes the threshold from the model's evidence; a number pins it (manual).
    ``review``: a number pins the hold threshold; ``null`` lets the evidence choose it again;
    ``review_floor`` lets the evidence choose it, never below that value.  Numbers only:
    ``true`` or ``"0.9"`` is refused (strict), not read as 1.0 or 0.9."""

    model_config = ConfigDict(extra="forbid", strict=True)

    auto: float | None = Unit
    review: float | None = Unit
    review_floor: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Let the evidence choose the hold threshold, never below this value.",
    )
    audit_rate: float | None = Unit
    auto_error_target: float | None = Field(
        default=None,
        ge=0.0001,
        lt=1.0,
        description="Error the auto lane must stay under, in [0.0001, 1) (smaller targets need "
        "more clean evidence than any taxonomy has).",
    )
    confidence_level: float | None = Field(
        default=None,
        ge=0.5,
        lt=1.0,
        description="Confidence level of the bound on the auto lane's error, in [0.5, 1): "
        "below 0.5 the 'upper bound' falls under the error's own estimate.",
    )
    expected_out_of_scope: float | None = Field(default=None, ge=0.0, lt=1.0)


class SharesOut(BaseModel):
    auto: float | None
    review: float | None
    hold: float | None


class AutoErrorOut(BaseModel):
    estimate: float | None
    lower: float | None
    upper: float | None
    n_reviewed: int
    effective_n: float
    confidence_level: float


class WindowOut(BaseModel):
    since: str
    until: str


class WhatIfOut(BaseModel):
    auto: float | None
    review: float
    n_decisions: int
    shares: SharesOut
    auto_error: AutoErrorOut
    window: WindowOut
