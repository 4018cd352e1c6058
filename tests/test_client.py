"""The SDK against a real uvicorn server on loopback (and in-process through ASGI)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from triaged.client import (
    AsyncClient,
    AutoErrorEstimate,
    Classification,
    Client,
    Evaluation,
    Key,
    LaneError,
    ModelInfo,
    ReviewItem,
    ReviewStats,
    Routing,
    RoutingBound,
    TaxonomyInfo,
    Webhook,
    WhatIf,
)
from triaged.errors import (
    NotFound,
    QuotaExceeded,
    RateLimited,
    TriagedError,
    ValidationFailed,
)
from triaged.routing import Bucket


def _run(coro: Any) -> Any:
    """``asyncio.run`` in a thread of its own: this thread may already run an event loop
    (Playwright's sync API does, when the browser tests share the session)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Flaky:
    """Real app behind a switch that injects failures into the next classify calls.

    ``before``: 503 + Retry-After 0 without reaching the app; ``after``: the app
    handles the request but the response is lost (502); ``429``: 429 + Retry-After 1.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.plan: list[str] = []
        self.seen: list[str] = []
        self.prefix = "/v1/classify"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix) or not self.plan:
            await self.app(scope, receive, send)
            return
        action = self.plan.pop(0)
        self.seen.append(action)
        if action == "after":

            async def swallow(message: Any) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _reply(send, 502, {}, b"bad gateway")
        elif action == "429":
            body = {"error": {"code": "rate_limited", "message": "slow down", "details": {}}}
            await _reply(send, 429, {"retry-after": "1"}, json.dumps(body).encode())
        else:
            await _reply(send, 503, {"retry-after": "0"}, b"unavailable")


async def _reply(send: Any, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def sdk_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, Flaky, LiveServer]]:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('sdk') / 'sdk.db'}")
    flaky = Flaky(stack.app)
    with live_server(flaky) as server:
        yield stack, flaky, server
    stack.service.close()


@pytest.fixture
def client(sdk_stack) -> Iterator[Client]:
    stack, flaky, server = sdk_stack
    flaky.plan.clear()
    flaky.prefix = "/v1/classify"
    tenant = stack.tenant("free")
    with Client(server.url, tenant.key, backoff=0.01) as c:
        c.create_taxonomy(
            "support", TINY_TAXONOMY["labels"], thresholds={"auto": 0.85, "review": 0.6}
        )
        yield c


def test_classify_route_and_read_back(client: Client):
    res = client.classify("I was charged twice", "support", external_id="o-1", metadata={"a": 1})
    assert isinstance(res, Classification) and isinstance(res.bucket, Bucket)
    assert res.label == "billing" and 0 <= res.confidence <= 1
    decision = client.decision(res.id)
    assert decision.text == "I was charged twice" and decision.external_id == "o-1"
    assert decision.metadata == {"a": 1} and decision.final_label is None

    seen: list[str] = []
    out = client.route(
        "The app crashes on start",
        "support",
        on_auto=lambda r: seen.append("auto") or "A",
        on_review=lambda r: seen.append("review") or "R",
        on_hold=lambda r: seen.append("hold") or "H",
    )
    assert out in {"A", "R", "H"} and len(seen) == 1

    batch = client.classify_batch(["refund please", "reset my password"], "support")
    assert [r.label for r in batch] == ["billing", "account"]
    ids = [d.id for d in client.iter_decisions(limit=2)]  # pages of two
    assert len(ids) == 4 and ids == sorted(ids, reverse=True)
    assert {res.id, *(r.id for r in batch)} <= set(ids)
    usage = client.usage()
    assert usage.plan == "free" and usage.used == 4 and usage.limit == 100


def test_retries_5xx_and_honours_retry_after(sdk_stack, client: Client):
    _stack, flaky, _server = sdk_stack
    flaky.plan[:] = ["before", "before"]
    assert client.classify("refund please", "support").label == "billing"
    assert flaky.seen[-2:] == ["before", "before"]

    flaky.plan[:] = ["429"]
    started = time.monotonic()
    client.classify("refund please", "support")
    assert time.monotonic() - started >= 0.9  # waited for Retry-After: 1
    assert client.usage().used == 2


def test_writes_without_an_idempotency_key_are_not_repeated(sdk_stack, client: Client):
    _stack, flaky, _server = sdk_stack
    flaky.prefix = "/v1/taxonomies"
    flaky.plan[:] = ["after"]  # created, but the answer is lost
    with pytest.raises(TriagedError) as exc:
        client.create_taxonomy("second", TINY_TAXONOMY["labels"])
    assert exc.value.details["status"] == 502 and flaky.seen[-1] == "after"
    assert client.taxonomy("second").version == 1  # done once; a blind retry would 409


def test_a_lost_response_is_retried_without_a_second_count(sdk_stack, client: Client):
    _stack, flaky, _server = sdk_stack
    flaky.plan[:] = ["after"]
    res = client.classify("refund please", "support")
    assert flaky.seen[-1] == "after"
    assert client.usage().used == 1  # the retry replayed the first decision
    assert [d.id for d in client.iter_decisions()] == [res.id]


def test_errors_are_the_library_exceptions(sdk_stack, client: Client):
    stack, _flaky, server = sdk_stack
    with pytest.raises(NotFound) as missing:
        client.decision("dec_missing")
    assert missing.value.status_code == 404
    # the error carries the answer's request id, to quote to the operator (its logs have it)
    assert str(missing.value.request_id).startswith("req_")
    tenant = stack.tenant("free")
    traced = Client(server.url, tenant.key, headers={"Request-Id": "qa-7"})
    with traced, pytest.raises(NotFound) as quoted:
        traced.decision("dec_missing")
    assert quoted.value.request_id == "qa-7"
    # an id is one path segment, whatever it holds: never another endpoint or a query
    # (until 5 December "rvi_x?y=1" reached .../rvi_x and "a/../../claim" another path)
    for odd in ("rvi_x?y=1", "a/../../claim", "..", "x y#z"):
        with pytest.raises(NotFound):
            client.resolve(odd, "confirm")
        with pytest.raises(NotFound):
            client.decision(odd)
    with pytest.raises(ValidationFailed):
        client.classify_batch(["x"] * 101, "support")
    tiny = stack.tenant("tiny")
    with Client(server.url, tiny.key, max_retries=0) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"])
        for _ in range(3):
            c.classify("refund", "support")
        with pytest.raises(RateLimited) as exc:
            c.classify("refund", "support")
        assert exc.value.retry_after >= 1 and exc.value.details["limit"] == "per_minute"


def test_an_exhausted_monthly_quota_is_raised_without_waiting(sdk_stack):
    stack, _flaky, server = sdk_stack
    tenant = stack.tenant("free")
    with Client(server.url, tenant.key) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"])
        c.classify_batch(["refund"] * 100, "support")
        started = time.monotonic()
        with pytest.raises(QuotaExceeded) as exc:
            c.classify("refund", "support")
        assert time.monotonic() - started < 5
        assert exc.value.details["limit"] == "monthly_quota" and exc.value.retry_after > 60


def test_async_client_over_the_network_and_in_process(sdk_stack):
    stack, _flaky, server = sdk_stack
    tenant = stack.tenant("unlimited")

    async def scenario() -> None:
        async with AsyncClient(server.url, tenant.key) as c:
            await c.create_taxonomy("support", TINY_TAXONOMY["labels"])
            results = await asyncio.gather(
                *[c.classify("refund please", "support") for _ in range(10)]
            )
            assert {r.label for r in results} == {"billing"}
            routed = await c.route(
                "refund please",
                "support",
                on_auto=_async_handler,
                on_review=_async_handler,
                on_hold=_async_handler,
            )
            assert routed == "handled"
            assert (await c.usage()).used == 11
        transport = httpx.ASGITransport(app=stack.app)
        async with AsyncClient("http://in-process", tenant.key, transport=transport) as c:
            res = await c.classify("my app crashes", "support")
            assert (await c.decision(res.id)).text == "my app crashes"

    _run(scenario())


async def _async_handler(_res: Classification) -> str:
    return "handled"


def test_review_queue_through_the_sdk(sdk_stack):
    """A held decision is claimed, corrected and shows its final label, all via the SDK."""
    stack, flaky, server = sdk_stack
    flaky.plan.clear()
    tenant = stack.tenant("unlimited")
    reviewer_key = stack.key(tenant, "reviewer")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        admin.create_taxonomy(
            "support",
            TINY_TAXONOMY["labels"],
            thresholds={"auto": 0.999, "review": 0.998},  # everything is held
        )
        res = admin.classify("my invoice has the wrong amount on it", "support")
        assert res.bucket is Bucket.HOLD
        with pytest.raises(TriagedError) as forbidden:
            Client(server.url, stack.key(tenant, "client"), backoff=0.01).claim(limit=1)
        assert forbidden.value.status == 403
    with Client(server.url, reviewer_key, backoff=0.01) as reviewer:
        items = reviewer.claim(taxonomy="support", limit=5)
        assert [i.decision_id for i in items] == [res.id]
        item = items[0]
        assert item.queue == "hold" and item.lease_expires_at and item.text.startswith("my invoice")
        other = "account" if item.label != "account" else "bug"
        reviewer.resolve(item.id, "correct", label=other)
        with pytest.raises(TriagedError) as twice:
            reviewer.resolve(item.id, "confirm")
        assert twice.value.status == 409
        decision = reviewer.decision(res.id)
        assert decision.final_label == other and decision.final_source
        stats = reviewer.review_stats(taxonomy="support")
        assert isinstance(stats, ReviewStats) and stats.taxonomy == "support"
        assert stats.counts["hold"] == 0 and set(stats.lane_error) == {"auto", "review", "hold"}
        held = stats.lane_error["hold"]
        assert isinstance(held, LaneError) and (held.reviewed, held.errors) == (1, 1)
        assert reviewer.lane_error(taxonomy="support")["hold"] == held
        assert reviewer.claim(limit=5) == []


def test_out_of_scope_through_the_sdk(sdk_stack):
    """None of these labels (out_of_scope), sync and async: the final label becomes ``oos``;
    a label with it is the library's ValidationFailed."""
    stack, flaky, server = sdk_stack
    flaky.plan.clear()
    tenant = stack.tenant("unlimited")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        admin.create_taxonomy(
            "support", TINY_TAXONOMY["labels"], thresholds={"auto": 0.999, "review": 0.998}
        )
        first = admin.classify("what is the capital of Peru?", "support")
        second = admin.classify("recommend a pizza place near the station", "support")
    reviewer_key = stack.key(tenant, "reviewer")
    with Client(server.url, reviewer_key, backoff=0.01) as reviewer:
        [item] = reviewer.claim(taxonomy="support", limit=1)
        assert item.decision_id == first.id
        with pytest.raises(ValidationFailed) as bad:
            reviewer.resolve(item.id, "out_of_scope", label="billing")
        assert bad.value.details["field"] == "label" and bad.value.status == 422
        out = reviewer.resolve(item.id, "out_of_scope", note="geography")
        assert isinstance(out, ReviewItem) and out.id == item.id
        assert (out.action, out.final_label, out.note) == ("out_of_scope", "oos", "geography")
        decision = reviewer.decision(first.id)
        assert (decision.final_label, decision.final_source) == ("oos", "review")
        assert decision.label == first.label

    async def scenario() -> None:
        async with AsyncClient(server.url, reviewer_key, backoff=0.01) as c:
            [item] = await c.claim(taxonomy="support", limit=1)
            assert item.decision_id == second.id
            out = await c.resolve(item.id, "out_of_scope")
            assert out.final_label == "oos" and out.action == "out_of_scope"
            assert (await c.decision(second.id)).final_label == "oos"

    _run(scenario())


ROUTING_TEXTS = [
    "I was charged twice this month",
    "The app crashes whenever I open it",
    "How do I change my email address?",
    "Where can I buy a bicycle helmet?",
    "my refund never arrived",
    "error 500 when saving my profile",
    "please update my billing address",
    "what time is it in Tokyo",
]


def test_routing_policy_and_what_if_through_the_sdk(sdk_stack):
    """Read the policy, set thresholds (a new version, no retrain), ask what-if; typed."""
    stack, flaky, server = sdk_stack
    flaky.plan.clear()
    tenant = stack.tenant("unlimited")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        admin.create_taxonomy("support", TINY_TAXONOMY["labels"])
        policy = admin.routing("support")
        assert isinstance(policy, Routing) and isinstance(policy.bound, RoutingBound)
        assert policy.taxonomy == "support" and policy.reason
        assert policy.auto_lane_open == (policy.auto is not None)
        assert policy.bound.basis in ("training", "live") and policy.bound.n >= 0
        assert policy.raw["version"] == policy.version
        results = admin.classify_batch(ROUTING_TEXTS, "support")
        before = admin.taxonomy("support").raw
        assert before["model"]["id"] and before["training"]["id"]

        changed = admin.set_routing("support", auto=0.9, review=0.5, audit_rate=0.1)
        assert changed.version == policy.version + 1 and changed.source == "manual"
        assert (changed.auto, changed.review, changed.audit_rate) == (0.9, 0.5, 0.1)
        assert changed.auto_lane_open
        assert admin.routing("support").version == changed.version
        after = admin.taxonomy("support").raw  # no retrain: same model, no new job
        assert (after["model"]["id"], after["training"]["id"]) == (
            before["model"]["id"],
            before["training"]["id"],
        )
        later = admin.classify("I was charged twice this month", "support")
        assert later.bucket is Bucket(
            "auto" if later.confidence >= 0.9 else "review" if later.confidence >= 0.5 else "hold"
        )

        everything = admin.what_if("support", auto=0.0, review=0.0)
        assert isinstance(everything, WhatIf)
        assert isinstance(everything.auto_error, AutoErrorEstimate)
        assert everything.n_decisions == len(ROUTING_TEXTS) + 1
        assert (everything.shares.auto, everything.shares.hold) == (1.0, 0.0)
        confidences = [r.confidence for r in results] + [later.confidence]
        cut = sorted(confidences)[len(confidences) // 2]
        since = datetime.now(UTC) - timedelta(hours=1)
        half = admin.what_if("support", auto=cut, review=0.0, since=since)
        assert half.shares.auto == pytest.approx(
            sum(c >= cut for c in confidences) / len(confidences)
        )
        assert half.since is not None and half.since.startswith(since.isoformat()[:16])
        empty = admin.what_if("support", auto=0.9, review=0.5, until=since)
        assert empty.n_decisions == 0 and empty.shares.auto is None

        with pytest.raises(ValidationFailed) as bad:
            admin.what_if("support", auto=0.5, review=0.9)
        assert bad.value.details["status"] == 422
        with pytest.raises(ValidationFailed):
            admin.set_routing("support", review=1.5)
        with pytest.raises(NotFound):
            admin.routing("nope")

        recomputed = admin.set_routing("support", auto=None)
        assert recomputed.version == changed.version + 1
        assert recomputed.auto_lane_open == (recomputed.auto is not None)

    async def scenario() -> None:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as c:
            current = await c.routing("support")
            assert current.version == recomputed.version
            moved = await c.set_routing("support", auto=0.95)
            assert moved.version == current.version + 1 and moved.auto == 0.95
            wi = await c.what_if("support", auto=0.95, review=0.0)
            assert wi.n_decisions == len(ROUTING_TEXTS) + 1 and wi.auto == 0.95

    _run(scenario())


# ------------------------------------------------------------- one SDK, two clients
SYNC_ONLY = {"close"}
ASYNC_ONLY = {"aclose"}
STREAMED = {"iter_decisions": "Decision", "job_results": "JobResult"}  # method -> item type


def _public(cls: type) -> dict[str, Any]:
    return {
        name: getattr(cls, name)
        for name in dir(cls)
        if not name.startswith("_") and inspect.isfunction(getattr(cls, name))
    }


def test_the_async_client_has_every_method_of_the_sync_one() -> None:
    sync, aio = _public(Client), _public(AsyncClient)
    assert set(sync) - SYNC_ONLY == set(aio) - ASYNC_ONLY
    for name in set(sync) - SYNC_ONLY:
        s_sig, a_sig = inspect.signature(sync[name]), inspect.signature(aio[name])
        assert list(s_sig.parameters.values()) == list(a_sig.parameters.values()), name
        if name in STREAMED:  # an async iterator, row by row, like the sync one
            assert inspect.isasyncgenfunction(aio[name])
            assert (s_sig.return_annotation, a_sig.return_annotation) == (
                f"Iterator[{STREAMED[name]}]",
                f"AsyncIterator[{STREAMED[name]}]",
            )
        else:
            assert inspect.iscoroutinefunction(aio[name]), name
            assert s_sig.return_annotation == a_sig.return_annotation, name


def _mentions_any(tp: Any) -> bool:
    return tp is Any or any(_mentions_any(arg) for arg in typing.get_args(tp))


def test_every_method_returns_a_typed_result() -> None:
    """No ``dict[str, Any]`` (or other ``Any``) answers: each API object has its own type."""
    for cls in (Client, AsyncClient):
        for name, method in _public(cls).items():
            hints = typing.get_type_hints(method)
            assert "return" in hints, name
            assert not _mentions_any(hints["return"]), f"{cls.__name__}.{name}"


def test_the_methods_the_async_client_lacked_over_the_network(sdk_stack):
    """Taxonomy admin, training, evaluation, keys, lane error, stats and webhooks, awaited."""
    stack, flaky, server = sdk_stack
    flaky.plan.clear()
    tenant = stack.tenant("unlimited")
    labels = TINY_TAXONOMY["labels"]

    async def scenario() -> None:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as c:
            await c.create_taxonomy("support", labels)
            await c.create_taxonomy("other", labels)
            listed = await c.taxonomies()
            assert sorted(t.name for t in listed) == ["other", "support"]
            assert all(isinstance(t, TaxonomyInfo) for t in listed)
            changed = await c.update_taxonomy("support", description="customer tickets")
            assert changed.raw["description"] == "customer tickets"
            grown = await c.add_examples(
                "support", [{"text": "my card was charged again", "label": "billing"}]
            )
            assert grown.version == changed.version + 1
            ready = await c.wait_until_ready("support", timeout=120, poll=0.1)
            assert ready.ready and isinstance(ready.model, ModelInfo)
            assert ready.model.status == "ready" and ready.model.taxonomy_version == ready.version
            routing = ready.raw["routing"]  # what classify routes by, typed on the result
            assert (ready.auto_threshold, ready.review_threshold) == (
                routing["auto"],
                routing["review"],
            )
            assert ready.review_threshold is not None
            job = await c.train("support")
            assert isinstance(job, ModelInfo) and job.status in {"training", "ready"}
            done = await c.wait_until_ready("support", timeout=120, poll=0.1)
            assert done.training is not None and done.training.id == job.id
            test = [
                {"text": "refund my double payment", "label": "billing"},
                {"text": "the app crashes when I log in", "label": "bug"},
            ]
            ev = await c.evaluate("support", test)
            assert isinstance(ev, Evaluation) and (ev.evaluation, ev.n_test) == ("given", 2)
            assert ev.taxonomy == "support" and ev.accuracy is not None

            key = await c.create_key("reviewer", "robin")
            assert isinstance(key, Key) and key.key and key.key.startswith("tri_")
            assert (key.role, key.name, key.revoked_at) == ("reviewer", "robin", None)
            revoked = await c.revoke_key(key.id)
            assert revoked.id == key.id and revoked.revoked_at and revoked.key is None

            lanes = await c.lane_error(taxonomy="support")
            assert set(lanes) == {"auto", "review", "hold"}
            assert all(isinstance(v, LaneError) and v.reviewed == 0 for v in lanes.values())
            assert lanes["auto"].queue == "audit" and lanes["auto"].error is None
            stats = await c.review_stats(taxonomy="support", days=7)
            assert stats.taxonomy == "support" and stats.lane_error == lanes

            hook = await c.create_webhook(
                "https://example.test/h", ["decision.resolved"], description="ops"
            )
            assert isinstance(hook, Webhook) and hook.secret and hook.description == "ops"
            assert [w.id for w in await c.webhooks()] == [hook.id]
            changed = await c.update_webhook(hook.id, events=["decision.corrected"])
            assert changed.events == ["decision.corrected"] and changed.secret is None
            rotated = await c.rotate_webhook_secret(hook.id)
            assert rotated.secret and rotated.secret != hook.secret
            sent = await c.test_webhook(hook.id)
            assert sent.event_type == "webhook.test" and sent.endpoint_id == hook.id
            await c.delete_webhook(hook.id)
            assert await c.webhooks() == []

            archived = await c.archive_taxonomy("other")
            assert archived.name == "other" and archived.raw["archived"] is True

    _run(scenario())


def test_train_evaluate_and_keys_are_typed_in_the_sync_client(client: Client):
    job = client.train("support")
    assert isinstance(job, ModelInfo) and job.id
    info = client.wait_until_ready("support", timeout=120, poll=0.1)
    assert info.training is not None and info.training.id == job.id
    ev = client.evaluate("support", [{"text": "refund please", "label": "billing"}])
    assert isinstance(ev, Evaluation) and ev.n_test == 1 and ev.model_version
    key = client.create_key("client")
    assert key.key and client.revoke_key(key.id).revoked_at
