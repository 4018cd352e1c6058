"""The SDK's review items, review progress, jobs list and workspace methods (sync and
async) against a real uvicorn server; the untyped answers are compared with their types."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, Tenant, live_server, make_stack
from triaged.client import (
    AsyncClient,
    Client,
    Job,
    Plan,
    QueueCounts,
    ReviewItem,
    ReviewItemPage,
    ReviewProgress,
    Workspace,
)
from triaged.errors import Forbidden, NotFound

TEXTS = ["my invoice has the wrong amount on it", "the app crashes when I log in"]


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LiveServer]]:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('views') / 'v.db'}")
    with live_server(stack.app) as server:
        yield stack, server
    stack.service.close()


def _held(stack: Stack, server: LiveServer) -> tuple[Tenant, list[str]]:
    """A tenant whose ``support`` taxonomy holds every decision: one item per text."""
    tenant = stack.tenant("unlimited")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        thresholds = {"auto": 0.999, "review": 0.998}
        admin.create_taxonomy("support", TINY_TAXONOMY["labels"], thresholds=thresholds)
        return tenant, [admin.classify(t, "support").id for t in TEXTS]


def _raw(server: LiveServer, key: str, path: str, **params: Any) -> Any:
    answer = httpx.get(
        f"{server.url}{path}", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    answer.raise_for_status()
    return answer.json()


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_review_items_item_and_progress(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant, decisions = _held(stack, server)
    reviewer = stack.key(tenant, "reviewer")
    with Client(server.url, reviewer, backoff=0.01) as c:
        page = c.review_items(taxonomy="support")
        assert isinstance(page, ReviewItemPage) and not page.has_more and page.next_cursor is None
        assert [i.decision_id for i in page.data] == decisions
        assert all(isinstance(i, ReviewItem) and i.queue == "hold" for i in page.data)
        assert set(page.counts) == {"hold", "review", "audit"}
        hold = page.counts["hold"]
        assert isinstance(hold, QueueCounts) and (hold.pending, hold.open) == (2, 2)
        assert hold.oldest_created_at and hold.oldest_age_seconds is not None
        first = c.review_items(taxonomy="support", limit=1)
        assert first.has_more and first.next_cursor and len(first.data) == 1
        rest = c.review_items(taxonomy="support", limit=1, cursor=first.next_cursor)
        assert [i.id for i in first.data + rest.data] == [i.id for i in page.data]
        found = c.review_items(q="INVOICE", confidence_min=0.0)  # the search path
        assert [i.decision_id for i in found.data] == decisions[:1]
        picked = c.review_items(decision_ids=decisions[1:], status="pending")
        assert [i.decision_id for i in picked.data] == decisions[1:]

        item = c.review_item(page.data[0].id)
        assert item.id == page.data[0].id and item.text == TEXTS[0]
        assert item.extra is not None and isinstance(item.extra["history"], list)
        with pytest.raises(NotFound):
            c.review_item("rvi_missing")

        assert c.review_progress(taxonomy="support") == ReviewProgress(0, 2, None, "support")
        claimed = c.claim(taxonomy="support", limit=1)[0]
        c.resolve(claimed.id, "confirm")
        progress = c.review_progress(taxonomy="support")
        assert (progress.done_today, progress.remaining) == (1, 1)
        assert progress.rate_per_hour is not None and progress.rate_per_hour > 0
        assert c.review_progress().taxonomy is None
        with pytest.raises(NotFound):
            c.review_progress(taxonomy="nope")
    client_key = stack.key(tenant, "client")
    with Client(server.url, client_key, backoff=0.01) as other, pytest.raises(Forbidden):
        other.review_items()


def test_the_untyped_review_answers_match_their_types(served: tuple[Stack, LiveServer]) -> None:
    """``/v1/review/progress`` and the queue counts have no field-level schema: the types
    have the fields the server sends."""
    stack, server = served
    tenant, _ = _held(stack, server)
    progress = _raw(server, tenant.key, "/v1/review/progress", taxonomy="support")
    assert set(progress) == _fields(ReviewProgress)
    counts = _raw(server, tenant.key, "/v1/review/items")["counts"]
    assert all(set(v) == _fields(QueueCounts) for v in counts.values())
    assert set(counts) == {"hold", "review", "audit"}


def test_workspace_and_jobs_sync_and_async(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant, _ = _held(stack, server)
    with Client(server.url, tenant.key, backoff=0.01) as c:
        ws = c.workspace()
        assert isinstance(ws, Workspace) and ws.name == tenant.workspace and ws.created_at
        assert ws.plan == Plan("unlimited", None, None, ws.plan.description)
        assert c.jobs() == []
        first = c.submit_job("support", b'{"text": "refund please"}\n', log=False)
        second = c.submit_job("support", b'{"text": "it crashes"}\n', log=False)
        listed = c.jobs()
        assert [j.id for j in listed] == [second.id, first.id]  # newest first
        assert all(isinstance(j, Job) and j.taxonomy == "support" for j in listed)

    async def scenario() -> None:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as c:
            assert await c.workspace() == ws
            assert [j.id for j in await c.jobs()] == [second.id, first.id]
            page = await c.review_items(taxonomy="support", limit=1)
            assert page.has_more and page.counts["hold"].open == 2
            item = await c.review_item(page.data[0].id)
            assert item.decision_id == page.data[0].decision_id
            progress = await c.review_progress(taxonomy="support")
            assert (progress.done_today, progress.remaining) == (0, 2)
            with pytest.raises(NotFound):
                await c.review_progress(taxonomy="nope")

    _run(scenario())
