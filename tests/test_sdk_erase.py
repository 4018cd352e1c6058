"""The SDK's ``erase_decisions`` (sync and async) against a real uvicorn server: by id and
by external id, the typed answer, ``Decision.redacted_at``, and an unknown id raising
NotFound with nothing erased."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from triaged.client import AsyncClient, Client, Erased
from triaged.errors import NotFound


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LiveServer]]:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('er') / 'e.db'}")
    with live_server(stack.app) as server:
        yield stack, server
    stack.service.close()


def test_erase_decisions_sync_and_async(served: tuple[Stack, LiveServer]) -> None:
    stack, server = served
    tenant = stack.tenant()
    with Client(server.url, tenant.key, backoff=0.01) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"])
        c.wait_until_ready("support", timeout=120, poll=0.1)
        one = c.classify("Ann was charged twice", "support", metadata={"name": "Ann"})
        two = c.classify("Ann's app crashes", "support", external_id="ann-7")
        other = c.classify("Bob's invoice is wrong", "support", external_id="bob-1")
        with pytest.raises(NotFound):
            c.erase_decisions(ids=[one.id, "dec_missing"])
        assert c.decision(one.id).redacted_at is None  # all or nothing
        out = c.erase_decisions(ids=[one.id], external_ids=["ann-7"])
        assert out == Erased(erased=2, decisions=[one.id, two.id])
        gone = c.decision(one.id)
        assert gone.text == "" and gone.metadata is None and gone.redacted_at is not None
        assert gone.label == one.label and gone.confidence == one.confidence
        assert c.decision(other.id).text == "Bob's invoice is wrong"

    async def run() -> Erased:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as ac:
            return await ac.erase_decisions(external_ids=["bob-1", "ann-7"])

    again = asyncio.run(run())
    assert again.erased == 1 and sorted(again.decisions) == sorted([two.id, other.id])
