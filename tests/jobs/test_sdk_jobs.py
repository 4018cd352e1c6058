"""The SDK's job methods (sync and async) against a real uvicorn server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.servicekit import TINY_TAXONOMY, live_server, make_stack
from triaged.client import AsyncClient, Client
from triaged.errors import NotFound


def test_submit_wait_results_cancel_sync_and_async(tmp_path: Path) -> None:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'sdk.db'}")
    tenant = stack.tenant()
    svc = stack.service
    svc.create_taxonomy(svc.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"})
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("id,body\na,I was charged twice\nb,the app crashes on start\n")
    try:
        with live_server(stack.app) as server, Client(server.url, tenant.key) as client:
            job = client.submit_job("support", csv_file, text_field="body", id_field="id")
            assert job.total == 2 and job.format == "csv"
            done = client.wait_for_job(job.id, timeout=120, poll=0.1)
            assert done.state == "done" and done.done == 2 and done.finished
            results = client.job_results(job.id)
            assert [(r.row, r.external_id) for r in results] == [(0, "a"), (1, "b")]
            assert results[0].label == "billing" and 0 < results[0].confidence <= 1
            with pytest.raises(NotFound):
                client.job("job_missing")

            async def run() -> tuple[str, int]:
                async with AsyncClient(server.url, tenant.key) as aio:
                    j = await aio.submit_job("support", b'{"text": "reset my password"}\n')
                    j = await aio.wait_for_job(j.id, timeout=120, poll=0.1)
                    got = await aio.job_results(j.id)
                    return got[0].label, len(got)

            assert asyncio.run(run()) == ("account", 1)
    finally:
        svc.close()
