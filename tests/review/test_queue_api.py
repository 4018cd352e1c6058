"""The review queue through the HTTP API, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.review.conftest import Team

pytestmark = pytest.mark.anyio

TEXTS = [
    "I was charged twice for the same order",
    "The app freezes when I upload a photo",
    "How can I change my password?",
    "What is the capital of Peru?",
    "refund my subscription please",
]


async def claim(client: Any, **body: Any) -> list[dict[str, Any]]:
    r = await client.post("/v1/review/claim", json={"limit": 10, **body})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_routing_queues_every_decision_and_claim_returns_the_contract(team: Team) -> None:
    tax = await team.taxonomy()
    results = await team.classify(tax, TEXTS)
    items = await claim(team.alice, limit=100)
    assert sorted(i["decision_id"] for i in items) == sorted(r["id"] for r in results)
    by_decision = {r["id"]: r for r in results}
    for item in items:
        decision = by_decision[item["decision_id"]]
        expected = {"hold": "hold", "review": "review", "auto": "audit"}[decision["bucket"]]
        assert item["queue"] == expected
        assert item["text"] in TEXTS
        assert item["label"] == decision["label"]
        assert item["confidence"] == decision["confidence"]
        # the item's runner-ups also say whether they are in the prediction set
        assert [{k: a[k] for k in ("label", "confidence")} for a in item["alternatives"]] == (
            decision["alternatives"]
        )
        assert all(a["in_set"] in (True, False, None) for a in item["alternatives"])
        assert item["lease_expires_at"] is not None
        assert item["status"] == "claimed"
    # hold items first, then review, then audit
    order = [{"hold": 0, "review": 1, "audit": 2}[i["queue"]] for i in items]
    assert order == sorted(order)
    assert await claim(team.bob) == []


async def test_resolve_sets_final_label_and_history(team: Team) -> None:
    tax = await team.taxonomy()
    [result] = await team.classify(tax, [TEXTS[0]])
    [item] = await claim(team.alice)
    r = await team.alice.post(
        f"/v1/review/items/{item['id']}/resolve", json={"action": "correct", "label": "account"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved"
    decision = (await team.client.get(f"/v1/decisions/{result['id']}")).json()
    assert decision["final_label"] == "account"
    assert decision["final_source"] == "review"
    assert decision["resolved_at"] is not None
    full = (await team.alice.get(f"/v1/review/items/{item['id']}")).json()
    assert [h["event"] for h in full["history"]] == ["created", "claimed", "resolved"]
    resolved = full["history"][-1]
    assert resolved["details"]["action"] == "correct"
    assert resolved["details"]["final_label"] == "account"
    assert resolved["actor"] == full["resolved_by"]


@pytest.mark.parametrize(
    ("body", "final"),
    [
        ({"action": "confirm"}, "model"),
        ({"action": "new_category", "new_label": "shipping"}, "shipping"),
        ({"action": "ambiguous"}, None),
    ],
)
async def test_each_action(team: Team, body: dict[str, Any], final: str | None) -> None:
    tax = await team.taxonomy()
    [result] = await team.classify(tax, [TEXTS[1]])
    [item] = await claim(team.alice)
    r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
    assert r.status_code == 200, r.text
    decision = (await team.client.get(f"/v1/decisions/{result['id']}")).json()
    assert decision["final_label"] == (result["label"] if final == "model" else final)
    assert r.json()["action"] == body["action"]


async def test_conflicts_and_bad_input(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:2])
    first, second = await claim(team.alice)
    path = f"/v1/review/items/{first['id']}/resolve"
    # not claimed by the caller
    r = await team.bob.post(path, json={"action": "confirm"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    # unknown label, missing label, existing label as new category, a label out of scope:
    # well-formed JSON the action cannot take, each a 422 validation_error saying why (the
    # first three were 400 invalid_input until 7 December, the last one already 422)
    for body, reason in (
        ({"action": "correct", "label": "nope"}, "unknown_label"),
        ({"action": "correct"}, "label_required"),
        ({"action": "correct", "label": "  "}, "label_required"),
        ({"action": "new_category", "new_label": "billing"}, "label_exists"),
        ({"action": "new_category"}, "new_label_required"),
        ({"action": "out_of_scope", "label": "billing"}, "out_of_scope_takes_no_label"),
    ):
        r = await team.alice.post(path, json=body)
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert (error["code"], error["details"]["reason"]) == ("validation_error", reason), body
    r = await team.alice.post(path, json={"action": "maybe"})
    assert r.status_code == 422
    # a label with surrounding spaces is the label (it was unknown, while an example's
    # label and a new category's name were trimmed)
    r = await team.alice.post(path, json={"action": "correct", "label": " billing "})
    assert r.status_code == 200 and r.json()["final_label"] == "billing", r.text
    # twice
    r = await team.alice.post(path, json={"action": "confirm"})
    assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "already_resolved"
    # ... saying who answered and how: a retry after a lost answer knows it landed
    details = r.json()["error"]["details"]
    assert details["action"] == "correct" and details["resolved_by"] and details["resolved_at"]
    # release: only the holder; then anyone may claim it
    rel = f"/v1/review/items/{second['id']}/release"
    assert (await team.bob.post(rel)).status_code == 409
    r = await team.alice.post(rel)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    [again] = await claim(team.bob)
    assert again["id"] == second["id"]
    # an admin may release an item whoever holds it (a reviewer who claimed 1,000 items for
    # a day locked them until their key was revoked); another reviewer still may not
    assert (await team.alice.post(rel)).status_code == 409
    r = await team.admin.post(rel)
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert (await team.bob.post(rel)).status_code == 409  # bob holds it no longer
    item = (await team.admin.get(f"/v1/review/items/{second['id']}")).json()
    released = [e for e in item["history"] if e["event"] == "released"][-1]
    assert released["details"].get("holder"), released
    # unknown item
    assert (
        await team.alice.post("/v1/review/items/rvi_nope/resolve", json={"action": "confirm"})
    ).status_code == 404


async def test_only_reviewer_and_admin_keys(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:1])
    for method, path, body in (
        ("POST", "/v1/review/claim", {"limit": 1}),
        ("GET", "/v1/review/items", None),
        ("GET", "/v1/review/stats", None),
        ("GET", "/v1/review/lane-error", None),
        ("POST", "/v1/review/items/x/resolve", {"action": "confirm"}),
        ("POST", "/v1/review/items/x/release", None),
        ("POST", f"/v1/taxonomies/{tax}/retrain", None),
    ):
        r = await team.client.request(method, path, json=body)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    assert len(await claim(team.admin)) == 1


async def test_expired_lease_returns_the_item(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:1])
    [item] = await claim(team.alice, lease_seconds=0.5)
    assert await claim(team.bob) == []
    await asyncio.sleep(0.8)
    listed = (await team.bob.get("/v1/review/items", params={"status": "pending"})).json()
    assert [i["id"] for i in listed["data"]] == [item["id"]]
    [again] = await claim(team.bob)
    assert again["id"] == item["id"]
    r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"})
    assert r.status_code == 409
    r = await team.bob.post(f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"})
    assert r.status_code == 200
    history = (await team.bob.get(f"/v1/review/items/{item['id']}")).json()["history"]
    assert [h["event"] for h in history] == ["created", "claimed", "expired", "claimed", "resolved"]


async def test_a_former_holder_cannot_answer_after_the_lease_ran_out(team: Team) -> None:
    """Once a lease has expired the item shows as pending and unclaimed; its former holder's
    resolve (or release) is the 409 of an item it does not hold (until 7 December it was a
    200, answering an item anyone could have claimed meanwhile)."""
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:1])
    [item] = await claim(team.alice, lease_seconds=0.5)
    await asyncio.sleep(0.8)
    shown = (await team.alice.get(f"/v1/review/items/{item['id']}")).json()
    assert shown["status"] == "pending" and shown["claimed_by"] is None
    for verb, body in (("resolve", {"action": "confirm"}), ("release", None)):
        r = await team.alice.post(f"/v1/review/items/{item['id']}/{verb}", json=body)
        assert r.status_code == 409, (verb, r.text)
        error = r.json()["error"]
        assert error["code"] == "conflict"
        assert error["details"]["reason"] == "not_claimed_by_caller"
        assert error["details"]["lease_expired_at"]
    after = (await team.alice.get(f"/v1/review/items/{item['id']}")).json()
    assert after["status"] == "pending" and after["final_label"] is None
    [again] = await claim(team.alice)  # claimed again: hers to answer
    assert again["id"] == item["id"]
    r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"})
    assert r.status_code == 200, r.text


async def test_a_released_item_is_pending_in_its_status_its_lists_and_its_counts(
    team: Team,
) -> None:
    """A released item said ``status: released``, was listed under ``status=released`` and
    ``status=pending`` alike and counted as pending (until 7 December).  It is pending now,
    everywhere; handing it back is an event of its history, and ``status=released`` is
    refused rather than answering items that say they are pending."""
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:2])
    mine, other = await claim(team.alice, limit=2)
    r = await team.alice.post(f"/v1/review/items/{mine['id']}/release")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    item = (await team.bob.get(f"/v1/review/items/{mine['id']}")).json()
    assert item["status"] == "pending" and item["claimed_by"] is None
    assert [h["event"] for h in item["history"]] == ["created", "claimed", "released"]
    for status, want in (("pending", [mine["id"]]), ("claimed", [other["id"]])):
        page = (await team.bob.get("/v1/review/items", params={"status": status})).json()
        assert [i["id"] for i in page["data"]] == want, status
        assert all(i["status"] == status for i in page["data"])
        assert sum(q[status] for q in page["counts"].values()) == len(want)
    for params in ({"status": "released"}, {"status": "released", "q": "charged"}):
        r = await team.bob.get("/v1/review/items", params=params)
        assert r.status_code == 422, r.text
    r = await team.bob.post(f"/v1/review/items/{mine['id']}/resolve", json={"action": "confirm"})
    assert r.status_code == 409 and r.json()["error"]["details"]["status"] == "pending"


async def test_list_filters_counts_and_stats(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS)
    page = (await team.alice.get("/v1/review/items", params={"limit": 2})).json()
    assert len(page["data"]) == 2 and page["next_cursor"] and page["has_more"]
    rest = (await team.alice.get("/v1/review/items", params={"cursor": page["next_cursor"]})).json()
    assert len(rest["data"]) == 3 and not rest["has_more"]
    total = sum(q["pending"] for q in page["counts"].values())
    assert total == 5
    items = await claim(team.alice, limit=2)
    r = await team.alice.post(
        f"/v1/review/items/{items[0]['id']}/resolve", json={"action": "confirm"}
    )
    assert r.status_code == 200
    claimed = (await team.alice.get("/v1/review/items", params={"status": "claimed"})).json()
    assert [i["id"] for i in claimed["data"]] == [items[1]["id"]]
    resolved = (await team.alice.get("/v1/review/items", params={"status": "resolved"})).json()
    assert [i["id"] for i in resolved["data"]] == [items[0]["id"]]
    stats = (await team.bob.get("/v1/review/stats", params={"taxonomy": tax})).json()
    queues = stats["queues"]
    assert sum(q["pending"] for q in queues.values()) == 3
    assert sum(q["claimed"] for q in queues.values()) == 1
    assert sum(q["resolved"] for q in queues.values()) == 1
    assert sum(stats["counts"].values()) == 4
    open_queues = [q for q, v in queues.items() if v["open"]]
    assert all(queues[q]["oldest_age_seconds"] >= 0 for q in open_queues)
    [row] = stats["reviewers"]
    assert row["decisions"] == 1
    bucket = {"hold": "hold", "review": "review", "audit": "auto"}[items[0]["queue"]]
    assert stats["agreement"][bucket] == {
        "queue": items[0]["queue"],
        "reviewed": 1,
        "agreed": 1,
        "rate": 1.0,
    }


async def test_lane_error_with_clopper_pearson_intervals(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS)
    items = await claim(team.alice, limit=5)
    wrong = 0
    for n, item in enumerate(items):
        if n % 2:
            other = next(lb for lb in ("billing", "bug", "account") if lb != item["label"])
            body = {"action": "correct", "label": other}
            wrong += 1
        else:
            body = {"action": "confirm"}
        r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
        assert r.status_code == 200
    lanes = (await team.alice.get("/v1/review/lane-error", params={"taxonomy": tax})).json()[
        "lanes"
    ]
    assert set(lanes) == {"auto", "review", "hold"}
    assert sum(v["reviewed"] for v in lanes.values()) == 5
    assert sum(v["errors"] for v in lanes.values()) == wrong
    for lane in lanes.values():
        assert 0.0 <= lane["ci_low"] <= lane["ci_high"] <= 1.0
        if lane["reviewed"]:
            assert lane["ci_low"] <= lane["error"] <= lane["ci_high"]


async def test_other_workspace_sees_nothing(team: Team, rstack: Any) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS[:1])
    [item] = await claim(team.alice)
    other = rstack.tenant("unlimited")
    async with rstack.client(rstack.key(other, "reviewer")) as stranger:
        assert await claim(stranger) == []
        assert (await stranger.get(f"/v1/review/items/{item['id']}")).status_code == 404
        r = await stranger.post(
            f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"}
        )
        assert r.status_code == 404
        assert (await stranger.get(f"/v1/taxonomies/{tax}/model-versions")).status_code == 404


async def test_claim_filters_by_queue_and_taxonomy(team: Team) -> None:
    held = await team.taxonomy(name="held", thresholds={"auto": 1.0, "review": 1.0})
    flagged = await team.taxonomy(name="flagged", thresholds={"auto": 1.0, "review": 0.0})
    await team.classify(held, TEXTS[:2])
    await team.classify(flagged, TEXTS[:3])
    assert await claim(team.alice, queue="audit") == []
    review_items = await claim(team.alice, queue="review")
    assert len(review_items) == 3 and {i["taxonomy"] for i in review_items} == {flagged}
    hold_items = await claim(team.bob, taxonomy=held)
    assert len(hold_items) == 2 and {i["queue"] for i in hold_items} == {"hold"}
    r = await team.alice.post("/v1/review/claim", json={"taxonomy": "missing", "limit": 1})
    assert r.status_code == 404
    r = await team.alice.post("/v1/review/claim", json={"queue": "later", "limit": 1})
    assert r.status_code == 422


async def test_text_search_ignores_case_beyond_ascii(team: Team) -> None:
    """q matches whatever the letters' case, on SQLite as on PostgreSQL (SQLite's lower()
    folded ASCII only: "ÜNÏCÖDÉ" found nothing on SQLite)."""
    tax = await team.taxonomy()
    await team.classify(tax, ["Ünïcödé charge on my card", "ΑΘΉΝΑ refund", "plain text"])
    for q, expected in (("ÜNÏCÖDÉ", "Ünïcödé"), ("ünïcödé", "Ünïcödé"), ("αθήνα", "ΑΘΉΝΑ")):
        r = await team.alice.get("/v1/review/items", params={"q": q, "taxonomy": tax})
        assert r.status_code == 200, r.text
        texts = [it["text"] for it in r.json()["data"]]
        assert len(texts) == 1 and expected in texts[0], (q, texts)


async def test_an_item_handed_back_comes_after_the_others_for_that_reviewer(team: Team) -> None:
    """Skipping (claim the next, hand this one back) walks through the queue: the items a
    key released come after the others of their queue, the longest ago first (until 5
    December two skips swapped the two oldest items forever)."""
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS + [t + " today" for t in TEXTS])
    everything = await claim(team.bob, limit=100)
    queues = [i["queue"] for i in everything]
    queue = max(set(queues), key=queues.count)
    assert queues.count(queue) >= 3, queues
    for item in everything:  # bob hands them all back: his releases do not order alice's
        r = await team.bob.post(f"/v1/review/items/{item['id']}/release")
        assert r.status_code == 200, r.text
    order = sorted(i["id"] for i in everything if i["queue"] == queue)  # oldest first

    async def skip(current: str) -> str:
        [nxt] = await claim(team.alice, limit=1, queue=queue)
        r = await team.alice.post(f"/v1/review/items/{current}/release")
        assert r.status_code == 200, r.text
        return str(nxt["id"])

    [first] = await claim(team.alice, limit=1, queue=queue)
    seen = [first["id"]]
    for _ in range(len(order) + 1):
        seen.append(await skip(seen[-1]))
    # every item once, in order, then round again from the one skipped longest ago
    assert seen[: len(order)] == order
    assert seen[len(order)] == order[0] and seen[len(order) + 1] == order[1]
