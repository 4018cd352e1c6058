"""The auto lane's live guarantee, simulated through the HTTP API (ASGI, real service).

A taxonomy is trained on some labels of a shared dataset (Banking77: 20 known labels);
traffic then mixes in texts of the *other* labels (inputs no label covers).  A truthful
reviewer resolves every queued item (held, flagged and audited): ``confirm`` when the
model was right, ``correct`` to the true label, ``out_of_scope`` when the text belongs
to no known label.  The service's live check raises (or closes, or lowers) the auto
threshold from those reviews by itself; a fresh stream then measures the auto lane.

Used by ``tests/api/test_routing_live.py`` (test size) and ``bench/bench_live.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage import upgrade
from triaged.storage.webhooks import webhook_events

PROBE_THRESHOLDS = (0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
Item = tuple[str, str | None]  # (text, true label; None: fits no known label)


@dataclass
class Slice:
    labels: list[dict[str, Any]]  # known labels with their training examples
    known: list[tuple[str, str]]  # held-out texts of known labels
    unknown: list[str]  # texts of the other labels


def read_split(root: Path, split: str) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in (root / f"{split}.jsonl").read_text().splitlines() if x]
    return [(r["text"], r["label"]) for r in rows]


def dataset_slice(
    datasets_dir: Path,
    dataset: str = "banking77",
    *,
    n_known: int = 20,
    per_label: int = 100,
    seed: int = 0,
) -> Slice:
    """``n_known`` labels drawn at random (seed) with ``per_label`` training examples each."""
    root = datasets_dir / dataset
    rng = random.Random(seed)
    meta = json.loads((root / "labels.json").read_text())
    described = {lb["name"]: lb.get("description", "") for lb in meta}
    rows = read_split(root, "train") + read_split(root, "test")
    rng.shuffle(rows)
    names = sorted({lb for _, lb in rows if lb != "oos"})
    known = set(rng.sample(names, n_known))
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        by_label[label].append(text)
    labels = [
        {"name": n, "description": described.get(n, ""), "examples": by_label[n][:per_label]}
        for n in sorted(known)
    ]
    held = [(t, n) for n in sorted(known) for t in by_label[n][per_label:]]
    unknown = [t for n in names if n not in known for t in by_label[n]]
    rng.shuffle(held)
    rng.shuffle(unknown)
    return Slice(labels, held, unknown)


@dataclass
class Pools:
    """Draws streams without ever repeating a text."""

    known: list[tuple[str, str]]
    unknown: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(1))

    def stream(self, n: int, unknown_share: float) -> list[Item]:
        n_unknown = round(n * unknown_share)
        if n - n_unknown > len(self.known) or n_unknown > len(self.unknown):
            raise ValueError("the slice has too few texts left for this stream")
        items: list[Item] = [self.known.pop() for _ in range(n - n_unknown)]
        items += [(self.unknown.pop(), None) for _ in range(n_unknown)]
        self.rng.shuffle(items)
        return items


@dataclass
class Sim:
    service: Service
    admin: httpx.AsyncClient
    client: httpx.AsyncClient
    reviewer: httpx.AsyncClient
    taxonomy: str
    truth: dict[str, str | None] = field(default_factory=dict)
    reviews: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)

    async def close(self) -> None:
        for c in (self.admin, self.client, self.reviewer):
            await c.aclose()

    async def routing(self) -> dict[str, Any]:
        r = await self.admin.get(f"/v1/taxonomies/{self.taxonomy}/routing")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    async def models(self) -> dict[str, int]:
        """How many model versions of the taxonomy are ready and how many failed."""
        r = await self.admin.get(f"/v1/taxonomies/{self.taxonomy}/models", params={"limit": 200})
        r.raise_for_status()
        rows = r.json()["data"]
        return {k: sum(m["status"] == k for m in rows) for k in ("ready", "failed")}

    async def classify(self, items: list[Item], batch: int = 100) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            r = await self.client.post(
                "/v1/classify/batch",
                json={"taxonomy": self.taxonomy, "texts": [t for t, _ in chunk]},
            )
            r.raise_for_status()
            for (_, label), res in zip(chunk, r.json()["results"], strict=True):
                self.truth[res["id"]] = label
                out.append({**res, "truth": label})
        return out

    async def review_all(self, new_category: str | None = None) -> int:
        """Resolve every open item of the taxonomy as a truthful reviewer would; an input
        that fits no label is ``out_of_scope``, or with ``new_category`` a proposal of a
        label of that name."""
        done = 0
        while True:
            r = await self.reviewer.post(
                "/v1/review/claim", json={"limit": 500, "taxonomy": self.taxonomy}
            )
            r.raise_for_status()
            items = r.json()["items"]
            if not items:
                return done
            for item in items:
                truth = self.truth[item["decision_id"]]
                if truth is None and new_category is not None:
                    body: dict[str, Any] = {"action": "new_category", "new_label": new_category}
                elif truth is None:
                    body = {"action": "out_of_scope"}
                elif truth == item["label"]:
                    body = {"action": "confirm"}
                else:
                    body = {"action": "correct", "label": truth}
                r = await self.reviewer.post(f"/v1/review/items/{item['id']}/resolve", json=body)
                r.raise_for_status()
                done += 1
                self.reviews += 1

    async def run_traffic(
        self, pools: Pools, n: int, unknown_share: float, chunk: int = 200
    ) -> list[dict[str, Any]]:
        """Stream ``n`` texts in chunks; the reviewer clears the queue after each chunk."""
        decisions: list[dict[str, Any]] = []
        for start in range(0, n, chunk):
            batch = await self.classify(pools.stream(min(chunk, n - start), unknown_share))
            decisions += batch
            await self.review_all()
            # a retrain the reviews started (retraining on) finishes before the next chunk,
            # so runs differ by their data, not by how a thread pool was scheduled
            await asyncio.to_thread(self.service.review.wait, 600)
            policy = await self.routing()
            self.timeline.append(
                {
                    "after": start + min(chunk, n - start),
                    "reviews": self.reviews,
                    "version": policy["version"],
                    "auto": policy["auto"],
                    "source": policy["source"],
                    # the chunk's own decisions, routed by the policy before this check
                    "chunk_auto_share": sum(d["bucket"] == "auto" for d in batch) / len(batch),
                }
            )
        return decisions

    def alerts(self) -> list[dict[str, Any]]:
        """``alert.auto_lane`` events in the webhook outbox (this taxonomy)."""
        e = webhook_events.c
        with self.service.db.read() as conn:
            rows = conn.execute(
                select(e.payload).where(e.type == "alert.auto_lane").order_by(e.id)
            ).scalars()
            return [p["data"] for p in rows if p["data"]["taxonomy"] == self.taxonomy]


def measure(decisions: list[dict[str, Any]], threshold: float | None = None) -> dict[str, Any]:
    """The auto lane on ``decisions``: share, size, errors (out-of-scope counts as wrong);
    with ``threshold``: what that threshold would have routed to auto instead."""
    if threshold is None:
        auto = [d for d in decisions if d["bucket"] == "auto"]
    else:
        auto = [d for d in decisions if d["confidence"] >= threshold]
    wrong = sum(d["truth"] != d["label"] for d in auto)
    unknown = [d for d in decisions if d["truth"] is None]
    known = [d for d in decisions if d["truth"] is not None]
    return {
        "n": len(decisions),
        "auto_n": len(auto),
        "auto_share": len(auto) / len(decisions) if decisions else 0.0,
        "auto_errors": wrong,
        "auto_error": wrong / len(auto) if auto else None,
        # acted on before a person saw it (auto or review) / held before any action
        "unknown_acted": (
            sum(d["bucket"] != "hold" for d in unknown) / len(unknown) if unknown else None
        ),
        "known_held": sum(d["bucket"] == "hold" for d in known) / len(known) if known else None,
    }


def make_service(url: str, **overrides: Any) -> Service:
    upgrade(url)
    # by default the model stays fixed (only the routing policy moves); overrides may
    # turn retraining on
    fixed: dict[str, Any] = {"review_retrain_after": 0, "routing_check_interval_seconds": 0}
    settings = Settings(
        database_url=url,
        bootstrap_admin=False,
        migrate_on_start=False,
        **{**fixed, **overrides},
    )
    return Service(settings)


async def start(service: Service, sl: Slice, name: str) -> Sim:
    """A workspace with admin, client and reviewer keys, and the trained taxonomy."""
    ws = f"live-{name}"
    admin_key = service.create_key(ws, "admin", create_plan="unlimited").key
    client_key = service.create_key(ws, "client").key
    reviewer_key = service.create_key(ws, "reviewer").key
    app = create_app(service=service)

    def client(key: str | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://triaged.test",
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )

    sim = Sim(service, client(admin_key), client(client_key), client(reviewer_key), name)
    r = await sim.admin.post("/v1/taxonomies", json={"name": name, "labels": sl.labels})
    r.raise_for_status()
    service.wait_for_jobs(timeout=600)
    return sim


async def scenario(
    service: Service,
    sl: Slice,
    *,
    name: str,
    unknown_share: float,
    n_stream: int,
    n_fresh: int,
    routing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, stream with reviews, then measure the auto lane on fresh traffic.

    ``routing``: a change to the trained policy first (``PUT .../routing``, no retrain),
    e.g. the share of out-of-scope traffic the operator expects."""
    started = time.perf_counter()
    pools = Pools(list(sl.known), list(sl.unknown))
    sim = await start(service, sl, name)
    try:
        if routing:
            r = await sim.admin.put(f"/v1/taxonomies/{name}/routing", json=routing)
            r.raise_for_status()
        trained = await sim.routing()
        await sim.run_traffic(pools, n_stream, unknown_share)
        final = await sim.routing()
        fresh = await sim.classify(pools.stream(n_fresh, unknown_share))
        return {
            "unknown_share": unknown_share,
            "trained": trained,
            "final": final,
            "timeline": sim.timeline,
            "reviews": sim.reviews,
            "alerts": sim.alerts(),
            "models": await sim.models(),
            "fresh": measure(fresh),
            "fresh_at_training_threshold": (
                measure(fresh, trained["auto"]) if trained["auto"] is not None else None
            ),
            "fresh_by_threshold": {t: measure(fresh, t) for t in PROBE_THRESHOLDS},
            "seconds": time.perf_counter() - started,
        }
    finally:
        await sim.close()
