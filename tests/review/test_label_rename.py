"""Renaming a label loses nothing: its examples, its reviews (which retraining learns from)
and its decisions continue under the new name, whether the rename is stated
(``renamed_from`` in a PATCH, ``POST .../labels/{label}/rename``) or inferred from the
examples a PATCH moved (SQLite and PostgreSQL, through the ASGI app)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.review.conftest import Team
from tests.review.test_learning_api import TEXTS, TRUTH, review_everything
from triaged.services.label_lineage import successors
from triaged.taxonomy import Label, Taxonomy

pytestmark = pytest.mark.anyio


async def _labels(team: Team, tax: str) -> dict[str, dict[str, Any]]:
    r = await team.admin.get(f"/v1/taxonomies/{tax}", params={"include_examples": True})
    assert r.status_code == 200, r.text
    return {lb["name"]: lb for lb in r.json()["labels"]}


async def _reviewed_labels(team: Team, tax: str) -> list[str]:
    r = await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")
    assert r.status_code == 200, r.text
    return sorted(e["label"] for e in r.json()["data"])


def _renamed(truth: list[str], old: str, new: str) -> list[str]:
    return sorted(new if t == old else t for t in truth)


async def test_a_stated_rename_keeps_examples_reviews_and_retraining(team: Team) -> None:
    """A PATCH that renames 'bug' to 'defect' with a new description and no examples: before
    ``renamed_from`` the label lost its examples (the new name had none) and retraining
    dropped every review of 'bug' ("a label since removed")."""
    tax = await team.taxonomy()
    await review_everything(team, tax)
    before = await _labels(team, tax)
    body = {
        "labels": [
            {"name": "billing"},
            {"name": "defect", "description": "Software defects", "renamed_from": "bug"},
            {"name": "account"},
        ]
    }
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    after = await _labels(team, tax)
    assert list(after) == ["billing", "defect", "account"]
    assert after["defect"]["examples"] == before["bug"]["examples"]
    assert after["defect"]["description"] == "Software defects"
    assert after["billing"]["examples"] == before["billing"]["examples"]
    assert await _reviewed_labels(team, tax) == _renamed(TRUTH, "bug", "defect")

    r = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": True})
    assert r.status_code == 200, r.text
    model = r.json()
    assert model["status"] == "ready"
    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    n_train = sum(1 for e in examples if e["split"] == "train")
    assert model["n_review_examples"] == n_train
    assert model["n_examples"] == 9 + n_train


async def test_an_inferred_rename_keeps_the_reviews(team: Team) -> None:
    """A PATCH that sends the examples again under the new name (no ``renamed_from``):
    the rename is read from the examples, and the reviews follow it."""
    tax = await team.taxonomy()
    await review_everything(team, tax)
    labels = await _labels(team, tax)
    body = {
        "labels": [
            {"name": "fault" if n == "bug" else n, "examples": lb["examples"]}
            for n, lb in labels.items()
        ]
    }
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json=body)
    assert r.status_code == 200, r.text
    assert await _reviewed_labels(team, tax) == _renamed(TRUTH, "bug", "fault")


async def test_the_rename_endpoint(team: Team) -> None:
    tax = await team.taxonomy()
    await review_everything(team, tax)
    before = await _labels(team, tax)
    for new_name in ("x", " padded "):  # a reviewer learns nothing about the name
        r = await team.alice.post(
            f"/v1/taxonomies/{tax}/labels/bug/rename", json={"name": new_name}
        )
        assert r.status_code == 403, r.text
    r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/bug/rename", json={"name": "defect"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    after = await _labels(team, tax)
    assert list(after) == ["billing", "defect", "account"]
    assert after["defect"]["description"] == before["bug"]["description"]
    assert after["defect"]["examples"] == before["bug"]["examples"]
    # twice over: the reviews of 'bug' follow it through both versions
    r = await team.admin.post(
        f"/v1/taxonomies/{tax}/labels/defect/rename",
        json={"name": "app_fault", "description": "Faults of the app"},
    )
    assert r.status_code == 200, r.text
    assert (await _labels(team, tax))["app_fault"]["description"] == "Faults of the app"
    assert await _reviewed_labels(team, tax) == _renamed(TRUTH, "bug", "app_fault")
    versions = (await team.admin.get(f"/v1/taxonomies/{tax}/versions")).json()["data"]
    assert [v["renames"] for v in versions] == [{}, {"bug": "defect"}, {"defect": "app_fault"}]
    # the decisions made as 'bug' are the renamed label's traffic in its health
    r = await team.admin.get(f"/v1/taxonomies/{tax}/insights")
    assert r.status_code == 200, r.text
    health = {h["label"]: h["volume"] for h in r.json()["labels"]}
    assert "bug" not in health and "defect" not in health, health
    assert sum(health.values()) == len(TEXTS)

    r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/nope/rename", json={"name": "y"})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["details"] == {"taxonomy": tax, "label": "nope"}
    r = await team.admin.post(
        f"/v1/taxonomies/{tax}/labels/app_fault/rename", json={"name": "billing"}
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["details"]["reason"]) == ("invalid_taxonomy", "name_taken")
    assert error["details"]["field"] == "name"
    r = await team.admin.post(
        f"/v1/taxonomies/{tax}/labels/app_fault/rename", json={"name": " padded "}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "name"
    assert (await _labels(team, tax)).keys() == {"billing", "app_fault", "account"}
    # the same name and description: nothing changes, no version
    r = await team.admin.post(
        f"/v1/taxonomies/{tax}/labels/app_fault/rename", json={"name": "app_fault"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ([{"name": "x", "renamed_from": "nope"}, {"name": "bug"}, {"name": "account"}],
         "unknown_label"),
        ([{"name": "x", "renamed_from": "billing"}, {"name": "billing"}, {"name": "account"}],
         "label_kept"),
        ([{"name": "x", "renamed_from": "billing"}, {"name": "y", "renamed_from": "billing"}],
         "duplicate_rename"),
        ([{"name": "bug", "renamed_from": "billing"}, {"name": "account"}], "name_taken"),
    ],
)  # fmt: skip
async def test_a_bad_rename_is_refused_and_writes_nothing(
    team: Team, labels: list[dict[str, Any]], reason: str
) -> None:
    tax = await team.taxonomy()
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": labels})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_taxonomy"
    assert error["details"]["reason"] == reason, error
    assert error["details"]["field"].endswith(".renamed_from"), error
    r = await team.admin.get(f"/v1/taxonomies/{tax}")
    assert r.json()["version"] == 1
    assert [lb["name"] for lb in r.json()["labels"]] == ["billing", "bug", "account"]


def test_a_recorded_rename_needs_no_examples_or_description() -> None:
    """Without a recorded rename, a label with no examples whose description changed has
    no successor; with one it has."""
    before = Taxonomy(name="t", labels=(Label("d", "the d things"), Label("k")))
    after = Taxonomy(name="t", labels=(Label("d2", "other words"), Label("k")))
    assert successors(before, after) == {}
    assert successors(before, after, {"d": "d2"}) == {"d": "d2"}
    # a recorded rename to a label the next version does not hold is no successor
    assert successors(before, after, {"d": "zz"}) == {}


async def test_merging_a_label_into_another(team: Team) -> None:
    """The insights' ``merge`` as one call: 'bug' goes, its examples join 'billing', and its
    reviews and decisions count as 'billing'."""
    tax = await team.taxonomy()
    await review_everything(team, tax)
    before = await _labels(team, tax)
    url = f"/v1/taxonomies/{tax}/labels/bug/merge"
    r = await team.alice.post(url, json={"into": "billing"})
    assert r.status_code == 403, r.text
    for label, into, status, reason in [
        ("bug", "bug", 400, "same_label"),
        ("nope", "billing", 404, None),
        ("bug", "nope", 404, None),
    ]:
        r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/{label}/merge", json={"into": into})
        assert r.status_code == status, r.text
        if reason:
            assert r.json()["error"]["details"]["reason"] == reason
    assert (await team.admin.get(f"/v1/taxonomies/{tax}")).json()["version"] == 1

    r = await team.admin.post(url, json={"into": "billing"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    after = await _labels(team, tax)
    assert list(after) == ["billing", "account"]
    assert after["billing"]["examples"] == before["billing"]["examples"] + before["bug"]["examples"]
    assert after["billing"]["description"] == before["billing"]["description"]
    assert after["account"]["examples"] == before["account"]["examples"]
    assert await _reviewed_labels(team, tax) == _renamed(TRUTH, "bug", "billing")
    r = await team.admin.get(f"/v1/taxonomies/{tax}/insights")
    assert r.status_code == 200, r.text
    health = {h["label"]: h["volume"] for h in r.json()["labels"]}
    assert set(health) == {"billing", "account"}, health
    assert sum(health.values()) == len(TEXTS)

    r = await team.alice.post(f"/v1/taxonomies/{tax}/train", json={"wait": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    examples = (await team.alice.get(f"/v1/taxonomies/{tax}/reviewed-examples")).json()["data"]
    assert r.json()["n_review_examples"] == sum(1 for e in examples if e["split"] == "train")


async def test_a_name_used_again_is_another_label(team: Team) -> None:
    """'bug' renamed 'defect', then a new label called 'bug': the reviews made as 'bug'
    before the rename teach 'defect' (they taught the new 'bug' when read by name alone)."""
    tax = await team.taxonomy()
    await review_everything(team, tax)
    r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/bug/rename", json={"name": "defect"})
    assert r.status_code == 200, r.text
    labels = [{"name": n} for n in (await _labels(team, tax))]
    labels.append(
        {
            "name": "bug",
            "description": "Insects in the warehouse",
            "examples": ["There are beetles in my flour", "Ants all over the parcel"],
        }
    )
    r = await team.admin.patch(f"/v1/taxonomies/{tax}", json={"labels": labels})
    assert r.status_code == 200, r.text
    assert list(await _labels(team, tax)) == ["billing", "defect", "account", "bug"]
    assert await _reviewed_labels(team, tax) == _renamed(TRUTH, "bug", "defect")
    # a review made now, as the new 'bug', is the new label's
    [decision] = await team.classify(tax, ["Ants all over my parcel again"])
    items = (await team.alice.post("/v1/review/claim", json={"limit": 100})).json()["items"]
    [item] = [i for i in items if i["decision_id"] == decision["id"]]
    body = (
        {"action": "correct", "label": "bug"}
        if decision["label"] != "bug"
        else {"action": "confirm"}
    )
    r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
    assert r.status_code == 200, r.text
    assert await _reviewed_labels(team, tax) == sorted([*_renamed(TRUTH, "bug", "defect"), "bug"])


async def test_a_pending_decision_of_a_renamed_label_can_be_confirmed(team: Team) -> None:
    """Decisions waiting for review when their label was renamed: confirming one confirms
    the label it continues as (it was a 422, "the model's label is no longer in the
    taxonomy", and a correction to the new name counted the model as wrong)."""
    tax = await team.taxonomy()
    results = await team.classify(tax, TEXTS)
    bugs = {r["id"] for r in results if r["label"] == "bug"}
    assert bugs
    r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/bug/rename", json={"name": "defect"})
    assert r.status_code == 200, r.text
    items = (await team.alice.post("/v1/review/claim", json={"limit": 100})).json()["items"]
    mine = [i for i in items if i["decision_id"] in bugs]
    assert mine
    # each item names the label as it is called now, its runner-ups too
    assert {(i["label"], i["label_now"]) for i in mine} == {("bug", "defect")}
    for item in items:
        for alt in item["alternatives"]:
            assert alt["label_now"] == ("defect" if alt["label"] == "bug" else alt["label"])
    for i, item in enumerate(mine):
        # "correct" to the new name says the same as confirm, and is recorded as confirm
        body = {"action": "correct", "label": "defect"} if i == 0 else {"action": "confirm"}
        r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["label_now"] == "defect" and r.json()["final_label"] == "defect"
        assert r.json()["action"] == "confirm"
    for decision_id in bugs:
        r = await team.alice.get(f"/v1/decisions/{decision_id}")
        assert r.json()["label"] == "bug" and r.json()["final_label"] == "defect", r.json()
    assert await _reviewed_labels(team, tax) == ["defect"] * len(mine)
    # the model was right on each: no error in any lane
    r = await team.admin.get("/v1/review/lane-error", params={"taxonomy": tax})
    assert r.status_code == 200, r.text
    lanes = r.json()["lanes"]
    assert sum(lane["reviewed"] for lane in lanes.values()) == len(mine), lanes
    assert sum(lane["errors"] for lane in lanes.values()) == 0, lanes
    # the routing evidence reads them right too (the what-if counted each as wrong: its
    # final label "defect" is not the decision's "bug")
    r = await team.admin.get(f"/v1/taxonomies/{tax}/what-if", params={"auto": 0.0, "review": 0.0})
    assert r.status_code == 200, r.text
    error = r.json()["auto_error"]
    assert error["n_reviewed"] == len(mine) and error["estimate"] == 0.0, error


async def _lane_totals(team: Team, tax: str) -> tuple[int, int]:
    r = await team.admin.get("/v1/review/lane-error", params={"taxonomy": tax})
    assert r.status_code == 200, r.text
    lanes = r.json()["lanes"]
    return sum(v["reviewed"] for v in lanes.values()), sum(v["errors"] for v in lanes.values())


async def test_the_lane_error_reads_corrections_under_todays_names(team: Team) -> None:
    """A correction from 'bug' to 'billing' is a lane error until 'bug' is merged into
    'billing': then the lane-error report, like the routing evidence (the what-if), counts
    the model right (it compared the names as strings and kept counting the error)."""
    tax = await team.taxonomy()
    results = await team.classify(tax, TEXTS)
    bugs = {r["id"] for r in results if r["label"] == "bug"}
    assert bugs
    items = (await team.alice.post("/v1/review/claim", json={"limit": 100})).json()["items"]
    mine = [i for i in items if i["decision_id"] in bugs]
    assert mine
    for item in mine:
        body = {"action": "correct", "label": "billing"}
        r = await team.alice.post(f"/v1/review/items/{item['id']}/resolve", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["action"] == "correct"
    assert await _lane_totals(team, tax) == (len(mine), len(mine))

    r = await team.admin.post(f"/v1/taxonomies/{tax}/labels/bug/merge", json={"into": "billing"})
    assert r.status_code == 200, r.text
    assert await _lane_totals(team, tax) == (len(mine), 0)
    r = await team.admin.get(f"/v1/taxonomies/{tax}/what-if", params={"auto": 0.0, "review": 0.0})
    assert r.status_code == 200, r.text
    error = r.json()["auto_error"]
    assert error["n_reviewed"] == len(mine) and error["estimate"] == 0.0, error
