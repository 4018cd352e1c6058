"""Deleting a workspace while its keys are busy (classify, review claims and resolves).

On PostgreSQL the purge deletes table by table in one transaction; requests kept adding
review events and decisions between its deletes, and every try failed on a foreign key
(`triaged workspaces delete` answered "database error" six times in 100 s under 12
clients). The workspace's keys are now refused first, and a purge that meets a row of a
request already past authentication is tried again.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from tests.servicekit import TINY_TAXONOMY, make_stack, pg_database

pytestmark = pytest.mark.postgres


async def _traffic(c: Any, stop: asyncio.Event, seen: collections.Counter[int]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        r = await c.post("/v1/classify", json={"taxonomy": "support", "text": f"refund {n}"})
        seen[r.status_code] += 1
        r = await c.post("/v1/review/claim", json={"limit": 2})
        seen[r.status_code] += 1
        for item in r.json().get("items", []) if r.status_code == 200 else []:
            done = await c.post(
                f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"}
            )
            seen[done.status_code] += 1


def test_a_busy_workspace_can_be_deleted() -> None:
    with pg_database() as url:
        stack = make_stack("postgres", url)
        svc = stack.service
        tenant = stack.tenant()
        other = stack.tenant()
        try:
            for t in (tenant, other):
                principal = svc.authenticate(t.key)
                svc.create_taxonomy(
                    principal,
                    {
                        **TINY_TAXONOMY,
                        "name": "support",
                        "thresholds": {"auto": 1.0, "review": 0.0},
                    },
                )

            async def run() -> tuple[dict[str, Any], collections.Counter[int]]:
                seen: collections.Counter[int] = collections.Counter()
                stop = asyncio.Event()
                async with stack.client(tenant.key) as c:
                    clients = [asyncio.create_task(_traffic(c, stop, seen)) for _ in range(8)]
                    await asyncio.sleep(1.5)
                    try:
                        result = await asyncio.to_thread(svc.delete_workspace, tenant.workspace)
                    finally:
                        stop.set()
                        await asyncio.gather(*clients)
                return result, seen

            result, seen = asyncio.run(run())
            assert result["deleted"]["workspaces"] == 1
            assert seen[200] > 0 and not [s for s in seen if s >= 500], seen
            with pytest.raises(Exception, match="invalid or revoked"):
                svc.authenticate(tenant.key)
            # the other workspace is untouched and active
            assert svc.usage(svc.authenticate(other.key))["used"] == 0
        finally:
            svc.close()
