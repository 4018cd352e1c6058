"""The ``out_of_scope`` review action ("none of these labels") through the HTTP API, on a
SQLite file and on PostgreSQL: the final label becomes ``oos``, the workflow hears of it,
it is an error of the lane the decision was routed to, and it trains as an out-of-scope
example (never as an example of a label)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.review.conftest import Team
from triaged.insights.records import DecisionRecord
from triaged.insights.report import gap_candidates
from triaged.services import taxonomies as taxo
from triaged.storage.webhooks import webhook_events
from triaged.taxonomy import OOS_LABEL

pytestmark = pytest.mark.anyio

IN_SCOPE = ["I was charged twice for the same order", "The app freezes when I upload a photo"]
OUT_OF_SCOPE = [
    "What is the capital of Peru?",
    "Recommend a good pizza place near the station",
    "How tall is the Eiffel tower?",
    "Tell me a joke about penguins",
    "Will it snow in Oslo on Friday?",
    "Translate good morning into Italian",
]


async def claim_all(client: Any, **body: Any) -> list[dict[str, Any]]:
    r = await client.post("/v1/review/claim", json={"limit": 100, **body})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def resolve(client: Any, item_id: str, **body: Any) -> dict[str, Any]:
    r = await client.post(f"/v1/review/items/{item_id}/resolve", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def events_for(team: Team, item_ids: set[str]) -> list[tuple[str, dict[str, Any]]]:
    with team.stack.service.db.read() as conn:
        rows = conn.execute(select(webhook_events.c.type, webhook_events.c.payload)).all()
    return [(t, p["data"]) for t, p in rows if p["data"].get("review_item_id") in item_ids]


async def subscribe(team: Team) -> None:
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


async def test_a_held_item_out_of_scope_is_released_as_oos(team: Team) -> None:
    tax = await team.taxonomy(thresholds={"auto": 1.0, "review": 1.0})  # everything held
    await subscribe(team)
    [result] = await team.classify(tax, OUT_OF_SCOPE[:1])
    [item] = await claim_all(team.alice)
    assert item["queue"] == "hold"
    out = await resolve(team.alice, item["id"], action="out_of_scope", note="weather, not ours")
    assert out["status"] == "resolved" and out["action"] == "out_of_scope"
    assert out["final_label"] == OOS_LABEL and out["final_source"] == "review"
    assert out["note"] == "weather, not ours"

    decision = (await team.client.get(f"/v1/decisions/{result['id']}")).json()
    assert decision["label"] == result["label"] != OOS_LABEL  # the model's label is kept
    assert (decision["final_label"], decision["final_source"]) == (OOS_LABEL, "review")
    assert decision["resolved_at"] is not None

    [(event_type, data)] = events_for(team, {item["id"]})
    assert event_type == "decision.resolved"
    assert data["out_of_scope"] is True and data["action"] == "out_of_scope"
    assert data["final_label"] == OOS_LABEL and data["label"] == result["label"]
    assert data["corrected"] is True  # released with the label to act on, and it was wrong
    assert data["decision_id"] == result["id"]

    history = (await team.alice.get(f"/v1/review/items/{item['id']}")).json()["history"]
    assert history[-1]["event"] == "resolved"
    assert history[-1]["details"]["action"] == "out_of_scope"
    assert history[-1]["details"]["final_label"] == OOS_LABEL


async def test_a_flagged_item_out_of_scope_is_a_correction(team: Team) -> None:
    tax = await team.taxonomy(thresholds={"auto": 1.0, "review": 0.0})  # everything flagged
    await subscribe(team)
    await team.classify(tax, OUT_OF_SCOPE[:2])
    first, second = await claim_all(team.alice)
    assert first["queue"] == second["queue"] == "review"
    await resolve(team.alice, first["id"], action="out_of_scope")
    await resolve(team.alice, second["id"], action="confirm")
    events = events_for(team, {first["id"], second["id"]})
    # the workflow already acted on a flagged decision: it hears that the label was wrong
    assert [(t, d["review_item_id"], d["out_of_scope"], d["corrected"]) for t, d in events] == [
        ("decision.corrected", first["id"], True, True)
    ]


async def test_audited_auto_decisions_out_of_scope_count_as_auto_lane_errors(team: Team) -> None:
    tax = await team.taxonomy(thresholds={"auto": 0.0, "review": 0.0})  # everything auto
    await team.classify(tax, IN_SCOPE[:1] + OUT_OF_SCOPE[:3])
    items = await claim_all(team.alice)
    assert len(items) == 4 and {i["queue"] for i in items} == {"audit"}
    by_text = {i["text"]: i for i in items}
    await resolve(team.alice, by_text[IN_SCOPE[0]]["id"], action="confirm")
    for text in OUT_OF_SCOPE[:3]:
        await resolve(team.alice, by_text[text]["id"], action="out_of_scope")

    lanes = (await team.alice.get("/v1/review/lane-error", params={"taxonomy": tax})).json()[
        "lanes"
    ]
    auto = lanes["auto"]
    assert (auto["reviewed"], auto["errors"]) == (4, 3)
    assert auto["error"] == pytest.approx(0.75)
    assert auto["ci_low"] <= 0.75 <= auto["ci_high"]
    assert lanes["review"]["reviewed"] == lanes["hold"]["reviewed"] == 0
    stats = (await team.alice.get("/v1/review/stats", params={"taxonomy": tax})).json()
    assert stats["agreement"]["auto"] == {
        "queue": "audit",
        "reviewed": 4,
        "agreed": 1,
        "rate": 0.25,
    }


async def test_out_of_scope_takes_no_label(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, OUT_OF_SCOPE[:1])
    [item] = await claim_all(team.alice)
    path = f"/v1/review/items/{item['id']}/resolve"
    for field, body in (
        ("label", {"action": "out_of_scope", "label": "billing"}),
        ("new_label", {"action": "out_of_scope", "new_label": "weather"}),
    ):
        r = await team.alice.post(path, json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"]["field"] == field
        assert error["details"]["reason"] == "out_of_scope_takes_no_label"
        assert [e["field"] for e in error["details"]["errors"]] == [field]
    # nothing happened: the reviewer still holds it and can resolve it properly
    current = (await team.alice.get(f"/v1/review/items/{item['id']}")).json()
    assert current["status"] == "claimed" and current["final_label"] is None
    await resolve(team.alice, item["id"], action="out_of_scope")


async def test_out_of_scope_items_train_as_oos_examples_only(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, IN_SCOPE + OUT_OF_SCOPE)
    items = await claim_all(team.alice)
    by_text = {i["text"]: i for i in items}
    await resolve(team.alice, by_text[IN_SCOPE[0]]["id"], action="correct", label="billing")
    await resolve(team.alice, by_text[IN_SCOPE[1]]["id"], action="correct", label="bug")
    for text in OUT_OF_SCOPE:
        await resolve(team.alice, by_text[text]["id"], action="out_of_scope")

    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    labels = {e["text"]: (e["label"], e["action"]) for e in examples}
    assert {t: labels[t] for t in OUT_OF_SCOPE} == dict.fromkeys(
        OUT_OF_SCOPE, (OOS_LABEL, "out_of_scope")
    )
    assert labels[IN_SCOPE[0]] == ("billing", "correct")

    # the next training set: out-of-scope texts (not held out) are `oos`, in no label
    service = team.stack.service
    train_oos = {e["text"] for e in examples if e["label"] == OOS_LABEL and e["split"] == "train"}
    reviewer = service.authenticate(team.alice.headers["authorization"].split()[-1])
    with service.db.read() as conn:
        record = taxo.get_record(conn, reviewer.workspace_id, tax)
        train_tax = service.review.with_reviews(conn, record, taxo.load_version(conn, record))
    assert train_oos <= set(train_tax.out_of_scope)
    in_labels = {e.text for e in train_tax.examples()}
    assert not in_labels & set(OUT_OF_SCOPE)
    assert not set(train_tax.out_of_scope) & {e["text"] for e in examples if e["split"] == "eval"}

    r = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": True})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["status"] == "ready"
    n_train = sum(1 for e in examples if e["split"] == "train")
    assert new["n_review_examples"] == n_train
    assert new["n_examples"] == 9 + n_train  # labelled examples plus `oos` ones


def test_insights_treat_out_of_scope_as_a_wrong_label_and_a_gap() -> None:
    base = {"text": "t", "label": "billing", "confidence": 0.95, "bucket": "auto"}
    oos = DecisionRecord.from_mapping(
        {**base, "review_action": "out_of_scope", "final_label": OOS_LABEL}
    )
    ok = DecisionRecord.from_mapping({**base, "review_action": "confirm"})
    assert oos.judged and oos.model_was_right is False and not oos.resolved_to_existing
    assert ok.model_was_right is True

    from triaged.insights.config import InsightsConfig

    assert gap_candidates([ok, oos], InsightsConfig()) == [1]
