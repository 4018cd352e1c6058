"""Request and response bodies of the review routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triaged.api.paging import Page
from triaged.api.schemas import SafeIn

__all__ = [
    "ClaimRequest",
    "ClaimResponse",
    "ItemPage",
    "ResolveRequest",
    "RetrainRequest",
    "ReviewItemOut",
    "RollbackRequest",
]


class _In(SafeIn):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_In):
    taxonomy: str | None = Field(default=None, min_length=1, max_length=100)
    queue: Literal["hold", "review", "audit"] | None = None
    limit: int = Field(default=1, ge=1, le=1000)
    lease_seconds: float | None = Field(
        default=None, gt=0, le=86_400, description="Default: TRIAGED_REVIEW_LEASE_SECONDS (600)."
    )


class ResolveRequest(_In):
    action: Literal["confirm", "correct", "new_category", "ambiguous", "out_of_scope"] = Field(
        description="out_of_scope: none of the labels fits (final label `oos`; no label)"
    )
    label: str | None = Field(default=None, min_length=1, max_length=100)
    new_label: str | None = Field(default=None, min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class RetrainRequest(_In):
    wait: bool = False


class RollbackRequest(_In):
    model_id: str = Field(min_length=1, max_length=40)


class ReviewAlternativeOut(BaseModel):
    """A runner-up of a review item's decision."""

    label: str
    confidence: float
    in_set: bool | None = None
    label_now: str | None = Field(
        default=None,
        description="The label's name in the taxonomy now (renamed or merged since the "
        "decision when it differs from `label`; null: removed since).",
    )


class ReviewItemOut(BaseModel):
    """A review item with its decision; more fields may be added."""

    model_config = ConfigDict(extra="allow")

    id: str
    decision_id: str
    queue: str
    status: str
    taxonomy: str
    text: str
    label: str
    label_now: str | None = Field(
        default=None,
        description="The model's label as the taxonomy calls it now: `label` unless it was "
        "renamed or merged since the decision; null when removed (it cannot be confirmed).",
    )
    confidence: float
    alternatives: list[ReviewAlternativeOut]
    lease_expires_at: str | None


class ClaimResponse(BaseModel):
    items: list[ReviewItemOut]


class ItemPage(Page[ReviewItemOut]):
    """Review items, oldest first, and the queue counts of the same taxonomy."""

    counts: dict[str, dict[str, Any]] = Field(
        description="Per queue (hold, review, audit): pending, claimed and resolved counts."
    )
