"""The asynchronous client: the methods of :class:`~triaged.client.Client`, awaitable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from triaged.client import _ops as ops
from triaged.client import jobs
from triaged.client._http import BaseClient, Call, transport_error
from triaged.client._metrics import AsyncMetrics
from triaged.client._taxonomy_admin import AsyncTaxonomyAdmin
from triaged.client._views import AsyncViews
from triaged.client._webhook_log import AsyncWebhookLog
from triaged.client.jobs import Job, JobResult
from triaged.client.pages import DecisionPage
from triaged.client.results import (
    Classification,
    Decision,
    Erased,
    Evaluation,
    Key,
    LaneError,
    ModelInfo,
    ReviewItem,
    ReviewStats,
    Routing,
    TaxonomyInfo,
    TrainingProgress,
    Usage,
    Webhook,
    WebhookDelivery,
    WhatIf,
)

__all__ = ["AsyncClient"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncClient(AsyncViews, AsyncMetrics, AsyncTaxonomyAdmin, AsyncWebhookLog, BaseClient):
    """Asynchronous client with the same methods as :class:`~triaged.client.Client`
    (awaitable).  ``transport`` is any ``httpx.AsyncBaseTransport``, e.g.
    ``httpx.ASGITransport(app)``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=self.timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, op: ops.Op[R]) -> R:
        call, attempt = op.call, 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError as exc:
                if not self._retryable(call, attempt, None):
                    raise transport_error(exc, self.base_url, call) from exc
            if response is not None and self._final(call, attempt, response):
                return self._read(op.read, response)
            await asyncio.sleep(self._delay(attempt, response))
            attempt += 1

    # classify
    async def classify(
        self,
        text: str,
        taxonomy: str,
        *,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Classification:
        """Classify one text; the server logs the decision before answering."""
        return await self._run(ops.classify(text, taxonomy, external_id, metadata, idempotency_key))

    async def classify_batch(
        self,
        texts: Sequence[str | Mapping[str, Any]],
        taxonomy: str,
        *,
        idempotency_key: str | None = None,
    ) -> list[Classification]:
        """Classify up to 100 texts; results in input order."""
        return await self._run(ops.classify_batch(texts, taxonomy, idempotency_key))

    async def route(
        self,
        text: str,
        taxonomy: str,
        *,
        on_auto: Callable[[Classification], T] | None = None,
        on_review: Callable[[Classification], T] | None = None,
        on_hold: Callable[[Classification], T] | None = None,
        **kwargs: Any,
    ) -> T | Classification:
        """Classify, then call the handler for the bucket (awaiting it if it is a coroutine)."""
        res = await self.classify(text, taxonomy, **kwargs)
        handler = ops.pick(res, on_auto, on_review, on_hold)
        if handler is None:
            return res
        out = handler(res)
        if asyncio.iscoroutine(out):
            awaited: T = await out
            return awaited
        return out

    # decisions and usage
    async def decision(self, decision_id: str) -> Decision:
        return await self._run(ops.decision(decision_id))

    async def decisions(
        self, *, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> DecisionPage:
        """One page; filters: taxonomy, bucket, label, external_id, since, until."""
        return await self._run(ops.decisions(cursor, limit, filters))

    async def erase_decisions(
        self, *, ids: Sequence[str] | None = None, external_ids: Sequence[str] | None = None
    ) -> Erased:
        """Erase the text and metadata of decisions, by id and/or by the external id they
        were sent with (admin keys; all or nothing: an unknown id raises NotFound)."""
        return await self._run(ops.erase_decisions(ids, external_ids))

    async def iter_decisions(self, *, limit: int = 100, **filters: Any) -> AsyncIterator[Decision]:
        """Every decision matching ``filters``, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            page = await self.decisions(cursor=cursor, limit=limit, **filters)
            for d in page.decisions:
                yield d
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def usage(self) -> Usage:
        return await self._run(ops.usage())

    # taxonomies
    async def create_taxonomy(
        self,
        name: str,
        labels: Sequence[str | Mapping[str, Any]],
        *,
        thresholds: Mapping[str, float] | None = None,
        description: str = "",
        examples: Sequence[Mapping[str, str]] | None = None,
    ) -> TaxonomyInfo:
        return await self._run(ops.create_taxonomy(name, labels, thresholds, description, examples))

    async def taxonomy(self, name: str) -> TaxonomyInfo:
        return await self._run(ops.taxonomy(name))

    async def taxonomies(self) -> list[TaxonomyInfo]:
        """Every taxonomy of the workspace (all pages)."""
        return await self._all(ops.taxonomies_page)

    async def update_taxonomy(self, name: str, **changes: Any) -> TaxonomyInfo:
        return await self._run(ops.update_taxonomy(name, changes))

    async def archive_taxonomy(self, name: str) -> TaxonomyInfo:
        return await self._run(ops.archive_taxonomy(name))

    async def add_examples(
        self, name: str, examples: Sequence[Mapping[str, str]], *, train: bool = True
    ) -> TaxonomyInfo:
        return await self._run(ops.add_examples(name, examples, train))

    async def train(self, name: str) -> ModelInfo:
        """Start training the current version; poll with :meth:`wait_until_ready`."""
        return await self._run(ops.train(name))

    async def wait_until_ready(
        self,
        name: str,
        *,
        timeout: float = 300.0,
        poll: float = 0.5,
        on_progress: Callable[[TrainingProgress], None] | None = None,
    ) -> TaxonomyInfo:
        """Poll until the taxonomy's newest training job has finished; ``on_progress`` is
        called with the training's progress at each poll that has one."""
        deadline = time.monotonic() + timeout
        while True:
            info = await self.taxonomy(name)
            if ops.ready(info):
                return info
            progress = info.training.progress if info.training is not None else None
            if on_progress is not None and progress is not None:
                on_progress(progress)
            if time.monotonic() > deadline:
                raise TimeoutError(f"taxonomy {name!r} not ready after {timeout}s")
            await asyncio.sleep(poll)

    async def evaluate(
        self, name: str, examples: Sequence[Mapping[str, str]] | None = None
    ) -> Evaluation:
        """Accuracy, macro-F1, ECE, NLL and bucket figures on ``examples`` (or a held-out split)."""
        return await self._run(ops.evaluate(name, examples))

    # routing policy (thresholds applied at classify time; changing them never retrains)
    async def routing(self, taxonomy: str) -> Routing:
        """The taxonomy's current routing policy, with the bound and the evidence behind it."""
        return await self._run(ops.routing(taxonomy))

    async def set_routing(self, taxonomy: str, **fields: float | None) -> Routing:
        """A new policy version from any of ``auto``, ``review``, ``review_floor``,
        ``audit_rate``, ``auto_error_target``, ``confidence_level``, ``expected_out_of_scope``
        (``auto=None``: recompute the threshold from the evidence; ``review=None``: let the
        evidence choose the hold threshold again).  Never retrains."""
        return await self._run(ops.set_routing(taxonomy, fields))

    async def what_if(
        self,
        taxonomy: str,
        *,
        auto: float | None = None,
        review: float | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> WhatIf:
        """Predicted bucket shares and auto error (with its interval) for other thresholds,
        from the logged and reviewed decisions of ``[since, until)``."""
        return await self._run(ops.what_if(taxonomy, auto, review, since, until))

    # keys (admin)
    async def create_key(self, role: str, name: str = "") -> Key:
        """A new key; its secret is in ``.key`` of this answer only."""
        return await self._run(ops.create_key(role, name))

    async def revoke_key(self, key_id: str) -> Key:
        return await self._run(ops.revoke_key(key_id))

    # review queue (reviewer or admin keys)
    async def claim(
        self, *, taxonomy: str | None = None, queue: str | None = None, limit: int = 1
    ) -> list[ReviewItem]:
        """Claim up to ``limit`` items under a lease (hold first, then review, then audit)."""
        return await self._run(ops.claim(taxonomy, queue, limit))

    async def resolve(
        self,
        item_id: str,
        action: str,
        *,
        label: str | None = None,
        new_label: str | None = None,
        note: str | None = None,
    ) -> ReviewItem:
        """``confirm`` | ``correct`` (with ``label``) | ``new_category`` (with ``new_label``) |
        ``ambiguous`` | ``out_of_scope`` (none of the labels fits: the final label becomes
        ``oos``; no ``label``); a held decision is then released to your webhook."""
        return await self._run(ops.resolve(item_id, action, label, new_label, note))

    async def release(self, item_id: str) -> ReviewItem:
        """Give a claimed item back to the queue unresolved."""
        return await self._run(ops.release(item_id))

    async def reopen(self, item_id: str) -> ReviewItem:
        """Undo: take back your latest answer to an item inside the taxonomy's reopen
        window; the item is claimed by you again (webhook event ``decision.reopened``)."""
        return await self._run(ops.reopen(item_id))

    async def bulk_resolve(
        self,
        item_ids: list[str],
        action: str,
        *,
        label: str | None = None,
        new_label: str | None = None,
        note: str | None = None,
    ) -> list[ReviewItem]:
        """One answer for many items in one request (all or nothing); each is its own
        review event and webhook event.  Items you do not hold are claimed first."""
        return await self._run(ops.bulk_resolve(item_ids, action, label, new_label, note))

    async def review_stats(
        self, *, taxonomy: str | None = None, days: int | None = None
    ) -> ReviewStats:
        return await self._run(ops.review_stats(taxonomy, days))

    async def lane_error(
        self, *, taxonomy: str | None = None, since: datetime | str | None = None
    ) -> dict[str, LaneError]:
        """Measured error of each lane (by bucket) with 95% Clopper-Pearson intervals."""
        return await self._run(ops.lane_error(taxonomy, since))

    # webhooks (admin); check deliveries with triaged.verify_signature
    async def create_webhook(
        self, url: str, events: Sequence[str], *, description: str = ""
    ) -> Webhook:
        """Register ``url``; the answer's ``secret`` (shown once) signs every delivery."""
        return await self._run(ops.create_webhook(url, events, description))

    async def webhooks(self) -> list[Webhook]:
        """Every webhook endpoint of the workspace (all pages)."""
        return await self._all(ops.webhooks_page)

    async def keys(self) -> list[Key]:
        """Every API key of the workspace, oldest first (admin; never the secrets)."""
        return await self._all(ops.keys_page)

    async def models(self, name: str) -> list[ModelInfo]:
        """Every model version and training job of a taxonomy, newest first."""
        return await self._all(lambda cursor: ops.models_page(name, cursor))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Webhook:
        """Change an endpoint's URL, event types or description (the secret stays)."""
        return await self._run(ops.update_webhook(webhook_id, url, events, description))

    async def rotate_webhook_secret(
        self, webhook_id: str, *, overlap_hours: float = 24.0
    ) -> Webhook:
        """A new signing secret (in this answer's ``secret`` only); the old one signs each
        delivery too for ``overlap_hours`` (0: it stops now)."""
        return await self._run(ops.rotate_webhook_secret(webhook_id, overlap_hours))

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Send a signed ``webhook.test`` event to this endpoint; returns its delivery."""
        return await self._run(ops.test_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._run(ops.delete_webhook(webhook_id))

    # --- bulk jobs (issue 11)
    async def submit_job(
        self,
        taxonomy: str,
        data: bytes | str | Path,
        *,
        format: str | None = None,
        text_field: str = "text",
        id_field: str | None = None,
        metadata_fields: Sequence[str] | None = None,
        log: bool = True,
    ) -> Job:
        """Upload a JSONL or CSV file (bytes, text or a path) as a bulk job over ``taxonomy``."""
        return await self._run(
            jobs.submit_job(taxonomy, data, format, text_field, id_field, metadata_fields, log)
        )

    async def job(self, job_id: str) -> Job:
        """A job's state, done/total, rate and ETA."""
        return await self._run(jobs.job(job_id))

    async def cancel_job(self, job_id: str) -> Job:
        """Stop a queued or running job after its chunk in flight."""
        return await self._run(jobs.cancel_job(job_id))

    async def wait_for_job(self, job_id: str, *, timeout: float = 3600.0, poll: float = 1.0) -> Job:
        """Poll until the job is done, failed or cancelled."""
        deadline = time.monotonic() + timeout
        while True:
            current = await self.job(job_id)
            if current.finished:
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout}s")
            await asyncio.sleep(poll)

    async def job_results(self, job_id: str) -> AsyncIterator[JobResult]:
        """The job's results so far, one per input row, in input order, streamed: each row is
        read and parsed as it arrives, so memory stays flat for any number of rows.  A 429 or
        5xx (or no connection) before the first row is retried like any read."""
        async for line in self._stream_lines(jobs.results_call(job_id)):
            if line.strip():
                yield jobs.parse_result(line)

    async def _stream_lines(self, call: Call) -> AsyncIterator[str]:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                async with self._http.stream(
                    call.method, call.path, params=call.params
                ) as response:
                    if response.status_code < 400:
                        async for line in response.aiter_lines():  # a broken stream is raised
                            yield line
                        return
                    await response.aread()
                    self._final(call, attempt, response)  # raises unless it is to be retried
            except httpx.TransportError as exc:
                if response is not None and response.status_code < 400:
                    raise transport_error(exc, self.base_url, call) from exc
                if not self._retryable(call, attempt, None):
                    raise transport_error(exc, self.base_url, call) from exc
                response = None
            await asyncio.sleep(self._delay(attempt, response))
            attempt += 1
