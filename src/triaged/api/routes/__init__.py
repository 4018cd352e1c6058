"""Routes per resource; ``v1_router()`` mounts them all under /v1."""

from __future__ import annotations

from fastapi import APIRouter

from triaged.api.routes import (
    classify,
    decisions,
    insights,
    jobs,
    keys,
    metrics,
    review,
    review_workspace,
    routing,
    taxonomies,
    usage,
    webhooks,
)

__all__ = ["v1_router"]


def v1_router() -> APIRouter:
    router = APIRouter(prefix="/v1")
    # classify first: routes are matched in order, and it is the hot path
    for module in (
        classify,
        taxonomies,
        routing,
        decisions,
        keys,
        usage,
        webhooks,
        review_workspace,  # before review: /review/items/bulk-resolve
        review,
        insights,
        metrics,
        jobs,
    ):
        router.include_router(module.router)
    return router
