"""A time filter means the same instant however its offset is written.

SQLite stores times as UTC digits and compares digits: a bound with another offset must be
converted to UTC, not relabelled (until 5 December ``/v1/review/items``, ``what-if`` and
``/v1/review/lane-error`` kept the offset's digits, so ``21:38+01:00`` read as ``21:38Z``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique

pytestmark = pytest.mark.anyio

SPELLINGS = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)))


def _spelled(instant: datetime) -> list[str]:
    """One instant, written with three offsets."""
    return [instant.astimezone(tz).isoformat() for tz in SPELLINGS]


async def test_since_is_one_instant_whatever_its_offset(stack: Stack, tenant: Tenant) -> None:
    name = unique("tz")
    body: dict[str, Any] = {**TINY_TAXONOMY, "name": name}
    body["thresholds"] = {"auto": 0.999, "review": 0.998}  # every decision is held
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
        before = datetime.now(UTC) - timedelta(minutes=1)
        texts = ["I was charged twice", "the app crashes", "change my email"]
        r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
        assert r.status_code == 200, r.text
        after = datetime.now(UTC) + timedelta(minutes=1)

        async def counts(bound: str, window: str) -> tuple[int, int, int]:
            query = {"taxonomy": name, window: bound}
            items = await c.get("/v1/review/items", params=query)
            what_if = await c.get(f"/v1/taxonomies/{name}/what-if", params={window: bound})
            listed = await c.get("/v1/decisions", params=query)
            for resp in (items, what_if, listed):
                assert resp.status_code == 200, resp.text
            return (
                len(items.json()["data"]),
                what_if.json()["n_decisions"],
                len(listed.json()["data"]),
            )

        for bound in _spelled(before):
            assert await counts(bound, "since") == (3, 3, 3), bound
            assert await counts(bound, "until") == (0, 0, 0), bound
        for bound in _spelled(after):
            assert await counts(bound, "until") == (3, 3, 3), bound


async def test_since_after_until_is_a_400_everywhere(stack: Stack, tenant: Tenant) -> None:
    """A window that ends before it starts is a mistake in the request: every endpoint with
    both bounds answers 400 as what-if did (the others answered an empty 200)."""
    name = unique("tz")
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        window = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00+01:00"}
        for path, extra in (
            ("/v1/decisions", {}),
            ("/v1/review/items", {}),
            ("/v1/metrics/buckets", {}),
            (f"/v1/taxonomies/{name}/insights", {}),
            (f"/v1/taxonomies/{name}/what-if", {}),
        ):
            r = await c.get(path, params={**window, **extra})
            assert r.status_code == 400, (path, r.text)
            assert r.json()["error"]["code"] == "invalid_input", path
            ok = await c.get(path, params={"since": window["until"], "until": window["since"]})
            assert ok.status_code == 200, (path, ok.text)
