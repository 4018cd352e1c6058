"""The SDK's job methods (sync and async) against a real uvicorn server; results stream."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, live_server, make_stack
from triaged.client import AsyncClient, Client, Job, JobResult
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
            assert isinstance(job, Job) and job.total == 2 and job.format == "csv"
            done = client.wait_for_job(job.id, timeout=120, poll=0.1)
            assert done.state == "done" and done.done == 2 and done.finished
            results = list(client.job_results(job.id))
            assert [(r.row, r.external_id) for r in results] == [(0, "a"), (1, "b")]
            assert results[0].label == "billing" and 0 < results[0].confidence <= 1
            # the JSONL rows have no OpenAPI schema: JobResult mirrors what the server sends
            raw = httpx.get(
                f"{server.url}/v1/jobs/{job.id}/results",
                headers={"Authorization": f"Bearer {tenant.key}"},
                timeout=60,
            )
            fields = {f.name for f in dataclasses.fields(JobResult)}
            for line, parsed in zip(raw.text.splitlines(), results, strict=True):
                row = json.loads(line)
                assert set(row) == fields, set(row) ^ fields
                assert JobResult.from_dict(row) == parsed
            with pytest.raises(NotFound):
                client.job("job_missing")
            with pytest.raises(NotFound):  # raised when iterated: before any row
                next(client.job_results("job_missing"))

            async def run() -> tuple[str, int]:
                async with AsyncClient(server.url, tenant.key) as aio:
                    j = await aio.submit_job("support", b'{"text": "reset my password"}\n')
                    j = await aio.wait_for_job(j.id, timeout=120, poll=0.1)
                    got = [r async for r in aio.job_results(j.id)]
                    with pytest.raises(NotFound):
                        await anext(aio.job_results("job_missing"))
                    return got[0].label, len(got)

            assert asyncio.run(run()) == ("account", 1)
    finally:
        svc.close()


ROW = {
    "row": 0,
    "id": "dec_0",
    "label": "billing",
    "confidence": 0.9,
    "bucket": "auto",
    "external_id": None,
    "model_version": "v1",
    "policy_version": 1,
    "alternatives": [],
}


@dataclasses.dataclass
class Held:
    """A results endpoint that sends ``first`` rows, then holds the rest back until released."""

    first: int
    rest: int
    release: threading.Event = dataclasses.field(default_factory=threading.Event)
    released_late: bool = False
    url: str = ""


@contextmanager
def held_results(held: Held) -> Iterator[Held]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(held.first + held.rest):
                if i == held.first:  # the body is not over: the client must already have rows
                    held.released_late = held.release.wait(20)
                line = (json.dumps({**ROW, "row": i, "id": f"dec_{i}"}) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    held.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield held
    finally:
        held.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_job_results_yield_rows_before_the_body_has_ended() -> None:
    """The server holds back all but 3 rows until the client has read those 3: a client that
    read the whole body first would wait 20 s and see the rows only afterwards."""
    with held_results(Held(first=3, rest=500)) as held, Client(held.url, "k") as client:
        rows = client.job_results("job_1")
        seen = [next(rows) for _ in range(3)]
        assert not held.release.is_set()
        held.release.set()
        seen += list(rows)
    assert held.released_late  # released by the client's reads, not by the 20 s timeout
    assert [r.row for r in seen] == list(range(503))
    assert all(isinstance(r, JobResult) and r.id == f"dec_{r.row}" for r in seen)

    async def run(held: Held) -> list[int]:
        async with AsyncClient(held.url, "k") as aio:
            rows = aio.job_results("job_1")
            got = [(await anext(rows)).row for _ in range(3)]
            assert not held.release.is_set()
            held.release.set()
            return got + [r.row async for r in rows]

    with held_results(Held(first=3, rest=500)) as held:
        assert asyncio.run(run(held)) == list(range(503))
    assert held.released_late
