"""A bulk job's accepted rows are reserved against the monthly quota from its submission
until they are classified (or the job fails or is cancelled): online requests that would
eat into them are refused (429 quota_exceeded, saying how much running jobs hold), so a job
that fit at submission runs whole, and each text counts once.  Until 6 December online
/v1/classify calls could use up the quota a queued job needed, and the job failed half
done.  Over real HTTP (uvicorn), on SQLite and PostgreSQL (two services on one database
for the concurrent case: the counts stay exact across processes)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.jobs.test_bulk_api import _jsonl, _url
from tests.servicekit import BACKENDS, TINY_TAXONOMY, live_server, make_settings
from triaged.api import create_app
from triaged.service import Service
from triaged.services import jobs_bulk
from triaged.services.jobs_run import run_bulk_job
from triaged.storage import upgrade

PLANS = {"metered": {"monthly_quota": 200}}  # no per-minute limit: nothing paces the job


@contextmanager
def _services(backend: str, tmp_path: Path, n: int = 1) -> Iterator[tuple[list[Service], str]]:
    """``n`` started services on one fresh database, and a ``metered`` workspace's admin key
    with its ``support`` taxonomy trained."""
    with _url(backend, tmp_path) as url, ExitStack() as stack:
        upgrade(url)
        services = []
        for _ in range(n):
            svc = Service(make_settings(url, migrate_on_start=False).with_overrides(plans=PLANS))
            stack.callback(svc.close)
            services.append(svc)
        key = services[0].create_key("acme", "admin", create_plan="metered").key or ""
        services[0].create_taxonomy(
            services[0].authenticate(key), {**TINY_TAXONOMY, "name": "support"}
        )
        services[0].wait_for_jobs(120)
        yield services, key


def _queued_job(svc: Service, key: str, n: int) -> str:
    """A job of ``n`` rows submitted as ``POST /v1/jobs`` stores it (the quota check in the
    storing transaction), queued: nothing runs it until the test does."""
    principal = svc.authenticate(key)
    plan = svc.workspace_plan(principal.plan)
    from triaged.services import quota

    def fits(conn: Any, rows: int) -> None:
        quota.check_job(conn, principal.workspace_id, plan, rows, quota.window())

    job = jobs_bulk.create(
        svc.db,
        principal,
        "support",
        io.BytesIO(_jsonl(n)),
        "jsonl",
        jobs_bulk.BulkOptions(),
        jobs_bulk.Limits(10_000, 8, 65_536, fits=fits),
        lambda conn, job_id: None,
    )
    return str(job["id"])


def _batch(http: httpx.Client, n: int, tag: str = "") -> httpx.Response:
    texts = [f"I was charged twice {tag}{i}" for i in range(n)]
    return http.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})


def _usage(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/v1/usage")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _usage_page(url: str, key: str) -> str:
    """The web usage page, signed in with ``key``."""
    import re

    with httpx.Client(base_url=url) as web:
        form = web.get("/ui/login").text
        token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert token is not None
        r = web.post("/ui/login", data={"api_key": key, "login_token": token.group(1)})
        assert r.status_code == 303, r.text
        return web.get("/ui/usage").text


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_requests_cannot_use_the_rows_a_queued_job_holds(
    backend: str, tmp_path: Path
) -> None:
    with _services(backend, tmp_path) as ([svc], key):
        app = create_app(service=svc)
        auth = {"Authorization": f"Bearer {key}"}
        with live_server(app) as srv, httpx.Client(base_url=srv.url, headers=auth) as http:
            assert _batch(http, 20).status_code == 200  # 180 left
            job_id = _queued_job(svc, key, 120)
            usage = _usage(http)
            assert (usage["used"], usage["reserved"], usage["remaining"]) == (20, 120, 60)
            r = _batch(http, 61)
            assert r.status_code == 429, r.text
            error = r.json()["error"]
            assert error["code"] == "quota_exceeded" and int(r.headers["Retry-After"]) >= 1
            assert error["details"]["reserved"] == 120 and error["details"]["used"] == 20
            assert "120 reserved by queued and running bulk jobs" in error["message"]
            assert _usage(http)["used"] == 20  # the refused request counted nothing
            ok = _batch(http, 60)
            assert ok.status_code == 200, ok.text
            assert ok.headers["RateLimit-Remaining"] == "0"  # the job's rows are not left
            one = http.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
            assert one.status_code == 429 and one.json()["error"]["details"]["reserved"] == 120
            usage = _usage(http)
            assert (usage["used"], usage["reserved"], usage["remaining"]) == (80, 120, 0)
            page = _usage_page(srv.url, key)
            assert "80 of 200" in page
            assert "120 reserved by queued and running bulk jobs</span>, 0 left" in page
            # the job runs whole; its rows move from reserved to used, each counted once
            assert run_bulk_job(svc, job_id, chunk=50) == "done"
            job = http.get(f"/v1/jobs/{job_id}").json()
            assert job["state"] == "done" and job["done"] == 120
            usage = _usage(http)
            assert (usage["used"], usage["reserved"], usage["remaining"]) == (200, 0, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_first_request_ever_past_a_reservation_is_a_429(backend: str, tmp_path: Path) -> None:
    """No request counted yet (no counter row) and a job holding most of the quota: a batch
    larger than what is left is refused as any other (it was a 500 when the merge of the
    reservation with the forward-only counter expected a counter row)."""
    with _services(backend, tmp_path) as ([svc], key):
        app = create_app(service=svc)
        auth = {"Authorization": f"Bearer {key}"}
        with live_server(app) as srv, httpx.Client(base_url=srv.url, headers=auth) as http:
            _queued_job(svc, key, 190)
            r = _batch(http, 11)
            assert r.status_code == 429, r.text
            details = r.json()["error"]["details"]
            assert (details["used"], details["reserved"], details["requested"]) == (0, 190, 11)
            assert _batch(http, 10).status_code == 200
            assert _usage(http)["used"] == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cancelled_job_releases_the_rows_it_did_not_classify(
    backend: str, tmp_path: Path
) -> None:
    with _services(backend, tmp_path) as ([svc], key):
        auth = {"Authorization": f"Bearer {key}"}
        with (
            live_server(create_app(service=svc)) as srv,
            httpx.Client(base_url=srv.url, headers=auth) as http,
        ):
            job_id = _queued_job(svc, key, 150)
            assert _batch(http, 51).status_code == 429
            assert http.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
            usage = _usage(http)
            assert (usage["used"], usage["reserved"], usage["remaining"]) == (0, 0, 200)
            assert _batch(http, 51).status_code == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_online_requests_racing_a_running_job_through_two_services_stay_exact(
    backend: str, tmp_path: Path
) -> None:
    """A 100-row job runs in chunks of 10 while 30 batches of 10 texts race it through two
    services (two connection pools: two processes, as far as the database can tell) with
    100 requests left beside the job: exactly 10 batches pass, the job runs whole, and the
    month counts 200."""
    with _services(backend, tmp_path, n=2) as (services, key):
        auth = {"Authorization": f"Bearer {key}"}
        job_id = _queued_job(services[0], key, 100)
        with ExitStack() as stack:
            https = [
                stack.enter_context(
                    httpx.Client(
                        base_url=stack.enter_context(live_server(create_app(service=svc))).url,
                        headers=auth,
                        timeout=120,
                    )
                )
                for svc in services
            ]
            with ThreadPoolExecutor(max_workers=9) as pool:
                run = pool.submit(run_bulk_job, services[1], job_id, chunk=10)
                codes = list(
                    pool.map(lambda i: _batch(https[i % 2], 10, f"{i}-").status_code, range(30))
                )
                assert run.result() == "done"
            assert sorted(codes) == [200] * 10 + [429] * 20, codes
            job = https[0].get(f"/v1/jobs/{job_id}").json()
            assert job["state"] == "done" and job["done"] == 100
            usage = _usage(https[1])
            assert (usage["used"], usage["reserved"], usage["remaining"]) == (200, 0, 0)


@pytest.mark.slow
def test_a_job_whose_server_is_killed_holds_its_rows_and_counts_each_once(
    tmp_path: Path,
) -> None:
    """SIGKILL ``triaged serve`` mid-job: the job, still unfinished, keeps holding the rows
    it has yet to classify (used + reserved is the job's size), and the restarted server
    finishes it with each row counted once (the killed chunk was never counted)."""
    import json
    import signal
    import time

    from tests.servicekit import free_port, serve_subprocess

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    plans = {"metered": {"monthly_quota": 2600}}
    svc = Service(make_settings(url, migrate_on_start=False).with_overrides(plans=plans))
    key = svc.create_key("acme", "admin", create_plan="metered").key or ""
    svc.create_taxonomy(svc.authenticate(key), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    n = 2500
    body = "".join(json.dumps({"text": f"I was charged twice ({i})"}) + "\n" for i in range(n))
    port = free_port()
    env = {"TRIAGED_JOB_STALLED_SECONDS": "3600", "TRIAGED_PLANS": json.dumps(plans)}
    log = tmp_path / "serve.log"
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=60) as http:
        with serve_subprocess(url, port, log, env) as proc:
            r = http.post("/v1/jobs?taxonomy=support&format=jsonl", content=body)
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            deadline = time.monotonic() + 120
            while http.get(f"/v1/jobs/{job_id}").json()["done"] < 500:
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        with serve_subprocess(url, port, log, env):
            usage = _usage(http)  # the job may have resumed: done moves both at once
            assert usage["used"] + usage["reserved"] == n and usage["remaining"] == 100
            assert _batch(http, 100).status_code == 200
            refused = http.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
            assert refused.status_code == 429, refused.text
            deadline = time.monotonic() + 180
            while (job := http.get(f"/v1/jobs/{job_id}").json())["state"] != "done":
                assert time.monotonic() < deadline, (job, log.read_text()[-2000:])
                time.sleep(0.1)
            usage = _usage(http)
    assert job["done"] == n and job["attempts"] == 2
    assert (usage["used"], usage["reserved"], usage["remaining"]) == (n + 100, 0, 0)
