"""A served 150-label taxonomy (a CLINC150 slice) with queued items, for the reviewer
workspace tests (tests read ../shared/datasets; the product never does)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import DATASETS
from tests.web.seed import Seeded
from triaged.service import ClassifyItem, Service
from triaged.settings import Settings

CLINC = DATASETS / "clinc150"
NAME = "clinc"


@dataclass
class ClincSeeded(Seeded):
    truth: dict[str, str]  # text -> the dataset's label
    labels: list[dict[str, Any]]


def _rows(name: str) -> list[dict[str, str]]:
    with open(CLINC / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def clinc_taxonomy(per_label: int = 4) -> dict[str, Any]:
    meta = json.loads((CLINC / "labels.json").read_text(encoding="utf-8"))
    by_label: dict[str, list[str]] = {}
    for r in _rows("train.jsonl"):
        if r["label"] != "oos" and len(by_label.setdefault(r["label"], [])) < per_label:
            by_label[r["label"]].append(r["text"])
    labels = [
        {
            "name": m["name"],
            "description": f"{m['description']} ({(m.get('domain') or '').replace('_', ' ')})",
            "examples": by_label[m["name"]],
        }
        for m in meta
        if m["name"] != "oos"
    ]
    return {"name": NAME, "labels": labels}


def seed_clinc(tmp: Path, *, n_items: int = 24, reviewers: int = 1) -> ClincSeeded:
    """150 labels, ``n_items`` queued test texts (one per label, every 6th label)."""
    settings = Settings(
        data_dir=tmp, bootstrap_admin=False, review_audit_rate=1.0, review_retrain_after=0
    )
    service = Service(settings)
    service.start()
    admin = service.create_key("acme", "admin", create_plan="unlimited", name="admin")
    reviewer = service.create_key("acme", "reviewer", name="alice")
    client = service.create_key("acme", "client")
    extra = [service.create_key("acme", "reviewer", name=f"r{i}") for i in range(reviewers - 1)]
    assert admin.key and reviewer.key and client.key
    tax = clinc_taxonomy()
    service.create_taxonomy(service.authenticate(admin.key), tax)
    service.wait_for_jobs(timeout=600)
    names = [lb["name"] for lb in tax["labels"]]
    picked: dict[str, str] = {}
    wanted = set(names[:: max(1, len(names) // n_items)][:n_items])
    for r in _rows("test.jsonl"):
        if r["label"] in wanted and r["label"] not in picked.values():
            picked[r["text"]] = r["label"]
    texts = list(picked)[:n_items]
    service.classify(service.authenticate(client.key), NAME, [ClassifyItem(t) for t in texts])
    out = ClincSeeded(
        service,
        reviewer.key,
        client.key,
        admin.key,
        "acme",
        len(texts),
        truth={t: picked[t] for t in texts},
        labels=tax["labels"],
    )
    out.extra_keys = [k.key for k in extra]  # type: ignore[attr-defined]
    return out


def seed_gap(tmp: Path, *, gap_label: str = "pto_balance", n_gap: int = 50) -> Seeded:
    """The CLINC150 slice without ``gap_label``, every decision held (so the dashboard looks
    for gaps), fed ``n_gap`` test texts of that intent plus a few of known ones."""
    settings = Settings(
        data_dir=tmp, bootstrap_admin=False, review_audit_rate=1.0, review_retrain_after=0
    )
    service = Service(settings)
    service.start()
    admin = service.create_key("acme", "admin", create_plan="unlimited", name="admin")
    reviewer = service.create_key("acme", "reviewer", name="alice")
    client = service.create_key("acme", "client")
    assert admin.key and reviewer.key and client.key
    boss = service.authenticate(admin.key)
    tax = clinc_taxonomy()
    tax["labels"] = [lb for lb in tax["labels"] if lb["name"] != gap_label]
    service.create_taxonomy(boss, tax)
    service.wait_for_jobs(timeout=600)
    service.set_routing(boss, NAME, {"auto": 1.0, "review": 0.999})
    rows = _rows("test.jsonl") + _rows("val.jsonl")
    gap = [r["text"] for r in rows if r["label"] == gap_label][:n_gap]
    known = [r["text"] for r in rows if r["label"] in ("balance", "alarm", "weather")][:12]
    texts = gap + known
    service.classify(service.authenticate(client.key), NAME, [ClassifyItem(t) for t in texts])
    return Seeded(service, reviewer.key, client.key, admin.key, "acme", len(texts))
