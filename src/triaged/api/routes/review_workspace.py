"""The reviewer workspace under /v1: review settings per taxonomy (guidelines, overlap
rate, reopen window), undo (reopen), progress, bulk resolve and reviewer agreement.

Reviewer and admin keys only (``client`` keys get 403); changing settings is admin-only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from triaged.api.deps import PrincipalDep, ServiceDep, TaxonomyDep
from triaged.api.schemas import SafeIn
from triaged.service import MAX_BULK

__all__ = ["BulkResolveRequest", "ReviewSettingsPatch", "router"]

router = APIRouter(tags=["review"])


class _In(SafeIn):
    model_config = ConfigDict(extra="forbid")


class ReviewSettingsPatch(_In):
    """The review settings to change; fields left out keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "guidelines": "Refund questions about a card payment are `billing`.",
                    "overlap_rate": 0.2,
                    "reopen_window_seconds": 900,
                }
            ]
        },
    )

    guidelines: str | None = Field(
        default=None, max_length=20_000, description="Text shown to reviewers (Markdown-free)."
    )
    overlap_rate: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Share of items a second reviewer also answers (for agreement).",
    )
    reopen_window_seconds: int | None = Field(
        default=None,
        ge=0,
        le=7 * 86_400,
        description="How long reviewers may reopen (undo) their own answer.",
    )


class BulkResolveRequest(_In):
    """One answer for many items; each becomes its own review event and webhook event."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"item_ids": ["rvi_01", "rvi_02"], "action": "correct", "label": "travel"}]
        },
    )

    item_ids: list[str] = Field(
        min_length=1, max_length=MAX_BULK, description="Review item ids (at most 500)."
    )
    action: Literal["confirm", "correct", "new_category", "ambiguous", "out_of_scope"] = Field(
        description="The answer for every item (as in the single resolve)."
    )
    label: str | None = Field(
        default=None, min_length=1, max_length=100, description="For `correct`."
    )
    new_label: str | None = Field(
        default=None, min_length=1, max_length=100, description="For `new_category`."
    )
    note: str | None = Field(default=None, max_length=2000, description="A reviewer comment.")


@router.get("/taxonomies/{name}/review-settings")
def get_review_settings(
    record: TaxonomyDep, principal: PrincipalDep, service: ServiceDep
) -> dict[str, Any]:
    """Review settings of a taxonomy: guidelines, overlap rate, reopen window."""
    return service.desk.settings(principal, record.name)


@router.patch("/taxonomies/{name}/review-settings")
def patch_review_settings(
    record: TaxonomyDep, body: ReviewSettingsPatch, principal: PrincipalDep, service: ServiceDep
) -> dict[str, Any]:
    """Change review settings of a taxonomy (admin)."""
    return service.desk.update_settings(
        principal,
        record.name,
        guidelines=body.guidelines,
        overlap_rate=body.overlap_rate,
        reopen_window_seconds=body.reopen_window_seconds,
    )


@router.post("/review/items/{item_id}/reopen")
def reopen(item_id: str, principal: PrincipalDep, service: ServiceDep) -> dict[str, Any]:
    """Undo: take back your latest answer to an item inside the taxonomy's reopen window;
    the item is claimed by you again.  Emits ``decision.reopened`` when the final label
    changes.  409 when the answer is not yours, another key holds the item, or the window
    has passed."""
    return service.desk.reopen(principal, item_id)


@router.post("/review/items/bulk-resolve")
def bulk_resolve(
    body: BulkResolveRequest, principal: PrincipalDep, service: ServiceDep
) -> dict[str, Any]:
    """Resolve many items with one answer in one transaction (all or nothing; items you
    do not hold are claimed first)."""
    items = service.desk.bulk_resolve(
        principal,
        body.item_ids,
        action=body.action,
        label=body.label,
        new_label=body.new_label,
        note=body.note,
    )
    return {"data": items, "resolved": len(items)}


@router.get("/review/progress")
def progress(
    principal: PrincipalDep, service: ServiceDep, taxonomy: str | None = None
) -> dict[str, Any]:
    """Your answers today (UTC), the open items, and your rate per hour."""
    return service.desk.progress(principal, taxonomy=taxonomy)


@router.get("/review/agreement")
def agreement(
    principal: PrincipalDep, service: ServiceDep, taxonomy: str | None = None
) -> dict[str, Any]:
    """Cohen's kappa between reviewers over the items two of them answered: overall, per
    reviewer pair and per label (also in ``GET /v1/review/stats`` as ``agreement``)."""
    return service.desk.agreement(principal, taxonomy=taxonomy)
