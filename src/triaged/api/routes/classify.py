"""POST /v1/classify and /v1/classify/batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from triaged.api.deps import IdempotencyKey, PrincipalDep, ServiceDep
from triaged.api.schemas import BatchRequest, BatchResponse, ClassifyRequest, ClassifyResponse
from triaged.service import ClassifyItem

router = APIRouter(tags=["classify"])


def _mark(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"


@router.post("/classify", response_model=ClassifyResponse)
def classify(
    body: ClassifyRequest,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Classify one text; the decision is logged before this returns."""
    item = ClassifyItem(body.text, body.external_id, body.metadata)
    results, replayed = service.classify(
        principal, body.taxonomy, [item], idempotency_key=idempotency_key, route="classify"
    )
    _mark(response, replayed)
    return results[0]


@router.post("/classify/batch", response_model=BatchResponse)
def classify_batch(
    body: BatchRequest,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Classify up to 100 texts (each counts as one request); results in input order."""
    items = [
        ClassifyItem(t) if isinstance(t, str) else ClassifyItem(t.text, t.external_id, t.metadata)
        for t in body.texts
    ]
    results, replayed = service.classify(
        principal, body.taxonomy, items, idempotency_key=idempotency_key, route="classify/batch"
    )
    _mark(response, replayed)
    return {"results": results}
