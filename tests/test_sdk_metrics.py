"""The SDK's bucket metrics, drift (now, check, recorded alerts) and insights methods (sync
and async) against a real uvicorn server; the answers without a field-level schema are
compared with their types."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from triaged.client import (
    AsyncClient,
    BucketMetrics,
    BucketPoint,
    BucketTotals,
    Client,
    DriftAlert,
    DriftReport,
    GapCluster,
    Insights,
    LabelHealth,
    LabelOverlap,
)
from triaged.errors import Forbidden, NotFound, ValidationFailed
from triaged.services.ids import new_id
from triaged.storage.tables import decisions


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _rows(ws: str, tax_id: str, start: datetime, hours: float, n: int, hold: float) -> list[Any]:
    rng = random.Random(n)
    out = []
    for _ in range(n):
        bucket = "hold" if rng.random() < hold else rng.choice(("auto", "auto", "review"))
        out.append(
            {
                "id": new_id("dec"),
                "workspace_id": ws,
                "taxonomy_id": tax_id,
                "taxonomy": "shifted",
                "taxonomy_version": 1,
                "model_version": "m",
                "text": "t",
                "label": rng.choice(("billing", "bug")),
                "confidence": 0.5,
                "bucket": bucket,
                "alternatives": [],
                "scores": {},
                "latency_ms": 1.0,
                "created_at": start + timedelta(seconds=rng.random() * hours * 3600),
            }
        )
    return out


@pytest.fixture(scope="module")
def stack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LiveServer]]:
    """One database and server for the module; each test gets its own tenant on it."""
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'm.db'}")
    with live_server(stack.app) as server:
        yield stack, server
    stack.service.close()


@pytest.fixture
def served(stack_server: tuple[Stack, LiveServer]) -> tuple[Stack, LiveServer, str]:
    """A fresh tenant whose ``shifted`` taxonomy held 10% for a week, then 20% for a day.

    Per test, so that no test sees another's recorded drift alerts or taxonomies: the tests
    pass alone, in any order and split across xdist workers."""
    stack, server = stack_server
    tenant = stack.tenant()
    principal = stack.service.authenticate(tenant.key)
    stack.service.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "shifted"})
    record = stack.service.taxonomy_record(principal, "shifted")
    ws, now = principal.workspace_id, datetime.now(UTC)
    with stack.service.db.write() as conn:
        week = _rows(ws, record.id, now - timedelta(days=8, hours=-1), 24 * 7 - 2, 2000, 0.10)
        day = _rows(ws, record.id, now - timedelta(hours=23), 22, 600, 0.20)
        conn.execute(decisions.insert(), week + day)
    return stack, server, tenant.key


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _raw(server: LiveServer, key: str, path: str, **params: Any) -> Any:
    answer = httpx.get(
        f"{server.url}{path}", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    answer.raise_for_status()
    return answer.json()


def test_bucket_metrics(served: tuple[Stack, LiveServer, str]) -> None:
    _, server, key = served
    with Client(server.url, key, backoff=0.01) as c:
        got = c.bucket_metrics(taxonomy="shifted", interval="week")
        assert isinstance(got, BucketMetrics)
        assert (got.taxonomy, got.interval) == ("shifted", "week")
        assert isinstance(got.totals, BucketTotals) and got.totals.total == 2600
        assert all(isinstance(p, BucketPoint) for p in got.series)
        assert sum(p.total for p in got.series) == 2600
        busy = [p for p in got.series if p.total]
        assert all(abs(sum(vars_of(p.shares)) - 1) < 1e-4 for p in busy)
        billing = c.bucket_metrics(taxonomy="shifted", label="billing", since="2000-01-01")
        assert billing.label == "billing" and 0 < billing.totals.total < 2600
        with pytest.raises(ValidationFailed):
            c.bucket_metrics(interval="minute")
        with pytest.raises(NotFound):
            c.bucket_metrics(taxonomy="nope")
    raw = _raw(server, key, "/v1/metrics/buckets", taxonomy="shifted")
    assert set(raw) == _fields(BucketMetrics)
    assert set(raw["totals"]) == _fields(BucketTotals)
    assert set(raw["series"][0]) == _fields(BucketPoint)


def vars_of(shares: Any) -> list[float]:
    return [v for v in (shares.auto, shares.review, shares.hold) if v is not None]


def test_drift_check_and_recorded_alerts(served: tuple[Stack, LiveServer, str]) -> None:
    stack, server, key = served
    with Client(server.url, key, backoff=0.01) as c:
        now = c.drift(taxonomy="shifted")
        assert isinstance(now, DriftReport) and now.taxonomy == "shifted"
        held = [a for a in now.alerts if (a.metric, a.bucket) == ("bucket_share", "hold")]
        assert len(held) == 1 and held[0].direction == "up" and held[0].event_id is None
        assert isinstance(held[0], DriftAlert) and held[0].taxonomy == "shifted"
        assert held[0].recent_share > held[0].baseline_share and held[0].message
        assert c.drift(taxonomy="shifted", min_volume=10**6).alerts == []  # a setting is sent
        labelled = c.drift(taxonomy="shifted", per_label=True, alpha=0.5, min_change=0.0)
        assert {a.metric for a in labelled.alerts} <= {"bucket_share", "label_share"}
        assert c.drift_alerts() == []
        checked = c.drift_check(taxonomy="shifted")
        assert {a.metric for a in checked} == {a.metric for a in now.alerts}
        assert all(a.event_id for a in checked)
        assert c.drift_check(taxonomy="shifted") == []  # not repeated within its window
        recorded = c.drift_alerts(taxonomy="shifted")
        assert {a.event_id for a in recorded} == {a.event_id for a in checked}
        assert all(a.recorded_at for a in recorded)
        assert c.drift_alerts(since=datetime.now(UTC) + timedelta(hours=1)) == []
        workspace = c.workspace().name
    reviewer = stack.service.create_key(workspace, "reviewer").key
    assert reviewer is not None
    with Client(server.url, reviewer, backoff=0.01) as r, pytest.raises(Forbidden):
        r.drift_check()
    raw = _raw(server, key, "/v1/metrics/drift", taxonomy="shifted")
    assert set(raw) == _fields(DriftReport)
    optional = {"extra", "event_id", "recorded_at"}
    assert _fields(DriftAlert) - optional <= set(raw["alerts"][0]) <= _fields(DriftAlert)
    listed = _raw(server, key, "/v1/metrics/drift/alerts")["data"][0]
    assert _fields(DriftAlert) - {"extra"} <= set(listed) <= _fields(DriftAlert)


def test_insights_sync_and_async(served: tuple[Stack, LiveServer, str]) -> None:
    _, server, key = served
    with Client(server.url, key, backoff=0.01) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"], thresholds={"auto": 0.99})
        c.wait_until_ready("support", timeout=120, poll=0.1)
        for text in ("my invoice is wrong", "the app crashes", "where is my parcel"):
            c.classify(text, "support")
        got = c.insights("support")
        assert isinstance(got, Insights) and got.taxonomy == "support" and got.since
        assert got.until is None and got.generated_at and got.summary
        assert all(isinstance(h, LabelHealth) for h in got.labels)
        assert sum(h.volume for h in got.labels) == 3
        assert all(isinstance(g, GapCluster) for g in got.gap_clusters)
        assert all(isinstance(o, LabelOverlap) for o in got.overlaps)
        with pytest.raises(NotFound):
            c.insights("nope")
    raw = _raw(server, key, "/v1/taxonomies/support/insights")
    assert set(raw) == _fields(Insights) - {"since", "until", "raw"} | {"window"}
    assert all(set(h) == _fields(LabelHealth) for h in raw["labels"])

    async def scenario() -> None:
        async with AsyncClient(server.url, key, backoff=0.01) as c:
            again = await c.insights("support", since=datetime.now(UTC) - timedelta(days=1))
            assert [h.label for h in again.labels] == [h.label for h in got.labels]
            assert (await c.bucket_metrics(taxonomy="shifted")).totals.total == 2600
            report = await c.drift(taxonomy="shifted")
            assert await c.drift_alerts(taxonomy="shifted") == []  # nothing recorded yet
            checked = await c.drift_check(taxonomy="shifted")
            assert {a.metric for a in checked} == {a.metric for a in report.alerts}
            assert len(await c.drift_alerts(taxonomy="shifted")) == len(checked)
            assert await c.drift_check(taxonomy="shifted") == []

    _run(scenario())


def test_cluster_and_overlap_types_match_the_server() -> None:
    """A gap cluster's and an overlap's fields, as the server's insights write them."""
    from triaged.insights.gaps import GapCluster as ServerCluster
    from triaged.insights.overlaps import Overlap

    assert {f.name for f in dataclasses.fields(ServerCluster)} == _fields(GapCluster)
    assert {f.name for f in dataclasses.fields(Overlap)} == _fields(LabelOverlap)
