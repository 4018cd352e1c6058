"""The out-of-scope share the reviews measure stands for the traffic whatever lane the
reviewers work first: each lane's reviewed decisions are weighted by the inverse of the
share of that lane that got reviewed (one factor for the review and hold lanes together
let a fully reviewed hold queue, mostly out of scope, stand for the review lane too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench.live_sim import Pools, dataset_slice, make_service, start
from sqlalchemy import select

from triaged.routing_live import weighted_error_bound
from triaged.services.routing_policy.reviews import traffic_reviews
from triaged.storage.tables import taxonomies

pytestmark = pytest.mark.anyio


async def _review_some(sim: Any, n: int, queue: str | None) -> int:
    """Claim ``n`` items in the service's claim order (of ``queue``) and resolve them
    truthfully."""
    body: dict[str, Any] = {"limit": n, "taxonomy": sim.taxonomy}
    if queue is not None:
        body["queue"] = queue
    r = await sim.reviewer.post("/v1/review/claim", json=body)
    r.raise_for_status()
    items = r.json()["items"]
    for item in items:
        truth = sim.truth[item["decision_id"]]
        action: dict[str, Any] = (
            {"action": "out_of_scope"}
            if truth is None
            else {"action": "confirm"}
            if truth == item["label"]
            else {"action": "correct", "label": truth}
        )
        r = await sim.reviewer.post(f"/v1/review/items/{item['id']}/resolve", json=action)
        r.raise_for_status()
    return len(items)


@pytest.mark.parametrize("queue", [None, "review"])
async def test_the_share_stands_for_the_traffic_whichever_lane_is_reviewed_first(
    tmp_path: Path, datasets_dir: Path, queue: str | None
) -> None:
    service = make_service(f"sqlite:///{tmp_path / 'share.db'}")
    sim = None
    try:
        sl = dataset_slice(datasets_dir, "banking77", n_known=12, per_label=40, seed=3)
        sim = await start(service, sl, "share")
        pools = Pools(list(sl.known), list(sl.unknown))
        sent = await sim.classify(pools.stream(300, 0.2))
        truth = sum(d["truth"] is None for d in sent) / len(sent)
        held = sum(d["bucket"] == "hold" for d in sent)
        assert 0 < held < len(sent) - 40  # both lanes hold decisions to review
        assert await _review_some(sim, 120, queue) == 120
        with service.db.read() as conn:
            tid = conn.execute(select(taxonomies.c.id).where(taxonomies.c.name == "share"))
            taxonomy_id = tid.scalar_one()
            pool, weights = traffic_reviews(conn, taxonomy_id)
        if queue == "review":  # the hold lane, mostly out of scope, has no review yet
            assert pool.out_of_scope.size == 0 and weights.size == 0
            assert await _review_some(sim, 30, "hold") == 30
            with service.db.read() as conn:
                pool, weights = traffic_reviews(conn, taxonomy_id)
        share = weighted_error_bound(pool.out_of_scope, weights, 0.05)
        assert share.estimate is not None
        assert share.lower <= truth <= share.upper, (truth, share)
        assert abs(share.estimate - truth) < 0.1, (truth, share)
    finally:
        if sim is not None:
            await sim.close()
        service.close()
