"""GET /v1/taxonomies/{name} says what classify routes by now (``routing``) beside the
definition's ``thresholds``: it showed auto 0.85 while the certified lane was closed or
elsewhere.  The summary is GET .../routing's policy, and it follows a manual change (before
the first model: tests/jobs/test_orphans.py)."""

from __future__ import annotations

import pytest

from tests.servicekit import Stack, Tenant, unique

pytestmark = pytest.mark.anyio


async def test_the_taxonomy_shows_the_routing_classify_applies(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    name = unique("summary")
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json={**taxonomy_body, "name": name})
        assert r.status_code == 201, r.text
        stack.service.wait_for_jobs(120)
        tax = (await c.get(f"/v1/taxonomies/{name}")).json()
        routing = (await c.get(f"/v1/taxonomies/{name}/routing")).json()
        summary = tax["routing"]
        assert summary == {
            "url": f"/v1/taxonomies/{name}/routing",
            "version": routing["version"],
            "auto": routing["auto"],
            "review": routing["review"],
            "auto_lane_open": routing["auto_lane_open"],
            "source": routing["source"],
        }
        assert tax["thresholds"]["auto"] == 0.85  # the definition's (it sets 0.85), unchanged
        r = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto": 0.93, "review": 0.7})
        assert r.status_code == 200, r.text
        listed = (await c.get("/v1/taxonomies")).json()["data"]
        [mine] = [t for t in listed if t["name"] == name]
        assert mine["routing"]["auto"] == 0.93 and mine["routing"]["review"] == 0.7
        assert mine["routing"]["version"] == summary["version"] + 1
        assert mine["routing"]["auto_lane_open"] is True
