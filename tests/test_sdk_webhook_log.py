"""The SDK's webhook log (one endpoint, its deliveries, a delivery's tries, a retry) and
the reviewers' agreement, sync and async, against a real uvicorn server that delivers to a
real receiver on loopback which fails its first tries."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from tests.webhooks.conftest import FAST, delivering
from tests.webhooks.receiver import Receiver, running_receiver
from triaged.client import (
    AsyncClient,
    Client,
    LabelAgreement,
    Page,
    ReviewAgreement,
    ReviewerPairAgreement,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from triaged.errors import Conflict, Forbidden, NotFound


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, LiveServer]]:
    """A server that registers loopback receivers, and a deliverer (as ``triaged serve``
    runs one) that tries each delivery twice, fast."""
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")
    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'hooks.db'}")
    config = FAST.model_copy(update={"max_attempts": 2})
    with live_server(stack.app) as server, delivering(stack.service.db, config):
        yield stack, server
    stack.service.close()


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_deliveries_attempts_and_retry(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant = stack.tenant()
    with (
        running_receiver(Receiver(fail_first=2)) as receiver,
        Client(server.url, tenant.key, backoff=0.01) as c,
    ):
        hook = c.create_webhook(receiver.url, ["decision.resolved"], description="ops")
        receiver.secret = hook.secret or ""
        got = c.webhook(hook.id)
        assert isinstance(got, Webhook) and got.id == hook.id and got.secret is None
        assert (got.url, got.description) == (receiver.url, "ops")
        sent = c.test_webhook(hook.id)

        def status() -> str:
            return c.webhook_deliveries(hook.id).data[0].status

        _until(lambda: status() == "failed")  # two tries, both answered 500
        page = c.webhook_deliveries(hook.id)
        assert isinstance(page, Page) and not page.has_more and page.next_cursor is None
        [failed] = page.data
        assert isinstance(failed, WebhookDelivery) and failed.id == sent.id
        assert (failed.attempts, failed.last_status_code) == (2, 500) and failed.finished_at
        later = c.test_webhook(hook.id)  # the receiver accepts from now on
        _until(lambda: status() == "delivered")
        with pytest.raises(Conflict):  # delivered: nothing to retry
            c.retry_delivery(hook.id, later.id)
        assert [d.id for d in c.webhook_deliveries(hook.id, status="failed").data] == [sent.id]
        first = c.webhook_deliveries(hook.id, limit=1)
        assert first.has_more and first.next_cursor and first.data[0].id == later.id
        rest = c.webhook_deliveries(hook.id, limit=1, cursor=first.next_cursor)
        assert [d.id for d in rest.data] == [sent.id] and not rest.has_more  # newest first

        tries = c.delivery_attempts(hook.id, sent.id)
        assert [(a.n, a.round, a.attempt, a.status_code) for a in tries] == [
            (1, 1, 1, 500),
            (2, 1, 2, 500),
        ]
        assert all(isinstance(a, WebhookAttempt) and a.started_at for a in tries)
        again = c.retry_delivery(hook.id, sent.id)
        assert isinstance(again, WebhookDelivery) and again.id == sent.id
        _until(lambda: c.delivery_attempts(hook.id, sent.id)[-1].status_code == 200)
        third = c.delivery_attempts(hook.id, sent.id)[-1]
        assert (third.n, third.round, third.attempt) == (3, 2, 1)
        delivered = c.webhook_deliveries(hook.id, status="delivered").data
        assert [d.id for d in delivered] == [later.id, sent.id]
        assert delivered[1].last_status_code == 200 and delivered[1].attempts == 1
        with pytest.raises(NotFound):
            c.webhook("whk_missing")
        with pytest.raises(NotFound):
            c.delivery_attempts(hook.id, "dlv_missing")

        raw = httpx.get(
            f"{server.url}/v1/webhooks/{hook.id}/deliveries",
            headers={"Authorization": f"Bearer {tenant.key}"},
            timeout=60,
        ).json()["data"][0]
        assert set(raw) == {f.name for f in dataclasses.fields(WebhookDelivery)} - {"raw"}

        async def scenario() -> None:
            async with AsyncClient(server.url, tenant.key, backoff=0.01) as a:
                assert await a.webhook(hook.id) == got
                page = await a.webhook_deliveries(hook.id, status="delivered")
                assert [d.id for d in page.data] == [later.id, sent.id]
                assert await a.delivery_attempts(hook.id, sent.id) == [*tries, third]
                with pytest.raises(Conflict):  # delivered: nothing to retry
                    await a.retry_delivery(hook.id, sent.id)

        _run(scenario())


def test_review_agreement(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant = stack.tenant()
    alice, bob = stack.key(tenant, "reviewer"), stack.key(tenant, "reviewer")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        held = {"auto": 0.999, "review": 0.998}
        admin.create_taxonomy("support", TINY_TAXONOMY["labels"], thresholds=held)
        admin.update_review_settings("support", overlap_rate=1.0)
        admin.classify("my invoice has the wrong amount on it", "support")
        none = admin.review_agreement(taxonomy="support")
        assert isinstance(none, ReviewAgreement) and (none.items, none.agreement) == (0, None)
        assert none.overlap_rate == 1.0 and none.by_pair == [] and none.by_label == []
    for key in (alice, bob):
        with Client(server.url, key, backoff=0.01) as r:
            [item] = r.claim(taxonomy="support")
            r.resolve(item.id, "correct", label="billing")
    with Client(server.url, alice, backoff=0.01) as r:
        got = r.review_agreement(taxonomy="support")
        assert (got.items, got.agreement, got.open_disagreements) == (1, 1.0, 0)
        [pair] = got.by_pair
        assert isinstance(pair, ReviewerPairAgreement) and pair.items == 1
        assert pair.agreement == 1.0 and len(pair.reviewers) == 2
        assert [(lb.label, lb.items) for lb in got.by_label] == [("billing", 1)]
        assert isinstance(got.by_label[0], LabelAgreement)
        assert r.review_agreement().overlap_rate is None  # the whole workspace
        with pytest.raises(NotFound):
            r.review_agreement(taxonomy="nope")
    with (
        Client(server.url, stack.key(tenant, "client"), backoff=0.01) as c,
        pytest.raises(Forbidden),
    ):
        c.review_agreement()

    async def scenario() -> ReviewAgreement:
        async with AsyncClient(server.url, bob, backoff=0.01) as a:
            return await a.review_agreement(taxonomy="support")

    assert _run(scenario()) == got
    raw = httpx.get(
        f"{server.url}/v1/review/agreement",
        params={"taxonomy": "support"},
        headers={"Authorization": f"Bearer {alice}"},
        timeout=60,
    ).json()
    assert set(raw) == {f.name for f in dataclasses.fields(ReviewAgreement)}
    assert set(raw["by_pair"][0]) == {f.name for f in dataclasses.fields(ReviewerPairAgreement)}
    assert set(raw["by_label"][0]) == {f.name for f in dataclasses.fields(LabelAgreement)}
