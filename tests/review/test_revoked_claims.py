"""Revoking a reviewer's key hands the items it claimed back to the queue at once (until 7
December they stayed claimed, answerable by nobody, until their leases ran out: up to 24
hours), with a ``released`` event that says why (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.review.conftest import Team
from tests.review.test_out_of_scope import claim_all

pytestmark = pytest.mark.anyio

TEXTS = ["Where is my parcel?", "I was charged twice", "The app crashes", "Change my email"]


async def test_revoking_a_key_releases_its_claims(team: Team) -> None:
    tax = await team.taxonomy()
    await team.classify(tax, TEXTS)
    held = await claim_all(team.alice, lease_seconds=86400)
    assert held, "nothing queued to claim"
    key_id = held[0]["claimed_by"]
    assert await claim_all(team.bob) == []  # all of them are alice's
    r = await team.admin.delete(f"/v1/keys/{key_id}")
    assert r.status_code == 200, r.text
    assert (await team.alice.post("/v1/review/claim", json={"limit": 1})).status_code == 401
    taken = await claim_all(team.bob)
    assert sorted(i["id"] for i in taken) == sorted(i["id"] for i in held)
    r = await team.bob.get(f"/v1/review/items/{held[0]['id']}")
    events = [(h["event"], h.get("actor")) for h in r.json()["history"]]
    assert ("released", key_id) in events, events
