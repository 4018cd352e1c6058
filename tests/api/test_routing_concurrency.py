"""The live check across processes: two services on one database (SQLite, PostgreSQL)
seeing the same failing audits record one ``live`` version and one alert, not two; the
what-if of those audits weighs each by the inverse of its audit share."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.service import ClassifyItem, Service
from triaged.services import review_queue
from triaged.services.ids import utcnow
from triaged.storage.tables import routing_policies
from triaged.storage.webhooks import webhook_events

pytestmark = pytest.mark.anyio

TEXTS = [f"I was charged twice for order {i}" for i in range(12)]


def _failing_audits(svc: Service, key: str) -> tuple[str, str, str]:
    """A taxonomy routing everything to auto (manual 0.0), every decision audited, every
    audit resolved as wrong at the SQL layer (so no check has run yet)."""
    principal = svc.authenticate(key)
    name = unique("live")
    svc.create_taxonomy(
        principal, {**TINY_TAXONOMY, "name": name, "thresholds": {"auto": 0.0, "review": 0.0}}
    )
    decisions, _ = svc.classify(principal, name, [ClassifyItem(t) for t in TEXTS])
    assert {d["bucket"] for d in decisions} == {"auto"}
    items = svc.review.claim(principal, limit=100, taxonomy=name)
    assert len(items) == len(TEXTS) and {i["queue"] for i in items} == {"audit"}
    labels = [lb["name"] for lb in TINY_TAXONOMY["labels"]]
    with svc.db.write() as conn:
        for item in items:
            other = next(lb for lb in labels if lb != item["label"])
            review_queue.resolve(
                conn,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                item_id=item["id"],
                action=review_queue.Action.CORRECT,
                labels=labels,
                now=utcnow(),
                label=other,
            )
    record = svc.taxonomy_record(principal, name)
    return principal.workspace_id, record.id, name


async def test_concurrent_live_checks_record_one_change(stack: Stack, tenant: Tenant) -> None:
    one = stack.variant(review_audit_rate=1.0)
    two = stack.variant(review_audit_rate=1.0)
    try:
        ws, tid, name = _failing_audits(one, tenant.key)
        before = one.routing(one.authenticate(tenant.key), name)
        assert before["source"] == "manual" and before["auto"] == 0.0
        assert before["live"]["n"] == len(TEXTS) and before["live"]["errors"] == len(TEXTS)
        barrier = threading.Barrier(2)

        def check(svc: Service) -> Any:
            barrier.wait()
            return svc.check_routing(ws, tid)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(check, [one, two]))
        assert sum(r is not None for r in results) == 1
        with one.db.read() as conn:
            sources = conn.execute(
                select(routing_policies.c.source)
                .where(routing_policies.c.taxonomy_id == tid)
                .order_by(routing_policies.c.version)
            ).scalars()
            alerts = conn.execute(
                select(func.count()).where(
                    webhook_events.c.workspace_id == ws,
                    webhook_events.c.type == "alert.auto_lane",
                )
            ).scalar_one()
            assert list(sources)[-1] == "live"
            assert alerts == 1
        after = one.routing(one.authenticate(tenant.key), name)
        assert after["version"] == before["version"] + 1 and after["source"] == "live"
        assert after["auto"] is None and "auto lane closed" in after["reason"]
        # a second round changes nothing: the lane is closed and nothing certifies it
        assert one.check_routing(ws, tid) is None and two.check_routing(ws, tid) is None

        # what-if over those audits: all wrong, each weighted 1 / 1.0
        what = one.what_if(one.authenticate(tenant.key), name, auto=0.0, review=0.0)
        assert what["n_decisions"] == len(TEXTS) and what["shares"]["auto"] == 1.0
        err = what["auto_error"]
        assert err["n_reviewed"] == len(TEXTS) and err["estimate"] == 1.0
        assert err["effective_n"] == pytest.approx(len(TEXTS))
        assert 0.7 < err["lower"] < 1.0 and err["upper"] == 1.0
    finally:
        one.close()
        two.close()


async def test_thin_evidence_raises_the_audit_share_until_enough_audits(
    stack: Stack, tenant: Tenant
) -> None:
    from triaged.storage.tables import decisions

    svc = stack.variant(
        review_audit_rate=0.3,
        routing_thin_audit_rate=0.6,
        routing_live_min_audits=5,
        routing_refresh_seconds=0.001,
    )
    try:
        principal = svc.authenticate(tenant.key)
        name = unique("thin")
        svc.create_taxonomy(
            principal,
            {**TINY_TAXONOMY, "name": name, "thresholds": {"auto": 0.0, "review": 0.0}},
        )
        policy = svc.routing(principal, name)
        assert policy["audit_rate"] == 0.3 and policy["effective_audit_rate"] == 0.6
        first, _ = svc.classify(
            principal, name, [ClassifyItem(f"{t} #{i}") for i, t in enumerate(TEXTS * 5)]
        )
        items = svc.review.claim(principal, limit=5, taxonomy=name)
        assert len(items) == 5
        for item in items:  # the model was right: no failure, just evidence
            svc.review.resolve(principal, item["id"], action="confirm")
        policy = svc.routing(principal, name)
        assert policy["live"]["n"] == 5 and policy["effective_audit_rate"] == 0.3
        assert policy["source"] == "manual"  # right audits never move a manual threshold
        second, _ = svc.classify(principal, name, [ClassifyItem("refund my double charge")])
        with svc.db.read() as conn:
            rates = dict(
                conn.execute(
                    select(decisions.c.id, decisions.c.audit_rate).where(
                        decisions.c.id.in_([first[0]["id"], second[0]["id"]])
                    )
                ).all()
            )
        assert rates == {first[0]["id"]: 0.6, second[0]["id"]: 0.3}
    finally:
        svc.close()
