"""Insights after a taxonomy edit renamed a label: the decisions made under the old name
are the renamed label's traffic, not a gap (through the ASGI app on a real database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import Stack, Tenant, unique
from triaged.services.label_lineage import successors
from triaged.taxonomy import Label, Taxonomy, read_jsonl

pytestmark = pytest.mark.anyio

SIBLINGS = ("exchange_rate", "top_up_failed", "pin_blocked", "lost_or_stolen_card")


def _banking(datasets_dir: Path, split: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for ex in read_jsonl(datasets_dir / "banking77" / f"{split}.jsonl"):
        groups.setdefault(ex.label, []).append(ex.text)
    return groups


async def _patch_labels(c: Any, name: str, labels: list[dict[str, Any]]) -> None:
    r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": labels})
    assert r.status_code == 200, r.text


async def test_a_renamed_labels_old_traffic_is_no_gap(
    stack: Stack, tenant: Tenant, datasets_dir: Path
) -> None:
    """'card_arrived' was renamed 'card_arrival' (same examples), then, after an unrelated
    edit, 'card_delivery'.  The held decisions made as 'card_arrived' were reported as a new
    gap cluster (the check that a cluster is a known label's traffic compared the decision's
    label name with the current labels) and label health listed 'card_arrived' apart."""
    train, test = _banking(datasets_dir, "train"), _banking(datasets_dir, "test")
    name = unique("renamed")
    labels = [{"name": "card_arrived", "examples": train["card_arrival"][:20]}]
    labels += [{"name": n, "examples": train[n][:20]} for n in SIBLINGS]
    body = {"name": name, "labels": labels, "thresholds": {"auto": 1.0, "review": 1.0}}
    arrivals = test["card_arrival"][:40]
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        texts = arrivals + [t for n in SIBLINGS for t in test[n][:10]]
        r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert all(x["bucket"] == "hold" for x in results)
        arrived = {x["id"] for x in results if x["label"] == "card_arrived"}
        assert len(arrived) >= 25
        labels[0] = {**labels[0], "name": "card_arrival"}
        await _patch_labels(c, name, labels)
        labels[1] = {**labels[1], "examples": [*labels[1]["examples"], train["exchange_rate"][20]]}
        await _patch_labels(c, name, labels)
        labels[0] = {**labels[0], "name": "card_delivery"}
        await _patch_labels(c, name, labels)
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        data = r.json()
    gaps = [g for g in data["gap_clusters"] if arrived & set(g["decision_ids"])]
    assert not gaps, [(g["proposed_label"], len(g["decision_ids"])) for g in gaps]
    health = {h["label"]: h["volume"] for h in data["labels"]}
    assert "card_arrived" not in health and "card_arrival" not in health, health
    assert health["card_delivery"] == len(arrived)
    assert list(health)[: len(labels)] == [lb["name"] for lb in labels]


def _tax(*labels: Label) -> Taxonomy:
    return Taxonomy(name="t", labels=labels)


def test_successors_of_renamed_merged_and_removed_labels() -> None:
    """A label gone from one version to the next continues as the label that holds most of
    its examples (a rename, or a merge into a kept label); one whose examples went nowhere
    was removed; one without examples continues as the only new label with its description."""
    before = _tax(
        Label("a", "", ("a1", "a2", "a3")),
        Label("b", "", ("b1", "b2")),
        Label("c", "", ("c1", "c2")),
        Label("d", "the d things"),
        Label("e", "", ("e1", "e2", "e3", "e4")),
        Label("keep", "", ("k1",)),
    )
    after = _tax(
        Label("a_renamed", "", ("a1", "a2", "a3", "x")),
        Label("keep", "", ("k1", "b1", "b2")),  # b merged into keep
        Label("d_renamed", "the d things"),
        Label("split1", "", ("e1",)),  # e split in four: no successor holds half of it
        Label("split2", "", ("e2",)),
        Label("split3", "", ("e3",)),
    )
    assert successors(before, after) == {"a": "a_renamed", "b": "keep", "d": "d_renamed"}
    assert successors(before, before) == {}
    # two new labels with the gone label's description: no guess
    twice = _tax(Label("x", "the d things"), Label("y", "the d things"))
    assert successors(_tax(Label("d", "the d things")), twice) == {}
