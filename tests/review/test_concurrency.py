"""Many reviewers claiming from one queue at once: every item is resolved exactly once.

PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP LOCKED`` (20 reviewers, 1,000
items); SQLite with one conditional ``UPDATE`` under ``BEGIN IMMEDIATE`` (a
smaller run).  Each reviewer has its own key and loops claim -> resolve until the
queue is empty.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.review.conftest import Team
from triaged.storage.review import review_events, review_items
from triaged.taxonomy import read_jsonl

pytestmark = pytest.mark.anyio


def texts(datasets_dir: Path, n: int) -> list[str]:
    out = [ex.text for ex in read_jsonl(datasets_dir / "clinc150" / "test.jsonl")][:n]
    assert len(out) == n
    return out


async def _review_all(team: Team, n_items: int, n_reviewers: int, datasets_dir: Path) -> None:
    stack = team.stack
    tax = await team.taxonomy(name=f"conc{n_items}")
    results = await team.classify(tax, texts(datasets_dir, n_items))
    assert len(results) == n_items
    reviewers = [
        stack.client(stack.service.create_key(team.workspace, "reviewer").key)
        for _ in range(n_reviewers)
    ]
    resolved: list[str] = []
    statuses: Counter[int] = Counter()
    start = asyncio.Event()

    async def reviewer(client: Any) -> None:
        await start.wait()
        while True:
            r = await client.post("/v1/review/claim", json={"taxonomy": tax, "limit": 5})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            if not items:
                return
            for item in items:
                r = await client.post(
                    f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"}
                )
                statuses[r.status_code] += 1
                if r.status_code == 200:
                    resolved.append(item["id"])

    tasks = [asyncio.create_task(reviewer(c)) for c in reviewers]
    start.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
    for c in reviewers:
        await c.aclose()

    assert statuses == Counter({200: n_items})
    assert len(resolved) == len(set(resolved)) == n_items
    with stack.service.db.read() as conn:
        rows = conn.execute(
            select(review_items.c.status, func.count())
            .where(review_items.c.taxonomy == tax)
            .group_by(review_items.c.status)
        ).all()
        ids = set(
            conn.execute(select(review_items.c.id).where(review_items.c.taxonomy == tax)).scalars()
        )
        per_item = Counter(
            conn.execute(
                select(review_events.c.item_id).where(
                    review_events.c.item_id.in_(ids),
                    review_events.c.event.in_(("claimed", "resolved")),
                )
            ).scalars()
        )
    assert dict(rows) == {"resolved": n_items}
    assert ids == set(resolved)
    assert set(per_item.values()) == {2}  # claimed once, resolved once, every item


@pytest.mark.postgres
@pytest.mark.parametrize("rstack", ["postgres"], indirect=True)
async def test_twenty_reviewers_thousand_items_postgres(team: Team, datasets_dir: Path) -> None:
    assert team.stack.backend == "postgres"
    await _review_all(team, 1000, 20, datasets_dir)


@pytest.mark.parametrize("rstack", ["sqlite"], indirect=True)
async def test_concurrent_reviewers_sqlite(team: Team, datasets_dir: Path) -> None:
    assert team.stack.backend == "sqlite"
    await _review_all(team, 200, 8, datasets_dir)
