"""The dashboard's overlap cards offer the merge their insight suggests (through the ASGI app
on a real database): a taxonomy where one CLINC150 intent is split at random into two labels,
its traffic classified, shows the pair as ``merge`` with a form for each direction; an admin
merges, the label goes and its examples join the other; a reviewer gets no form and a 403."""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.web.seed import Seeded
from tests.web.test_pages import _sign_in
from triaged.taxonomy import read_jsonl

INTENTS = ("alarm", "bill_due", "book_flight", "calories", "cook_time", "timer", "weather")
FORM = re.compile(r'<form method="post" action="/ui/dashboard/merge-label".*?</form>', re.S)


def _split_taxonomy(datasets_dir: Path) -> tuple[dict[str, Any], list[str]]:
    groups: dict[str, dict[str, list[str]]] = {
        k: defaultdict(list) for k in ("train", "val", "test")
    }
    for split, by_label in groups.items():
        for ex in read_jsonl(datasets_dir / "clinc150" / f"{split}.jsonl"):
            by_label[ex.label].append(ex.text)
    rng = random.Random(1)
    labels = [
        {"name": n, "description": n.replace("_", " "), "examples": groups["train"][n][:30]}
        for n in INTENTS
    ]
    halves: dict[str, list[str]] = {"balance_a": [], "balance_b": []}
    for text in groups["train"]["balance"][:60]:
        halves[rng.choice(("balance_a", "balance_b"))].append(text)
    labels += [{"name": n, "description": "balance", "examples": t} for n, t in halves.items()]
    body = {"name": "split", "labels": labels, "thresholds": {"auto": 1.0, "review": 1.0}}
    texts = [t for n in INTENTS for t in groups["test"][n][:15]]
    texts += groups["test"]["balance"] + groups["val"]["balance"]  # the pair's close calls
    return body, texts


def _setup(client: TestClient, s: Seeded, datasets_dir: Path) -> None:
    body, texts = _split_taxonomy(datasets_dir)
    auth = {"Authorization": f"Bearer {s.admin_key}"}
    r = client.post("/v1/taxonomies", json=body, headers=auth)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 180  # trained in the background (over 60 examples)
    while not client.get("/v1/taxonomies/split", headers=auth).json()["ready"]:
        assert time.monotonic() < deadline, "the taxonomy did not train"
        time.sleep(0.2)
    for start in range(0, len(texts), 100):
        batch = {"taxonomy": "split", "texts": texts[start : start + 100]}
        r = client.post("/v1/classify/batch", json=batch, headers=auth)
        assert r.status_code == 200, r.text


def _labels(client: TestClient, s: Seeded) -> dict[str, list[str]]:
    r = client.get(
        "/v1/taxonomies/split",
        params={"include_examples": True},
        headers={"Authorization": f"Bearer {s.admin_key}"},
    )
    assert r.status_code == 200, r.text
    return {lb["name"]: lb["examples"] for lb in r.json()["labels"]}


def test_an_admin_merges_the_pair_the_insights_call_one_label(
    ui: tuple[TestClient, Seeded], datasets_dir: Path
) -> None:
    client, s = ui
    _setup(client, s, datasets_dir)
    csrf = _sign_in(client, s.admin_key)
    page = client.get("/ui/dashboard?taxonomy=split").text
    forms = FORM.findall(page)
    assert len(forms) == 2, page[page.find("h-overlaps") :][:3000]
    assert "Merge balance_a into balance_b" in forms[0] + forms[1]
    assert all(f'value="{csrf}"' in f for f in forms)
    before = _labels(client, s)

    data = {"csrf_token": csrf, "taxonomy": "split", "label": "balance_a", "into": "balance_b"}
    r = client.post("/ui/dashboard/merge-label", data=data)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/dashboard?taxonomy=split&notice=labels_merged"
    assert 'role="status" id="notice">Labels merged:' in client.get(r.headers["location"]).text
    after = _labels(client, s)
    assert "balance_a" not in after
    assert after["balance_b"] == before["balance_b"] + before["balance_a"]

    # the pair is gone: merging it again is said on the dashboard and writes nothing
    r = client.post("/ui/dashboard/merge-label", data=data)
    assert r.status_code == 303, r.text
    assert "error=" in r.headers["location"]
    assert "has no label &#39;balance_a&#39;" in client.get(r.headers["location"]).text
    assert _labels(client, s) == after
    # without the token: refused
    r = client.post("/ui/dashboard/merge-label", data={**data, "csrf_token": "nope"})
    assert r.status_code == 403


def test_a_reviewer_gets_no_merge_form_and_a_403(
    ui: tuple[TestClient, Seeded], datasets_dir: Path
) -> None:
    client, s = ui
    _setup(client, s, datasets_dir)
    csrf = _sign_in(client, s.reviewer_key)
    page = client.get("/ui/dashboard?taxonomy=split").text
    assert "h-overlaps" in page and not FORM.findall(page)
    data = {"csrf_token": csrf, "taxonomy": "split", "label": "balance_a", "into": "balance_b"}
    r = client.post("/ui/dashboard/merge-label", data=data)
    assert r.status_code == 403
    assert "balance_a" in _labels(client, s)
