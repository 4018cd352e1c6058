"""The usage page's per-day and per-key figures count what the quota counted: online
requests and bulk job rows alike, also those of a job run with ``log=false`` (no decision
is stored for them: they go to the usage ledger, which the page adds to the decision
log's counts); a database migrated across the ledger's migration reports the same."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command

from tests.jobs.test_bulk_api import _url
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_stack
from triaged.service import ClassifyItem
from triaged.services.jobs_bulk import BulkOptions
from triaged.storage import upgrade
from triaged.storage.migrate import alembic_config


def _today(report: dict) -> int:
    today = datetime.now(UTC).date().isoformat()
    return next(d["requests"] for d in report["per_day"] if d["day"] == today)


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_day_and_per_key_count_what_the_quota_counted(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        svc = stack.service
        try:
            tenant = stack.tenant()
            admin = svc.authenticate(tenant.key)
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(120)
            online = svc.authenticate(stack.key(tenant, "client"))
            texts = ["I was charged twice", "the app crashes", "change my email"]
            svc.classify(online, "support", [ClassifyItem(t) for t in texts])
            body = "".join(json.dumps({"text": f"refund please ({i})"}) + "\n" for i in range(5))
            job = svc.submit_job(
                admin, "support", io.BytesIO(body.encode()), "jsonl", BulkOptions(log=False)
            )
            svc.jobs.wait(120)
            assert svc.job(admin, job["id"])["state"] == "done"
            report = svc.usage_report(admin)
            assert report["used"] == 8
            assert _today(report) == 8 == sum(d["requests"] for d in report["per_day"])
            per_key = {k["key_id"]: k["requests"] for k in report["per_key"]}
            assert per_key == {online.key_id: 3, admin.key_id: 5}
        finally:
            svc.close()


def test_the_report_is_the_same_across_the_ledger_migration(tmp_path: Path) -> None:
    with _url("sqlite", tmp_path) as url:
        stack = make_stack("sqlite", url)
        svc = stack.service
        try:
            tenant = stack.tenant()
            admin = svc.authenticate(tenant.key)
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(120)
            svc.classify(admin, "support", [ClassifyItem("charged twice"), ClassifyItem("crash")])
            svc.db.dispose()
            command.downgrade(alembic_config(url), "0012_model_runner")
            upgrade(url)
            report = svc.usage_report(admin)
            assert _today(report) == 2
            assert [(k["key_id"], k["requests"]) for k in report["per_key"]] == [(admin.key_id, 2)]
        finally:
            svc.close()
