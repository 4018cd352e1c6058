"""Bulk jobs submitted together log their rows under ids of their own.

A job's decision ids were ``dec_`` + the job id's leading 20 digits + the row.  Ids made by
one process in one millisecond differ only in their low digits, so two jobs submitted in
the same millisecond (two clients at once) shared those digits: the second job's rows
collided with the first one's decisions (IntegrityError), and the job was taken over and
failed again and again, "running" for ever with no results.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.test_bulk_api import _url, _wait_done
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_stack
from triaged.services.ids import new_id
from triaged.services.jobs_bulk import decision_id


def test_jobs_made_in_one_millisecond_get_distinct_decision_ids() -> None:
    jobs = [new_id("job") for _ in range(2000)]  # many share a millisecond
    assert len({j[4:16] for j in jobs}) < len(jobs)
    firsts = [decision_id(j, 0) for j in jobs]
    assert len(set(firsts)) == len(jobs)
    for j in jobs[:5]:  # still one job's rows in order, in the job's millisecond
        ids = [decision_id(j, i) for i in range(3)]
        assert ids == sorted(ids) and all(i[4:16] == j[4:16] for i in ids)
        assert len(ids[0]) == len(new_id("dec"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jobs_submitted_together_all_finish(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        tenant = stack.tenant()
        svc = stack.service
        svc.create_taxonomy(svc.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"})
        body = "".join(json.dumps({"text": f"refund please #{i}"}) + "\n" for i in range(3))

        async def run() -> list[dict[str, Any]]:
            async with stack.client(tenant.key) as c:
                answers = await asyncio.gather(
                    *(
                        c.post(
                            "/v1/jobs?taxonomy=support",
                            content=body.encode(),
                            headers={"Content-Type": "application/x-ndjson"},
                        )
                        for _ in range(8)
                    )
                )
                assert [r.status_code for r in answers] == [202] * 8
                done = [await _wait_done(c, r.json()["id"]) for r in answers]
                for job in done:
                    res = await c.get(f"/v1/jobs/{job['id']}/results")
                    job["ids"] = [json.loads(line)["id"] for line in res.text.splitlines()]
                return done

        try:
            done = asyncio.run(run())
        finally:
            svc.close()
        assert [j["state"] for j in done] == ["done"] * 8
        ids = [i for j in done for i in j["ids"]]
        assert len(ids) == 24 and len(set(ids)) == 24
