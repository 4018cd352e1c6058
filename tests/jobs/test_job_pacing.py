"""One workspace's paced bulk job does not hold up another's (embedded mode, SQLite).

The plan's per-minute limit paces a job: it waits for the next minute.  In `triaged serve`
the waiting run sat in the one job thread, so every other workspace's bulk job stayed
``queued`` (then ``running`` at 0 rows) until it finished: a one-row job took almost three
minutes in a new-user pass.  Bulk runs now have threads of their own, and a wait reads the
job's state every second, so cancelling the paced job ends its wait at once."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

from tests.servicekit import TINY_TAXONOMY
from triaged.service import Service
from triaged.services.jobs_bulk import BulkOptions
from triaged.settings import Settings

PLANS = {"paced": {"monthly_quota": 100000, "per_minute": 40}}


def _body(n: int, tag: str) -> io.BytesIO:
    rows = "".join(
        json.dumps({"text": f"my card was charged twice ({tag} {i})"}) + "\n" for i in range(n)
    )
    return io.BytesIO(rows.encode())


def _paced_first_chunk(svc: Service, who: Any) -> dict[str, Any]:
    """A 90-row job of ``who`` (plan "paced") submitted early in a minute, once its first
    chunk (32 rows, the jobs' share of 40) is done and it waits for the next minute."""
    while time.time() % 60 > 40:
        time.sleep(0.5)
    job = svc.submit_job(who, "support", _body(90, "slow"), "jsonl", BulkOptions())
    deadline = time.monotonic() + 60
    while svc.job(who, job["id"])["done"] < 32:
        assert time.monotonic() < deadline, svc.job(who, job["id"])
        time.sleep(0.1)
    return job


def test_a_paced_job_holds_up_no_other_workspace_and_a_cancel_ends_its_wait(
    tmp_path: Path,
) -> None:
    svc = Service(Settings(data_dir=tmp_path, bootstrap_admin=False, plans=PLANS))
    svc.start()
    try:
        slow = svc.authenticate(svc.create_key("slow", "admin", create_plan="paced").key or "")
        fast = svc.authenticate(svc.create_key("fast", "admin", create_plan="unlimited").key or "")
        for who in (slow, fast):
            svc.create_taxonomy(who, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(600)  # trained
        # 40 rows a minute, of which jobs take 32 (quota.for_jobs), 90 rows: a chunk of 32
        # now, then a wait for the next minute.
        # Submitted early in a minute, so that the wait is long.
        paced = _paced_first_chunk(svc, slow)
        started = time.monotonic()
        quick = svc.submit_job(fast, "support", _body(1, "fast"), "jsonl", BulkOptions())
        while (view := svc.job(fast, quick["id"]))["state"] != "done":
            assert time.monotonic() - started < 15, view  # not the rest of the minute
            time.sleep(0.05)
        assert svc.job(slow, paced["id"])["done"] == 32  # still waiting for its minute
        assert time.time() % 60 < 55  # the test ran inside that minute: the wait was real
        svc.cancel_job(slow, paced["id"])
        stop = time.monotonic()
        svc.jobs.wait(30)  # the paced run ends within a second or so, not at the minute
        assert time.monotonic() - stop < 5
        assert svc.job(slow, paced["id"])["state"] == "cancelled"
    finally:
        svc.close()


def test_the_eta_of_a_paced_job_counts_the_minutes_it_must_wait() -> None:
    """A rate measured over a run that waited between minutes said 22 s for 200 rows at 100
    a minute (the job ended a minute later): the ETA is at least the minute boundaries the
    plan's pace needs."""
    from triaged.services.progress_rate import paced_eta_seconds

    assert paced_eta_seconds(200, 100, 10.0, 21.7) == 50.0  # one boundary, 50 s away
    assert paced_eta_seconds(488, 300, 3.0, 44.9) == 57.0
    assert paced_eta_seconds(350, 100, 30.0, 10.0) == 30.0 + 2 * 60  # three boundaries
    assert paced_eta_seconds(50, 100, 10.0, 21.7) == 21.7  # fits this minute
    assert paced_eta_seconds(500, None, 10.0, 21.7) == 21.7  # no pace
    assert paced_eta_seconds(500, 100, 10.0, None) is None  # no rate yet
    assert paced_eta_seconds(200, 100, 10.0, 400.0) == 400.0  # slower than the pace anyway


def test_a_paced_job_leaves_live_requests_a_share_of_each_minute(tmp_path: Path) -> None:
    """A job took the whole per-minute budget as each minute began, and the workspace's
    live classify calls got 429 for the rest of it: jobs now use at most 80% of it."""
    from triaged.services.facade.classify import ClassifyItem

    svc = Service(Settings(data_dir=tmp_path, bootstrap_admin=False, plans=PLANS))
    svc.start()
    try:
        who = svc.authenticate(svc.create_key("slow", "admin", create_plan="paced").key or "")
        svc.create_taxonomy(who, {**TINY_TAXONOMY, "name": "support"})
        svc.jobs.wait(600)
        job = _paced_first_chunk(svc, who)
        # the job waits for the next minute; 8 live requests still fit in this one
        for i in range(8):
            item = ClassifyItem(text=f"my card was charged twice (live {i})")
            [out], _ = svc.classify(who, "support", [item])
            assert out["label"], out
        assert svc.job(who, job["id"])["done"] == 32
        svc.cancel_job(who, job["id"])
    finally:
        svc.close()
