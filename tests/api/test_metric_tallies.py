"""The decision counters and latency histogram of /metrics come from tallies written with
the decisions: online and bulk (``log=true``) decisions are counted once, a bulk job run
with ``log=false`` (nothing logged) is not, and the migration that adds the tallies fills
them from the decisions already logged."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.jobs.test_bulk_api import _url
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_stack
from triaged.metrics import exposition
from triaged.service import ClassifyItem
from triaged.services.jobs_bulk import BulkOptions
from triaged.storage import upgrade
from triaged.storage.migrate import alembic_config
from triaged.storage.tables import decisions


def _exposed(db) -> tuple[Counter, dict[str, float]]:
    families = {f.name: f for f in text_string_to_metric_families(exposition(db).decode())}
    counts = Counter(
        {
            s.labels["bucket"]: int(s.value)
            for s in families["triaged_decisions"].samples
            if s.name == "triaged_decisions_total"
        }
    )
    hist = {
        s.labels.get("le", s.name): s.value
        for s in families["triaged_classify_latency_seconds"].samples
    }
    return counts, hist


def _logged(db) -> Counter:
    with db.read() as conn:
        rows = conn.execute(select(decisions.c.bucket, func.count()).group_by(decisions.c.bucket))
        return Counter({b: int(n) for b, n in rows})


@pytest.mark.parametrize("backend", BACKENDS)
def test_tallies_count_logged_decisions_once(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        svc = stack.service
        try:
            admin = svc.authenticate(stack.tenant().key)
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(120)
            texts = ["I was charged twice", "the app crashes", "change my email", "hmm"]
            svc.classify(admin, "support", [ClassifyItem(t) for t in texts])
            for log in (True, False):
                body = "".join(json.dumps({"text": f"refund ({i})"}) + "\n" for i in range(7))
                svc.submit_job(
                    admin, "support", io.BytesIO(body.encode()), "jsonl", BulkOptions(log=log)
                )
                svc.jobs.wait(120)
            counts, hist = _exposed(svc.db)
            assert counts == _logged(svc.db) and sum(counts.values()) == 4 + 7
            assert hist["+Inf"] == hist["triaged_classify_latency_seconds_count"] == 11
            finite = [v for k, v in hist.items() if k.replace(".", "").isdigit()]
            assert finite == sorted(finite) and finite[-1] <= 11  # cumulative
        finally:
            svc.close()


def test_the_migration_fills_the_tallies_from_the_log(tmp_path: Path) -> None:
    with _url("sqlite", tmp_path) as url:
        stack = make_stack("sqlite", url)
        svc = stack.service
        try:
            admin = svc.authenticate(stack.tenant().key)
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(120)
            svc.classify(admin, "support", [ClassifyItem(t) for t in ("charged twice", "crash")])
            before = _exposed(svc.db)
            svc.db.dispose()
            command.downgrade(alembic_config(url), "0013_usage_daily")
            upgrade(url)
            assert _exposed(svc.db) == before
        finally:
            svc.close()
