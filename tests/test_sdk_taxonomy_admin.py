"""The SDK's taxonomy administration (versions, one version, a model by id, rollback,
review settings, reviewed examples, delete), sync and async, against a real uvicorn
server; the answers without a field-level schema are compared with their types."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from triaged.client import (
    AsyncClient,
    Client,
    LabelDefinition,
    ModelInfo,
    ReviewedExample,
    ReviewSettings,
    TaxonomyDefinition,
    TaxonomyInfo,
    TaxonomyVersion,
)
from triaged.errors import Forbidden, NotFound, ValidationFailed


def _run(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LiveServer]]:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('tax') / 't.db'}")
    with live_server(stack.app) as server:
        yield stack, server
    stack.service.close()


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _raw(server: LiveServer, key: str, path: str) -> Any:
    answer = httpx.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    answer.raise_for_status()
    return answer.json()


def test_versions_models_and_rollback(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant = stack.tenant()
    with Client(server.url, tenant.key, backoff=0.01) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"])
        first = c.wait_until_ready("support", timeout=120, poll=0.1).model
        c.add_examples("support", [{"text": "my card was charged again", "label": "billing"}])
        second = c.wait_until_ready("support", timeout=120, poll=0.1).model
        assert first is not None and second is not None and first.id != second.id

        versions = c.taxonomy_versions("support")
        assert [v.version for v in versions] == [1, 2]
        assert all(isinstance(v, TaxonomyVersion) and v.created_at for v in versions)
        assert versions[1].n_examples == versions[0].n_examples + 1
        one = c.taxonomy_version("support", 1)
        assert isinstance(one, TaxonomyDefinition) and (one.name, one.version) == ("support", 1)
        assert [lb.name for lb in one.labels] == [lb["name"] for lb in TINY_TAXONOMY["labels"]]
        assert isinstance(one.labels[0], LabelDefinition) and one.labels[0].examples
        assert one.thresholds == {}  # none set (the defaults read as set until 6 December)
        newest = c.taxonomy_version("support", 2)
        assert "my card was charged again" in newest.labels[0].examples
        with pytest.raises(NotFound):
            c.taxonomy_version("support", 9)

        got = c.model("support", first.id)
        assert isinstance(got, ModelInfo) and got.id == first.id and got.status == "ready"
        with pytest.raises(NotFound):
            c.model("support", "mdl_missing")
        back = c.rollback("support", first.id)
        assert isinstance(back, ModelInfo) and back.id == first.id and back.active is True
        assert c.taxonomy("support").model.id == first.id  # type: ignore[union-attr]
        with pytest.raises(ValidationFailed):
            c.rollback("support", "")

        renamed = c.rename_label("support", "bug", "defect", description="Software defects")
        assert isinstance(renamed, TaxonomyInfo) and renamed.version == 3
        assert renamed.labels == ["billing", "defect", "account"]
        third = c.taxonomy_version("support", 3)
        assert third.labels[1].examples == newest.labels[1].examples
        assert third.labels[1].description == "Software defects"
        with pytest.raises(NotFound):
            c.rename_label("support", "nope", "x")
        merged = c.merge_labels("support", "defect", "billing")
        assert merged.version == 4 and merged.labels == ["billing", "account"]
        fourth = c.taxonomy_version("support", 4)
        assert fourth.labels[0].examples == newest.labels[0].examples + third.labels[1].examples
        renames = [v.renames for v in c.taxonomy_versions("support")]
        assert renames == [{}, {}, {"bug": "defect"}, {"defect": "billing"}]

        gone = c.delete_taxonomy("support")
        assert isinstance(gone, TaxonomyInfo) and gone.raw["archived"] is True
    raw = _raw(server, tenant.key, "/v1/taxonomies/support/versions/1")
    assert set(raw) - {"out_of_scope"} == _fields(TaxonomyDefinition) - {"raw", "out_of_scope"}
    assert set(raw["labels"][0]) == _fields(LabelDefinition)


def test_review_settings_and_reviewed_examples(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant = stack.tenant()
    reviewer = stack.key(tenant, "reviewer")
    with Client(server.url, tenant.key, backoff=0.01) as admin:
        held = {"auto": 0.999, "review": 0.998}
        admin.create_taxonomy("support", TINY_TAXONOMY["labels"], thresholds=held)
        default = admin.review_settings("support")
        assert isinstance(default, ReviewSettings) and default.taxonomy == "support"
        assert default.updated_at is None and default.reopen_window_seconds > 0
        changed = admin.update_review_settings(
            "support", guidelines="refunds are billing", overlap_rate=0.25
        )
        assert (changed.guidelines, changed.overlap_rate) == ("refunds are billing", 0.25)
        assert changed.reopen_window_seconds == default.reopen_window_seconds
        assert changed.updated_at and changed.updated_by
        assert admin.review_settings("support") == changed
        with pytest.raises(ValidationFailed):
            admin.update_review_settings("support", overlap_rate=2.0)
        # no second opinions: the one answer below is the decisive one
        settled = admin.update_review_settings("support", overlap_rate=0.0)
        assert settled.guidelines == "refunds are billing"
        decision = admin.classify("my invoice has the wrong amount on it", "support")
    with Client(server.url, reviewer, backoff=0.01) as r:
        with pytest.raises(Forbidden):
            r.update_review_settings("support", guidelines="mine")
        assert r.reviewed_examples("support") == []
        item = r.claim(taxonomy="support")[0]
        r.resolve(item.id, "correct", label="bug")
        examples = r.reviewed_examples("support")
        assert [(e.item_id, e.decision_id, e.label) for e in examples] == [
            (item.id, decision.id, "bug")
        ]
        assert isinstance(examples[0], ReviewedExample) and examples[0].source == "review"
        assert examples[0].split in {"train", "eval"} and examples[0].model_label == item.label
    settings = _raw(server, tenant.key, "/v1/taxonomies/support/review-settings")
    assert set(settings) == _fields(ReviewSettings)
    row = _raw(server, tenant.key, "/v1/taxonomies/support/reviewed-examples")["data"][0]
    assert set(row) == _fields(ReviewedExample)

    async def scenario() -> None:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as c:
            assert await c.review_settings("support") == settled
            later = await c.update_review_settings("support", reopen_window_seconds=60)
            assert later.reopen_window_seconds == 60 and later.guidelines == settled.guidelines
            assert [e.item_id for e in await c.reviewed_examples("support")] == [item.id]
            assert [v.version for v in await c.taxonomy_versions("support")] == [1]
            assert (await c.taxonomy_version("support", 1)).version == 1
            info = await c.taxonomy("support")
            assert info.model is not None
            assert (await c.model("support", info.model.id)).id == info.model.id
            assert (await c.rollback("support", info.model.id)).active is True
            renamed = await c.rename_label("support", "account", "profile")
            assert renamed.labels == ["billing", "bug", "profile"]
            merged = await c.merge_labels("support", "profile", "bug")
            assert merged.labels == ["billing", "bug"]
            assert (await c.delete_taxonomy("support")).raw["archived"] is True
            with pytest.raises(NotFound):
                await c.review_settings("nope")

    _run(scenario())
