"""Taxonomy lifecycle: versions, archive, examples upload (JSON/JSONL/CSV/multipart),
background training with a pollable status, evaluate, keys API."""

from __future__ import annotations

import asyncio
import csv
import json
import time

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique

pytestmark = pytest.mark.anyio

ZERO_SHOT = {
    "name": "support",
    "labels": [
        {"name": "billing", "description": "Invoices, charges, payments and refunds"},
        {"name": "bug", "description": "Crashes, errors and broken features"},
    ],
}


async def test_update_makes_versions_and_decisions_record_theirs(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=ZERO_SHOT)).json()["version"] == 1
        d1 = (await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})).json()
        r = await c.patch("/v1/taxonomies/support", json={"thresholds": {"auto": 0.9}})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["thresholds"]["auto"] == 0.9
        assert r.json()["model"]["taxonomy_version"] == 2
        d2 = (await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})).json()
        assert (d1["taxonomy_version"], d2["taxonomy_version"]) == (1, 2)
        versions = (await c.get("/v1/taxonomies/support/versions")).json()["data"]
        assert [v["version"] for v in versions] == [1, 2]
        v1 = (await c.get("/v1/taxonomies/support/versions/1")).json()
        assert v1["thresholds"] == {}  # none set (it read the defaults until 6 December)
        assert r.json()["thresholds"] == {"auto": 0.9, "review": None}
        listed = (await c.get("/v1/taxonomies")).json()["data"]
        assert [t["name"] for t in listed] == ["support"]
        # a change that changes nothing makes no version and trains nothing
        model = r.json()["model"]["id"]
        same = {"thresholds": {"auto": 0.9}, "labels": ZERO_SHOT["labels"]}
        for body in ({}, same):
            r = await c.patch("/v1/taxonomies/support", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["version"] == 2 and r.json()["model"]["id"] == model
        models = (await c.get("/v1/taxonomies/support/models")).json()["data"]
        assert len(models) == 2
        r = await c.patch("/v1/taxonomies/support", json={"description": "changed"})
        assert r.json()["version"] == 3


async def test_archive_hides_from_list_but_keeps_history(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=ZERO_SHOT)
        d = (await c.post("/v1/classify", json={"taxonomy": "support", "text": "crash"})).json()
        archived = (await c.post("/v1/taxonomies/support/archive")).json()
        assert archived["archived"] is True
        assert (await c.get("/v1/taxonomies")).json()["data"] == []
        every = (await c.get("/v1/taxonomies", params={"include_archived": True})).json()
        assert [t["name"] for t in every["data"]] == ["support"]
        assert (await c.get(f"/v1/decisions/{d['id']}")).status_code == 200
        patched = await c.patch("/v1/taxonomies/support", json={"description": "x"})
        assert patched.status_code == 409
        deleted = await c.delete("/v1/taxonomies/support")  # an alias of archive
        assert deleted.status_code == 200 and deleted.json()["archived"] is True
        again = await c.post("/v1/taxonomies", json=ZERO_SHOT)  # was "update it instead"
        assert again.status_code == 409, again.text
        assert again.json()["error"]["details"]["reason"] == "archived"
        assert "choose another name" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        (
            "application/json",
            json.dumps(
                {
                    "examples": [
                        {"text": "money back", "label": "billing"},
                        {"text": "it froze", "label": "bug"},
                    ]
                }
            ),
        ),
        (
            "application/x-ndjson",
            '{"text": "money back", "label": "billing"}\n{"text": "it froze", "label": "bug"}\n',
        ),
        ("text/csv", 'text,label\nmoney back,billing\n"it froze, again",bug\n'),
        (  # JSON strings may hold U+2028 and NEL raw: not line ends in JSON Lines
            "application/x-ndjson",
            '{"text": "money\u2028back", "label": "billing"}\r\n'
            '{"text": "it\x85froze", "label": "bug"}\n',
        ),
    ],
)
async def test_examples_upload_formats(stack: Stack, tenant: Tenant, content_type, payload):
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=ZERO_SHOT)
        r = await c.post(
            "/v1/taxonomies/support/examples",
            content=payload.encode(),
            headers={"content-type": content_type},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["n_examples"] == 2
        assert r.json()["model"]["taxonomy_version"] == 2


async def test_examples_multipart_upload_and_bad_rows(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=ZERO_SHOT)
        files = {"file": ("ex.jsonl", b'{"text": "refund me", "label": "billing"}\n', "text/plain")}
        r = await c.post("/v1/taxonomies/support/examples", files=files)
        assert r.status_code == 200, r.text
        assert r.json()["n_examples"] == 1
        bad = await c.post(
            "/v1/taxonomies/support/examples",
            content=b'{"text": "x", "label": "nope"}\n',
            headers={"content-type": "application/x-ndjson"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_taxonomy"
        broken = await c.post(
            "/v1/taxonomies/support/examples",
            content=b"text,label\n,billing\n",
            headers={"content-type": "text/csv"},
        )
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_dataset"
        assert "line 2" in broken.json()["error"]["message"]
        # read as strictly as a bulk job's CSV (each was read silently until 5 December)
        long = "x" * (csv.field_size_limit() + 10)
        for body, status, words in (
            ("text,text,label\na,b,billing\n", 400, "line 1: the header names column 'text' twice"),
            ("text,label\nrefund,billing,extra\n", 400, "line 2: 3 fields"),
            ('text,label\n"a" b,billing\n', 400, "line 2: not valid CSV"),
            (f'text,label\nok,billing\n"{long}",billing\n', 413, "line 3"),
        ):
            r = await c.post(
                "/v1/taxonomies/support/examples",
                content=body.encode(),
                headers={"content-type": "text/csv"},
            )
            assert r.status_code == status and words in r.json()["error"]["message"], r.text
        current = (await c.get("/v1/taxonomies/support")).json()
        assert current["version"] == 2  # failed uploads left no version behind


async def test_background_training_is_pollable(stack: Stack, tenant: Tenant):
    service = stack.variant(background_train_min_examples=1)
    app = __import__("triaged.api", fromlist=["create_app"]).create_app(service=service)
    try:
        async with stack.client(tenant.key, app=app) as c:
            created = (await c.post("/v1/taxonomies", json=ZERO_SHOT)).json()
            examples = [{"text": f"refund for order {i}", "label": "billing"} for i in range(4)]
            examples += [{"text": f"crash number {i}", "label": "bug"} for i in range(4)]
            r = await c.post(
                "/v1/taxonomies/support/examples",
                json={"examples": examples},
                params={"train": "false"},
            )
            assert r.json()["version"] == 2 and r.json()["model"]["id"] == created["model"]["id"]
            job = await c.post("/v1/taxonomies/support/train")
            assert job.status_code == 202, job.text
            job_id = job.json()["id"]
            # polled until it settles (a 10 s cap failed once on a loaded CI machine)
            deadline = time.monotonic() + 180
            while True:
                state = (await c.get(f"/v1/taxonomies/support/models/{job_id}")).json()
                if state["status"] != "training" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert state["status"] == "ready" and state["taxonomy_version"] == 2
            assert state["active"] is True  # as the list says (it read null)
            first = await c.get(f"/v1/taxonomies/support/models/{created['model']['id']}")
            assert first.json()["active"] is False
            info = (await c.get("/v1/taxonomies/support")).json()
            assert info["ready"] and info["model"]["id"] == job_id
            models = (await c.get("/v1/taxonomies/support/models")).json()["data"]
            assert models[0]["id"] == job_id and len(models) == 2
    finally:
        service.close()


async def test_evaluate_on_holdout_and_on_given_examples(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        held = (await c.post("/v1/taxonomies/support/evaluate", json={})).json()
        assert held["evaluation"] == "holdout" and held["n_test"] == 3
        assert {"accuracy", "macro_f1", "ece", "nll", "buckets"} <= set(held)
        given = await c.post(
            "/v1/taxonomies/support/evaluate",
            json={
                "examples": [
                    {"text": "I need a refund", "label": "billing"},
                    {"text": "The app keeps crashing", "label": "bug"},
                ]
            },
        )
        assert given.status_code == 200, given.text
        assert given.json()["evaluation"] == "given" and given.json()["n_test"] == 2
        # a test text follows a classified text's rules (both were scored as sent)
        for text, status in (("\u200b\u2060", 422), ("x" * 10_001, 413)):
            bad = await c.post(
                "/v1/taxonomies/support/evaluate",
                json={
                    "examples": [
                        {"text": "refund", "label": "billing"},
                        {"text": text, "label": "bug"},
                    ]
                },
            )
            assert bad.status_code == status, bad.text
            assert bad.json()["error"]["details"]["field"] == "examples[1].text"
        # an empty test set is refused (it ran the held-out split as if none was given)
        empty = await c.post("/v1/taxonomies/support/evaluate", json={"examples": []})
        assert empty.status_code == 422, empty.text
        assert empty.json()["error"]["details"]["errors"][0]["field"] == "examples"
        # buckets as the service routes them: a pinned policy's thresholds (it reported the
        # default certification, auto null, "certified")
        r = await c.put("/v1/taxonomies/support/routing", json={"auto": 0.95, "review": 0.7})
        assert r.status_code == 200, r.text
        for body in ({}, {"examples": [{"text": "I need a refund", "label": "billing"}]}):
            out = (await c.post("/v1/taxonomies/support/evaluate", json=body)).json()
            assert out["auto_threshold"] == 0.95 and out["review_threshold"] == 0.7, out
            assert out["auto_threshold_source"] == "manual"


async def test_keys_api_shows_the_secret_once(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        created = await c.post("/v1/keys", json={"role": "reviewer", "name": "ana"})
        assert created.status_code == 201
        key = created.json()
        assert key["key"].startswith("tri_") and key["role"] == "reviewer"
        listed = (await c.get("/v1/keys")).json()["data"]
        assert {k["id"] for k in listed} >= {key["id"]}
        assert all("key" not in k for k in listed)
        assert key["key"][:12] == key["prefix"]
        ws = (await c.get("/v1/workspace")).json()
        assert ws["name"] == tenant.workspace and ws["plan"]["name"] == "unlimited"


async def test_labels_that_differ_only_in_case_are_refused_as_a_proposal_is(
    stack: Stack, tenant: Tenant
) -> None:
    """ "Billing" beside "billing" is one category written twice: the service refuses it in a
    definition as it refuses it as a proposed new category (it took it in a definition)."""
    name = unique("case")
    twice = [{"name": "billing"}, {"name": "bug"}, {"name": "Billing"}]
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json={"name": name, "labels": twice})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_taxonomy"
        assert error["details"] == {
            "field": "labels[2].name",
            "label": "Billing",
            "reason": "duplicate_label",
        }
        assert (await c.get(f"/v1/taxonomies/{name}")).status_code == 404  # nothing stored
        r = await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})
        assert r.status_code == 201, r.text
        labels = [{"name": lb["name"]} for lb in TINY_TAXONOMY["labels"]]
        r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": [*labels, {"name": "BUG"}]})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["details"]["label"] == "BUG"
        versions = (await c.get(f"/v1/taxonomies/{name}/versions")).json()["data"]
        assert len(versions) == 1


async def test_patch_labels_keeps_descriptions_not_given(stack: Stack, tenant: Tenant) -> None:
    """A label given by name alone keeps its description as it keeps its examples (until 7
    December adding one label erased every other label's description); a description given,
    even empty, replaces it; a renamed label keeps the description of the one it renames."""
    name = unique("describe")
    old = {lb["name"]: lb["description"] for lb in TINY_TAXONOMY["labels"]}
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        labels = [{"name": n} for n in old]
        labels[0] = {"name": "payments", "renamed_from": "billing"}
        labels[1] = {"name": "bug", "description": ""}
        body = {"labels": [*labels, {"name": "other", "description": "Anything else"}]}
        r = await c.patch(f"/v1/taxonomies/{name}", json=body)
        assert r.status_code == 200, r.text
        got = {lb["name"]: (lb["description"], lb["n_examples"]) for lb in r.json()["labels"]}
        assert got["payments"] == (old["billing"], 3)
        assert got["bug"] == ("", 3)
        for kept in list(old)[2:]:
            assert got[kept][0] == old[kept]
        assert got["other"] == ("Anything else", 0)


def test_concurrent_edits_each_answer_the_version_they_made(stack: Stack, tenant: Tenant) -> None:
    """Ten PATCHes at once make versions 2-11, and each answer names its own (all named
    the latest when the answer was read after the commit)."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique("edits")
    service = stack.service
    principal = service.authenticate(tenant.key)
    service.create_taxonomy(principal, {**TINY_TAXONOMY, "name": name})

    def edit(i: int) -> tuple[int, str]:
        out = service.update_taxonomy(principal, name, {"description": f"edit {i}"})
        return out["version"], out["description"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(edit, range(10)))
    assert sorted(v for v, _ in answers) == list(range(2, 12)), answers
    for version, description in answers:
        stored = service.taxonomy_version(principal, name, version)
        assert stored["description"] == description


async def test_one_model_reads_as_the_list_shows_it(stack: Stack, tenant: Tenant) -> None:
    """The poll target of ``POST .../train`` (``GET .../models/{id}``) answers an admin what
    the list does: the trigger and recorded evaluation read null there until 7 December."""
    name = unique("poll")
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})
        assert r.status_code == 201, r.text
        trained = await c.post(f"/v1/taxonomies/{name}/train", json={"wait": True})
        assert trained.status_code == 200, trained.text
        model_id = trained.json()["id"]
        listed = (await c.get(f"/v1/taxonomies/{name}/models")).json()["data"]
        row = next(m for m in listed if m["id"] == model_id)
        assert row["trigger"] is not None, row
        one = await c.get(f"/v1/taxonomies/{name}/models/{model_id}")
        assert one.status_code == 200 and one.json() == row, (one.json(), row)
        missing = await c.get(f"/v1/taxonomies/{name}/models/mdl_nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # a client key sees the model, without the reviewers' fields
    async with stack.client(stack.key(tenant, "client")) as c:
        one = await c.get(f"/v1/taxonomies/{name}/models/{model_id}")
        assert one.status_code == 200 and one.json()["status"] == "ready", one.text
        assert one.json()["evaluation"] is None
