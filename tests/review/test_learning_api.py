"""Retrain on demand, model versions with their evaluation, rollback, reviewed examples,
webhook events on resolve, audit sampling, and the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.review.conftest import Team
from tests.servicekit import TINY_TAXONOMY
from triaged.cli import app as cli_app
from triaged.storage.webhooks import webhook_events

pytestmark = pytest.mark.anyio

TEXTS = [
    "I was charged twice for the same order",
    "The app freezes when I upload a photo",
    "How can I change my password?",
    "Where is my invoice for March?",
    "Login keeps failing with an error",
    "Please refund the duplicate payment",
    "The page is blank after the update",
    "I need to update my email address",
    "Why did my card get billed again",
    "The export to CSV crashes",
]
TINY_TAXONOMY_LABELS = [dict(lb) for lb in TINY_TAXONOMY["labels"]]
TRUTH = ["billing", "bug", "account", "billing", "account",
         "billing", "bug", "account", "billing", "bug"]  # fmt: skip


async def review_everything(team: Team, tax: str) -> list[dict[str, Any]]:
    results = await team.classify(tax, TEXTS)
    truth = {r["id"]: t for r, t in zip(results, TRUTH, strict=True)}
    items = (await team.alice.post("/v1/review/claim", json={"limit": 100})).json()["items"]
    for item in items:
        true = truth[item["decision_id"]]
        body = (
            {"action": "confirm"} if item["label"] == true else {"action": "correct", "label": true}
        )
        r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
        assert r.status_code == 200, r.text
    return items


async def test_retrain_versions_and_rollback(team: Team) -> None:
    tax = await team.taxonomy()
    await review_everything(team, tax)
    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    assert len(examples) == len(TEXTS)
    assert {e["source"] for e in examples} == {"review"}
    assert {e["label"] for e in examples} <= {"billing", "bug", "account"}
    first = (await team.alice.get(f"/v1/taxonomies/{tax}/models")).json()["data"]
    assert len(first) == 1 and first[0]["active"]

    r = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": True})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["status"] == "ready" and new["trigger"] == "api"
    n_train = sum(1 for e in examples if e["split"] == "train")
    assert new["n_review_examples"] == n_train
    assert new["n_examples"] == 9 + n_train
    versions = (await team.alice.get(f"/v1/taxonomies/{tax}/models")).json()["data"]
    assert [v["id"] for v in versions] == [new["id"], first[0]["id"]]
    assert versions[0]["active"] and not versions[1]["active"]
    evaluation = versions[0]["evaluation"]
    n_eval = sum(1 for e in examples if e["split"] == "eval")
    assert evaluation["n_eval"] == n_eval
    if n_eval:
        assert 0.0 <= evaluation["accuracy"] <= 1.0 and 0.0 <= evaluation["ece"] <= 1.0
        assert "previous" in evaluation

    # rollback: admin only; the old model serves again
    body = {"model_id": first[0]["id"]}
    assert (await team.alice.post(f"/v1/taxonomies/{tax}/rollback", json=body)).status_code == 403
    r = await team.admin.post(f"/v1/taxonomies/{tax}/rollback", json=body)
    assert r.status_code == 200 and r.json()["active"]
    [result] = await team.classify(tax, ["refund me"])
    assert result["model_version"] == first[0]["model_version"]
    r = await team.admin.post(f"/v1/taxonomies/{tax}/rollback", json={"model_id": "mdl_nope"})
    assert r.status_code == 404
    # once a label is renamed, the models before it would answer a label that is gone
    current = await team.admin.get(f"/v1/taxonomies/{tax}", params={"include_examples": True})
    labels = current.json()["labels"]
    renamed = [
        {"name": "defect" if lb["name"] == "bug" else lb["name"], "examples": lb["examples"]}
        for lb in labels
    ]
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": renamed})
    assert r.status_code == 200, r.text
    r = await team.admin.post(f"/v1/taxonomies/{tax}/rollback", json=body)
    assert r.status_code == 409, r.text
    details = r.json()["error"]["details"]
    assert (details["reason"], details["gone"], details["new"]) == (
        "labels_changed",
        ["bug"],
        ["defect"],
    )


async def test_resolutions_write_webhook_events(team: Team) -> None:
    tax = await team.taxonomy(thresholds={"auto": 1.0, "review": 0.0})  # everything flagged
    with pytest.MonkeyPatch.context() as mp:  # a loopback receiver needs the operator's opt-in
        mp.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")
        r = await team.admin.post(
            "/v1/webhooks",
            json={
                "url": "http://127.0.0.1:9/hook",
                "events": ["decision.resolved", "decision.corrected"],
            },
        )
    assert r.status_code == 201, r.text
    await team.classify(tax, TEXTS[:2])
    first, second = (await team.alice.post("/v1/review/claim", json={"limit": 2})).json()["items"]
    assert first["queue"] == second["queue"] == "review"
    await team.alice.post(f"/v1/review/items/{first['id']}/resolve", json={"action": "confirm"})
    wrong = next(lb for lb in ("billing", "bug", "account") if lb != second["label"])
    await team.alice.post(
        f"/v1/review/items/{second['id']}/resolve", json={"action": "correct", "label": wrong}
    )
    with team.stack.service.db.read() as conn:
        rows = conn.execute(select(webhook_events.c.type, webhook_events.c.payload)).all()
    mine = [
        (t, p["data"])
        for t, p in rows
        if p["data"].get("review_item_id") in {first["id"], second["id"]}
    ]
    # a confirmed flagged decision needs no event; a corrected one does
    assert [(t, d["decision_id"], d["final_label"]) for t, d in mine] == [
        ("decision.corrected", second["decision_id"], wrong)
    ]


async def test_held_items_emit_decision_resolved(team: Team) -> None:
    tax = await team.taxonomy(thresholds={"auto": 1.0, "review": 1.0})  # everything held
    await team.classify(tax, TEXTS[:1])
    [item] = (await team.alice.post("/v1/review/claim", json={"limit": 1})).json()["items"]
    assert item["queue"] == "hold"
    await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json={"action": "ambiguous"})
    with team.stack.service.db.read() as conn:
        rows = conn.execute(select(webhook_events.c.type, webhook_events.c.payload)).all()
    mine = [t for t, p in rows if p["data"].get("review_item_id") == item["id"]]
    assert mine == ["decision.resolved"]


async def test_audit_share_follows_settings(team: Team) -> None:
    service = team.stack.service
    tax = await team.taxonomy(thresholds={"auto": 0.0, "review": 0.0})  # everything auto
    settings = service.settings
    try:
        service.settings = settings.with_overrides(review_audit_rates={tax: 0.0})
        await team.classify(tax, TEXTS)
        service.settings = settings.with_overrides(
            review_audit_rate=0.0, review_audit_rates={tax: 1.0}
        )
        await team.classify(tax, TEXTS[:3])
    finally:
        service.settings = settings
    items = (await team.alice.get("/v1/review/items", params={"taxonomy": tax})).json()["data"]
    assert len(items) == 3 and {i["queue"] for i in items} == {"audit"}
    assert {i["text"] for i in items} == set(TEXTS[:3])


async def test_cli_train_and_versions(team: Team) -> None:
    tax = await team.taxonomy()
    await review_everything(team, tax)
    runner = CliRunner()
    url = team.stack.url
    res = runner.invoke(
        cli_app,
        ["review", "train", tax, "--workspace", team.workspace, "--database-url", url, "--json"],
    )
    assert res.exit_code == 0, res.output
    version = json.loads(res.stdout.strip().splitlines()[-1])
    assert version["status"] == "ready" and version["trigger"] == "cli"
    res = runner.invoke(
        cli_app, ["train", "--taxonomy", tax, "--workspace", team.workspace, "--database-url", url]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli_app,
        ["review", "versions", tax, "--workspace", team.workspace, "--database-url", url, "--json"],
    )
    assert res.exit_code == 0, res.output
    versions = json.loads(res.stdout)
    assert [v["trigger"] for v in versions][:2] == ["cli", "cli"]
    assert versions[0]["active"]


async def test_reviews_survive_taxonomy_changes(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, ["Where is my parcel? It has not arrived", "track my delivery"])
    items = (await team.alice.post("/v1/review/claim", json={"limit": 2})).json()["items"]
    for item in items:
        r = await team.alice.post(
            f"/v1/review/items/{item['id']}/resolve",
            json={"action": "new_category", "new_label": "shipping"},
        )
        assert r.status_code == 200, r.text
    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    assert {e["label"] for e in examples} == {"oos"}  # out of scope until the label exists
    labels = [*TINY_TAXONOMY_LABELS, {"name": "shipping", "description": "Parcels and delivery"}]
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": labels})
    assert r.status_code == 200, r.text
    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    assert {e["label"] for e in examples} == {"shipping"}
    team.stack.service.wait_for_jobs(60)
    versions = (await team.alice.get(f"/v1/taxonomies/{tax}/models")).json()["data"]
    newest = versions[0]
    assert newest["taxonomy_version"] == 2 and newest["status"] == "ready" and newest["active"]
    n_train = sum(1 for e in examples if e["split"] == "train")
    assert newest["n_examples"] == 9 + n_train


async def test_train_with_wait_waits_for_a_training_already_running(team: Team) -> None:
    """``wait`` on a taxonomy whose training is already running answers once that one has
    finished (until 5 December it answered at once, 202, still training)."""
    tax = await team.taxonomy()
    await review_everything(team, tax)
    started = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": False})
    assert started.status_code == 202, started.text
    waited = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": True})
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "ready"
    state = (await team.alice.get(f"/v1/taxonomies/{tax}/models/{started.json()['id']}")).json()
    assert state["status"] == "ready"


async def test_reviews_during_an_automatic_retrain_start_the_next_one(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every 3 reviews a retrain: 3 reviews start one; the 4 that come in while it trains
    found it scheduled and started nothing, and (until 7 December) nothing started when it
    ended either, until one more review came.  Now its end starts the next one: two
    automatic retrains, and no third for those 7 reviews."""
    import threading
    import time

    svc = team.stack.service
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS)
    gate = threading.Event()
    train = svc.review._train

    def held_train(*args: Any, **kwargs: Any) -> None:
        assert gate.wait(120)
        train(*args, **kwargs)

    monkeypatch.setattr(svc.review, "_train", held_train)
    monkeypatch.setattr(svc, "settings", svc.settings.with_overrides(review_retrain_after=3))
    items = (await team.alice.post("/v1/review/claim", json={"limit": 7, "taxonomy": tax})).json()

    async def models() -> list[dict[str, Any]]:
        return list((await team.alice.get(f"/v1/taxonomies/{tax}/models")).json()["data"])

    async def settle(n: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = await models()
            if len(now) >= n and all(m["status"] != "training" for m in now):
                return now
            time.sleep(0.1)
        raise AssertionError(f"no {n} finished models: {await models()}")

    for n, item in enumerate(items["items"]):
        r = await team.alice.post(
            f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"}
        )
        assert r.status_code == 200, r.text
        if n == 2:  # the first retrain has its model row: the next 4 reviews come after it
            deadline = time.monotonic() + 60
            while len(await models()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    assert len(await models()) == 2  # the first retrain still trains (held)
    gate.set()
    versions = await settle(3)
    time.sleep(1.0)  # nothing more starts
    svc.review.wait(timeout=120)
    versions = await models()
    auto = [v for v in versions if v["trigger"] == "auto"]
    assert len(auto) == 2, versions
    assert all(v["status"] == "ready" for v in auto)
