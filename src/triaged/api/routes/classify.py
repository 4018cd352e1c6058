"""POST /v1/classify and /v1/classify/batch.

The hot path: these routes take the raw key (``ApiKey``) and authenticate inside
the one worker-thread call that classifies (and in the same read transaction),
so a request costs a single thread hop instead of one per dependency.  The hops
go through a FIFO capacity limiter of ``classify_concurrency`` slots per process (default
4): under a burst, requests wait their turn instead of all contending at once.  Until
6 December it held 4 slots per CPU core, 64 threads per process on a 16-core machine: the
threads fight over the one interpreter lock (GIL), and on the 2-core box one process with 64
slots answered 114 req/s where 4 answered 164 (`bench/bench_scale.py --concurrency 64`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from triaged.api.deps import ApiKey, IdempotencyKey, ServiceDep, auth_throttle
from triaged.api.schemas import BatchRequest, BatchResponse, ClassifyRequest, ClassifyResponse
from triaged.errors import Unauthenticated
from triaged.http.deps import auth_subjects
from triaged.service import QUOTA_OBSERVED, ClassifyItem, Service

router = APIRouter(tags=["classify"])


def _classify(
    service: Service,
    key: str,
    taxonomy: str,
    items: list[ClassifyItem],
    idempotency_key: str | None,
    route: str,
) -> tuple[list[dict[str, Any]], bool]:
    return service.classify(key, taxonomy, items, idempotency_key=idempotency_key, route=route)


def _slots(request: Request) -> CapacityLimiter:
    limiter: CapacityLimiter | None = getattr(request.app.state, "classify_slots", None)
    if limiter is None:
        limiter = CapacityLimiter(request.app.state.settings.classify_concurrency)
        request.app.state.classify_slots = limiter
    return limiter


async def _run(
    request: Request, response: Response, service: Service, key: str, *args: Any
) -> tuple[list[dict[str, Any]], bool]:
    # the failed-authentication throttle, as get_principal applies it to every other route
    # (until 6 December a wrong key here was never counted: keys could be guessed without end)
    throttle = auth_throttle(request)
    subjects = auth_subjects(request, key)
    throttle.check(subjects[:1])  # the client: see auth_subjects
    counts: dict[str, Any] = {}
    token = QUOTA_OBSERVED.set(counts)  # filled by quota.consume in the worker thread
    try:
        results, replayed = await anyio.to_thread.run_sync(
            partial(_classify, service, key, *args), limiter=_slots(request)
        )
    except Unauthenticated:
        await run_in_threadpool(throttle.fail, subjects)  # shared: a database write
        raise
    finally:
        QUOTA_OBSERVED.reset(token)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers.update(rate_limit_headers(counts))
    return results, replayed


def rate_limit_headers(counts: dict[str, Any]) -> dict[str, str]:
    """``RateLimit-Limit/Remaining/Reset`` of the plan's tightest limit after this request:
    of the per-minute rate and the monthly quota, the one with the fewest requests left (the
    per-minute one on a tie: it resets first); none when unlimited.  An idempotent replay
    counts nothing but reports the counts as they stand (it sent none until 6 December).
    Until 5 December the per-minute limit was reported
    whenever the plan had one, so a free plan at 99 of its 100 monthly requests said 20
    were left."""
    if not counts:
        return {}
    plan, win = counts["plan"], counts["window"]
    limits = []
    if plan.per_minute is not None:
        limits.append((plan.per_minute, counts["minute_used"], win.minute_reset))
    if plan.monthly_quota is not None:
        # what unfinished bulk jobs hold is not left either
        used = counts["period_used"] + counts.get("reserved", 0)
        limits.append((plan.monthly_quota, used, win.period_reset))
    if not limits:
        return {}
    limit, used, reset = min(limits, key=lambda lim: lim[0] - lim[1])
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - used)),
        "RateLimit-Reset": str(win.retry_after(reset)),
    }


@router.post("/classify", response_model=ClassifyResponse)
async def classify(
    body: ClassifyRequest,
    request: Request,
    key: ApiKey,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Classify one text; the decision is logged before this returns."""
    item = ClassifyItem(body.text, body.external_id, body.metadata)
    results, _ = await _run(
        request, response, service, key, body.taxonomy, [item], idempotency_key, "classify"
    )
    return results[0]


@router.post("/classify/batch", response_model=BatchResponse)
async def classify_batch(
    body: BatchRequest,
    request: Request,
    key: ApiKey,
    service: ServiceDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Classify up to 100 texts (each counts as one request); results in input order."""
    items = [
        ClassifyItem(t) if isinstance(t, str) else ClassifyItem(t.text, t.external_id, t.metadata)
        for t in body.texts
    ]
    results, _ = await _run(
        request, response, service, key, body.taxonomy, items, idempotency_key, "classify/batch"
    )
    return {"results": results}
