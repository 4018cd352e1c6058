"""The labels a resolve may set, through the HTTP API on a real stack (SQLite and PostgreSQL):
a new category follows the taxonomy's label-name rules (``oos`` is reserved for the
``out_of_scope`` action), ``confirm`` never drops a different ``label`` silently, and a
model label since removed from the taxonomy cannot be confirmed.  The single and the bulk
resolve share the rules, and a refused answer changes nothing: the item stays as it was and
no reviewed example is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.review.conftest import Team
from triaged.taxonomy import OOS_LABEL

pytestmark = pytest.mark.anyio

FRUIT: dict[str, Any] = {
    "name": "fruit",
    "labels": [
        {
            "name": "apple",
            "description": "Apples: orchards, cider and apple pie",
            "examples": ["a crisp green apple", "apple pie recipe", "pressing apples for cider"],
        },
        {
            "name": "banana",
            "description": "Bananas: ripening, peeling and banana bread",
            "examples": ["peel a ripe banana", "banana bread recipe", "a bunch of yellow bananas"],
        },
        {
            "name": "cherry",
            "description": "Cherries: stones, blossom and cherry jam",
            "examples": ["pitting sour cherries", "cherry blossom season", "a jar of cherry jam"],
        },
    ],
}
CHERRY_TEXT = "pitting sour cherries"
APPLE_TEXT = "a crisp green apple"


async def claim_all(client: Any) -> list[dict[str, Any]]:
    r = await client.post("/v1/review/claim", json={"limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def reviewed_examples(team: Team, tax: str) -> list[dict[str, Any]]:
    r = await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def assert_untouched(team: Team, tax: str, item_id: str, status: str = "claimed") -> None:
    """A refused answer wrote nothing: same status, no final label, no example, no answer."""
    item = (await team.alice.get(f"/v1/review/items/{item_id}")).json()
    assert item["status"] == status, item
    assert item["final_label"] is None and item["action"] is None, item
    assert [h["event"] for h in item["history"]].count("resolved") == 0
    decision = (await team.client.get(f"/v1/decisions/{item['decision_id']}")).json()
    assert decision["final_label"] is None and decision["resolved_at"] is None
    assert await reviewed_examples(team, tax) == []


async def one_item(team: Team, text: str = "Where is my parcel? It has not arrived") -> Any:
    tax = await team.taxonomy()
    await team.classify(tax, [text])
    [item] = await claim_all(team.alice)
    return tax, item


# ------------------------------------------------------------------ new_category
async def test_new_category_oos_is_refused_pointing_to_out_of_scope(team: Team) -> None:
    tax, item = await one_item(team)
    path = f"/v1/review/items/{item['id']}/resolve"
    for body in (
        {"action": "new_category", "new_label": OOS_LABEL},
        {"action": "new_category", "new_label": f"  {OOS_LABEL} "},
        {"action": "new_category", "label": OOS_LABEL},
        {"action": "new_category", "new_label": "OOS"},  # taken until 7 December
    ):
        r = await team.alice.post(path, json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"]["field"] == "new_label"
        assert error["details"]["reason"] == "reserved_label"
        assert "out_of_scope" in error["message"] and "reserved" in error["message"]
    await assert_untouched(team, tax, item["id"])
    r = await team.alice.post(path, json={"action": "out_of_scope"})
    assert r.status_code == 200, r.text
    assert r.json()["final_label"] == OOS_LABEL and r.json()["action"] == "out_of_scope"
    # nor can a taxonomy have a label "OOS" beside its out-of-scope examples ("oos")
    for labels in ([{"name": "Oos"}], [{"name": "apple"}, {"name": "OOS"}]):
        r = await team.admin.post("/v1/taxonomies", json={**FRUIT, "name": "o2", "labels": labels})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["details"]["reason"] == "reserved_label"
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": [{"name": "OOS"}]})
    assert r.status_code == 400 and "reserved" in r.json()["error"]["message"], r.text
    assert (await team.admin.get("/v1/taxonomies/o2")).status_code == 404


@pytest.mark.parametrize("name", ["\u200b", "\u200b\u200d\ufeff", "\u2800"])
async def test_new_category_follows_the_taxonomy_label_name_rules(team: Team, name: str) -> None:
    # the same name is refused as a label of a new taxonomy
    bad_tax = {**FRUIT, "labels": [*FRUIT["labels"], {"name": name}]}
    r = await team.admin.post("/v1/taxonomies", json=bad_tax)
    assert r.status_code in (400, 422), r.text

    tax, item = await one_item(team)
    r = await team.alice.post(
        f"/v1/review/items/{item['id']}/resolve", json={"action": "new_category", "new_label": name}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == {"field": "new_label", "reason": "invalid_label_name"}
    assert error["message"].startswith("new_label: ")
    await assert_untouched(team, tax, item["id"])


async def test_a_valid_new_category_is_still_accepted(team: Team) -> None:
    _, item = await one_item(team)
    r = await team.alice.post(
        f"/v1/review/items/{item['id']}/resolve",
        json={"action": "new_category", "new_label": " shipping "},
    )
    assert r.status_code == 200, r.text
    assert r.json()["final_label"] == "shipping" and r.json()["new_label"] == "shipping"


async def test_new_category_refuses_control_characters(team: Team) -> None:
    name = "line\nbreak\u202e"
    bad_tax = {**FRUIT, "labels": [*FRUIT["labels"], {"name": name}]}
    created = await team.admin.post("/v1/taxonomies", json=bad_tax)
    tax, item = await one_item(team)
    r = await team.alice.post(
        f"/v1/review/items/{item['id']}/resolve", json={"action": "new_category", "new_label": name}
    )
    assert (created.status_code, r.status_code) == (400, 422), (created.text, r.text)
    await assert_untouched(team, tax, item["id"])


# ----------------------------------------------------------------------- confirm
async def test_confirm_with_another_label_is_refused(team: Team) -> None:
    tax, item = await one_item(team, "I was charged twice for the same order")
    other = next(lb for lb in ("billing", "bug", "account") if lb != item["label"])
    path = f"/v1/review/items/{item['id']}/resolve"
    r = await team.alice.post(path, json={"action": "confirm", "label": other})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    # the same code and shape as a label given with out_of_scope
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == "label"
    assert error["details"]["action"] == "confirm"
    assert error["details"]["reason"] == "confirm_keeps_model_label"
    assert [e["field"] for e in error["details"]["errors"]] == ["label"]
    assert "'correct'" in error["message"] and repr(other) in error["message"]
    r = await team.alice.post(path, json={"action": "confirm", "new_label": "shipping"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["field"] == "new_label"
    await assert_untouched(team, tax, item["id"])

    # the model's own label, given explicitly, is a confirm
    r = await team.alice.post(path, json={"action": "confirm", "label": item["label"]})
    assert r.status_code == 200, r.text
    assert r.json()["final_label"] == item["label"] and r.json()["action"] == "confirm"


async def removed_cherry(team: Team) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A fruit taxonomy, an item the model called cherry and one it called apple, then cherry
    removed from the taxonomy."""
    r = await team.admin.post("/v1/taxonomies", json=FRUIT)
    assert r.status_code == 201, r.text
    tax = str(FRUIT["name"])
    results = await team.classify(tax, [CHERRY_TEXT, APPLE_TEXT])
    assert [x["label"] for x in results] == ["cherry", "apple"], results
    items = {i["text"]: i for i in await claim_all(team.alice)}
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": FRUIT["labels"][:2]})
    assert r.status_code == 200, r.text
    assert [lb["name"] for lb in r.json()["labels"]] == ["apple", "banana"]
    return tax, items[CHERRY_TEXT], items[APPLE_TEXT]


async def test_confirm_of_a_removed_label_is_refused_like_correct_to_it(team: Team) -> None:
    tax, cherry, _ = await removed_cherry(team)
    path = f"/v1/review/items/{cherry['id']}/resolve"
    refused = []
    for body in (
        {"action": "correct", "label": "cherry"},
        {"action": "confirm"},
        {"action": "confirm", "label": "cherry"},
    ):
        r = await team.alice.post(path, json=body)
        assert r.status_code == 422, r.text
        refused.append(r.json()["error"])
    assert {e["code"] for e in refused} == {"validation_error"}
    assert {e["details"]["reason"] for e in refused} == {"unknown_label"}
    assert all(e["message"].startswith("unknown label 'cherry'") for e in refused)
    assert refused[1]["details"]["field"] == "label" and refused[1]["details"]["label"] == "cherry"
    assert "'correct'" in refused[1]["message"] and "'out_of_scope'" in refused[1]["message"]
    await assert_untouched(team, tax, cherry["id"])

    r = await team.alice.post(path, json={"action": "correct", "label": "apple"})
    assert r.status_code == 200, r.text
    assert r.json()["final_label"] == "apple"
    assert [(e["text"], e["label"]) for e in await reviewed_examples(team, tax)] == [
        (CHERRY_TEXT, "apple")
    ]


# -------------------------------------------------------------------- bulk resolve
async def test_bulk_resolve_shares_the_rules_and_stays_all_or_nothing(team: Team) -> None:
    tax, cherry, apple = await removed_cherry(team)
    # bob holds nothing: bulk claims the items first, and a refusal takes the claims back
    for it in (cherry, apple):
        r = await team.alice.post(f"/v1/review/items/{it['id']}/release")
        assert r.status_code == 200, r.text
    ids = [apple["id"], cherry["id"]]
    for body, status, code in (
        ({"action": "confirm"}, 422, "validation_error"),  # cherry no longer exists
        ({"action": "confirm", "label": "banana"}, 422, "validation_error"),
        ({"action": "new_category", "new_label": OOS_LABEL}, 422, "validation_error"),
        ({"action": "new_category", "new_label": "\u200b"}, 422, "validation_error"),
    ):
        r = await team.bob.post("/v1/review/items/bulk-resolve", json={"item_ids": ids, **body})
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["code"] == code
        for item_id in ids:
            await assert_untouched(team, tax, item_id, status="pending")

    r = await team.bob.post(
        "/v1/review/items/bulk-resolve",
        json={"item_ids": ids, "action": "correct", "label": "apple"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["resolved"] == 2
    assert {e["label"] for e in await reviewed_examples(team, tax)} == {"apple"}


# ------------------------------------------------------------------------- notes
async def test_a_note_is_checked_whatever_face_sends_it(team: Team) -> None:
    """The API's schema refuses a NUL or an over-long note, and so does the service behind
    the web forms and the SDK (a NUL from a web form reached PostgreSQL: a 500; a 500 kB
    note was stored)."""
    from triaged.errors import ValidationFailed

    tax, item = await one_item(team)
    key = team.alice.headers["Authorization"].split()[1]
    service = team.stack.service
    alice = service.authenticate(key)
    for note in ("a\x00b", "x" * 2001):
        with pytest.raises(ValidationFailed):
            service.review.resolve(alice, item["id"], action="ambiguous", note=note)
        await assert_untouched(team, tax, item["id"])
    done = service.review.resolve(alice, item["id"], action="ambiguous", note="x" * 2000)
    assert done["status"] == "resolved"


async def test_new_category_differing_only_in_case_is_refused(team: Team) -> None:
    tax, item = await one_item(team)
    path = f"/v1/review/items/{item['id']}/resolve"
    for name in ("Billing", "BILLING"):
        r = await team.alice.post(path, json={"action": "new_category", "new_label": name})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["reason"] == "label_exists"
        assert r.json()["error"]["details"]["label"] == "billing"
        await assert_untouched(team, tax, item["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "ambiguous", "label": "billing"}, "label"),
        ({"action": "ambiguous", "new_label": "shipping"}, "new_label"),
        ({"action": "correct", "label": "billing", "new_label": "zzz"}, "new_label"),
        ({"action": "new_category", "label": "billing", "new_label": "shipping"}, "label"),
    ],
)
async def test_a_field_the_action_does_not_take_is_refused(
    team: Team, body: dict[str, Any], field: str
) -> None:
    """Until 5 December these answered 200 and dropped the field."""
    tax, item = await one_item(team, "I was charged twice for the same order")
    r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == field
    await assert_untouched(team, tax, item["id"])
