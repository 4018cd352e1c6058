"""CSV bulk uploads through the real app: quoted fields spanning lines keep their line
endings and their record index, malformed CSV (an unterminated quote, a duplicated
column, a record with more fields than the header) refuses the upload with the line where
the record starts, and CSV results neutralise spreadsheet formulas while JSONL results stay
as sent."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, make_stack
from triaged.csv_records import FIELD_LIMIT
from triaged.services.jobs_bulk import decision_id


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'jobs.db'}")
    yield stack
    stack.service.close()


def _tenant(stack: Stack) -> str:
    tenant = stack.tenant()
    svc = stack.service
    svc.create_taxonomy(svc.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"})
    return tenant.key


async def _wait_done(client: Any, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _refused(stack: Stack, body: bytes) -> tuple[Any, list[Any]]:
    key = _tenant(stack)

    async def run() -> tuple[Any, list[Any]]:
        async with stack.client(key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support", content=body, headers={"Content-Type": "text/csv"}
            )
            listed = (await c.get("/v1/jobs")).json()["data"]
            return r, listed

    return asyncio.run(run())


def test_unterminated_quote_refuses_the_upload_with_its_line(stack: Stack) -> None:
    body = b'text,external_id\n"my bill is wrong,t1\nparcel late,t2\ncannot login,t3\n'
    r, listed = _refused(stack, body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error", error
    assert error["details"]["line"] == 2  # where the quote opens, not where the file ends
    assert "line 2" in error["message"] and "quote" in error["message"]
    assert listed == []  # no job created


def test_unterminated_quote_after_multiline_records_names_its_start_line(stack: Stack) -> None:
    body = b'text,external_id\n"one\ntwo",t1\nfine,t2\n"never\nclosed,t3\nmore\n'
    r, listed = _refused(stack, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["line"] == 5
    assert listed == []


def test_duplicate_header_is_refused_naming_the_column(stack: Stack) -> None:
    r, listed = _refused(stack, b"text,external_id,text\nfirst,t1,second\n")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error", error
    assert error["details"]["field"] == "text" and error["details"]["line"] == 1
    assert "'text'" in error["message"] and "duplicate" in error["message"].lower()
    assert listed == []


def test_a_record_with_more_fields_than_the_header_is_refused(stack: Stack) -> None:
    # an unquoted comma cut the text at it and spilled the rest into the next column
    r, listed = _refused(stack, b"text,external_id\nfine,t1\nI was charged, twice,t2\n")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"] == {"line": 3, "reason": "too_many_fields"}, error
    assert "3 fields, the header has 2" in error["message"]
    assert listed == []


def test_a_field_over_the_csv_field_limit_is_a_413_naming_its_line(stack: Stack) -> None:
    """As a text over TRIAGED_MAX_TEXT_CHARS and as example uploads answer it (it was a
    422 "not valid CSV: field larger than field limit")."""
    limit = FIELD_LIMIT  # the service's field limit with TRIAGED_MAX_TEXT_CHARS below it
    body = b'text,external_id\nfine,t1\n"' + b"x" * (limit + 1) + b'",t2\n'
    r, listed = _refused(stack, body)
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "payload_too_large", error
    assert error["details"] == {"line": 3, "reason": "field_too_large", "limit": limit}
    assert f"line 3: a field is longer than {limit} characters" in error["message"]
    assert listed == []


def test_bad_record_spanning_lines_is_named_by_its_first_line(stack: Stack) -> None:
    # lines: 1 header, 2-3 first record, 4 blank (skipped), 5-6 a blank text
    body = b'text,external_id\n"one\ntwo",t1\n\n"  \n  ",t2\nfine,t3\n'
    r, listed = _refused(stack, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["line"] == 5
    assert listed == []


def test_quoted_newlines_are_kept_and_rows_keep_their_index(stack: Stack) -> None:
    key = _tenant(stack)
    texts = [
        "Hello team,\nI was charged twice",
        "a\r\nb",
        "the app crashes\n\nwhenever I press save",
        "refund please",
        "lone\rreturn",
    ]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(["text", "external_id"])
    for i, t in enumerate(texts):
        w.writerow([t, f"t{i}"])
    body = buf.getvalue().encode()
    assert body.count(b"\n") > len(texts) + 1  # records do span several lines

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        async with stack.client(key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support", content=body, headers={"Content-Type": "text/csv"}
            )
            assert r.status_code == 202, r.text
            assert r.json()["total"] == len(texts)
            done = await _wait_done(c, r.json()["id"])
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            rows = [json.loads(x) for x in res.text.splitlines()]
            stored = []
            for i in range(len(texts)):
                d = await c.get(f"/v1/decisions/{decision_id(done['id'], i)}")
                assert d.status_code == 200, d.text
                stored.append(d.json()["text"])
            return done, rows, stored

    done, rows, stored = asyncio.run(run())
    assert done["state"] == "done" and done["done"] == len(texts)
    assert stored == texts  # embedded line endings kept exactly as sent
    assert [r["row"] for r in rows] == list(range(len(texts)))  # record index, not line
    assert [r["external_id"] for r in rows] == [f"t{i}" for i in range(len(texts))]


def test_crlf_upload_with_bom_still_reads(stack: Stack) -> None:
    key = _tenant(stack)
    body = '\ufefftext,external_id\r\n"x\r\ny",t0\r\nplain,t1\r\n'.encode()

    async def run() -> tuple[dict[str, Any], list[str], list[str | None]]:
        async with stack.client(key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support", content=body, headers={"Content-Type": "text/csv"}
            )
            assert r.status_code == 202, r.text
            done = await _wait_done(c, r.json()["id"])
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            ids = [json.loads(x)["external_id"] for x in res.text.splitlines()]
            stored = [
                (await c.get(f"/v1/decisions/{decision_id(done['id'], i)}")).json()["text"]
                for i in range(2)
            ]
            return done, stored, ids

    done, stored, ids = asyncio.run(run())
    assert done["total"] == 2
    assert stored == ["x\r\ny", "plain"]
    assert ids == ["t0", "t1"]


def test_a_quota_plan_reads_the_csv_twice_and_bytes_not_utf8_are_a_422(stack: Stack) -> None:
    """The upload is read as text through a wrapper detached after each pass: on a plan
    with a monthly quota it is counted, rewound and read again to be stored (a wrapper
    left to close the upload broke the second pass); bytes that are not UTF-8 are a 422
    naming the file, whichever pass meets them."""
    tenant = stack.tenant("free")
    svc = stack.service
    svc.create_taxonomy(svc.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"})
    body = b'\xef\xbb\xbftext,external_id\r\n"a\r\nb",t0\r\nplain,t1\r'

    async def run() -> tuple[dict[str, Any], list[str], Any]:
        async with stack.client(tenant.key) as c:
            headers = {"Content-Type": "text/csv"}
            r = await c.post("/v1/jobs?taxonomy=support", content=body, headers=headers)
            assert r.status_code == 202, r.text
            done = await _wait_done(c, r.json()["id"])
            stored = [
                (await c.get(f"/v1/decisions/{decision_id(done['id'], i)}")).json()["text"]
                for i in range(2)
            ]
            bad = await c.post(
                "/v1/jobs?taxonomy=support", content=b"text\nfine\ncaf\xe9\n", headers=headers
            )
            return done, stored, bad

    done, stored, bad = asyncio.run(run())
    assert done["state"] == "done" and done["total"] == 2, done
    assert stored == ["a\r\nb", "plain"]
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"] == {"field": "file"}
    assert "not UTF-8" in bad.json()["error"]["message"]


def test_csv_results_neutralise_formulas_jsonl_results_do_not(stack: Stack) -> None:
    key = _tenant(stack)
    ids = ["=1+1", "+cmd", "-2+3", "@SUM(A1:A2)", "\tx", "\rx", "plain", "a=b"]
    body = "".join(
        json.dumps({"text": f"I was charged twice #{i}", "external_id": e}) + "\n"
        for i, e in enumerate(ids)
    ).encode()

    async def run() -> tuple[list[dict[str, Any]], str]:
        async with stack.client(key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support",
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 202, r.text
            done = await _wait_done(c, r.json()["id"])
            assert done["state"] == "done"
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            csv_text = (await c.get(f"/v1/jobs/{done['id']}/results?format=csv")).text
            return [json.loads(x) for x in res.text.splitlines()], csv_text

    rows, csv_text = asyncio.run(run())
    assert [r["external_id"] for r in rows] == ids  # JSONL: exactly as sent
    parsed = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    assert [p["external_id"] for p in parsed] == [
        "'=1+1",
        "'+cmd",
        "'-2+3",
        "'@SUM(A1:A2)",
        "'\tx",
        "'\rx",
        "plain",
        "a=b",
    ]
    # numbers are left alone: the row index and confidence read back as numbers
    assert [int(p["row"]) for p in parsed] == list(range(len(ids)))
    assert all(0.0 <= float(p["confidence"]) <= 1.0 for p in parsed)
    assert [p["id"] for p in parsed] == [r["id"] for r in rows]


def _pad_to(body: str, boundary: int, tail: str) -> str:
    """``body`` plus filler rows sized so that ``tail``'s first "\r" is the last character
    before ``boundary`` (the upload is read 64 KiB at a time), then ``tail``."""
    while len(body) < boundary - 2000:  # long rows: few to classify (about 260 a boundary)
        body += f"filler {len(body)} {'x' * 480},f\r\n"
    fixed = len(body) + len("pad ,p\r\n") + tail.index("\r") + 1
    return body + "pad " + "x" * (boundary - fixed) + ",p\r\n" + tail


def test_crlf_split_across_read_chunks_is_one_line_ending(stack: Stack) -> None:
    key = _tenant(stack)
    body = _pad_to("text,external_id\r\n", 1 << 16, '"split\r\nquoted",q1\r\n')  # inside quotes
    body = _pad_to(body, 2 << 16, "ends here,q2\r\nnext,q3\r\n")  # a record's end
    raw = body.encode()
    assert raw[(1 << 16) - 1 : (1 << 16) + 1] == b"\r\n"
    assert raw[(2 << 16) - 1 : (2 << 16) + 1] == b"\r\n"
    lines = body.count("\r\n")

    async def run() -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
        async with stack.client(key) as c:
            bad = await c.post(  # a blank text after the boundaries: its line is exact
                "/v1/jobs?taxonomy=support",
                content=raw + b'" ",bad\r\n',
                headers={"Content-Type": "text/csv"},
            )
            assert bad.status_code == 422, bad.text
            assert bad.json()["error"]["details"]["line"] == lines + 1
            r = await c.post(
                "/v1/jobs?taxonomy=support",
                content=raw,
                headers={"Content-Type": "text/csv"},
            )
            assert r.status_code == 202, r.text
            done = await _wait_done(c, r.json()["id"])
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            rows = [json.loads(x) for x in res.text.splitlines()]
            q1 = next(x for x in rows if x["external_id"] == "q1")
            text = (await c.get(f"/v1/decisions/{q1['id']}")).json()["text"]
            return done, text, rows

    done, text, rows = asyncio.run(run())
    assert done["state"] == "done" and done["total"] == lines - 2  # header; q1 spans two
    assert text == "split\r\nquoted"
    assert [r["external_id"] for r in rows[-3:]] == ["p", "q2", "q3"]
    assert [r["row"] for r in rows] == list(range(len(rows)))


def test_a_header_without_the_text_column_is_refused_naming_its_columns(stack: Stack) -> None:
    r, listed = _refused(stack, b"id,body\n1,refund please\n2,card lost\n")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"] == {"line": 1, "field": "text_field", "reason": "missing_column"}
    assert "'text'" in error["message"] and "'body'" in error["message"]
    assert listed == []


def test_a_metadata_column_asked_for_must_be_in_the_header(stack: Stack) -> None:
    key = _tenant(stack)

    async def run() -> Any:
        async with stack.client(key) as c:
            return await c.post(
                "/v1/jobs?taxonomy=support&metadata_fields=team,region",
                content=b"text,team\nrefund please,emea\n",
                headers={"Content-Type": "text/csv"},
            )

    r = asyncio.run(run())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["field"] == "metadata_fields"
    assert "'region'" in r.json()["error"]["message"]


def test_an_id_column_asked_for_must_be_in_the_header(stack: Stack) -> None:
    """id_field=ticketid on a header with ticket_id: refused (every id was dropped in
    silence); the default id column, external_id, stays optional."""
    key = _tenant(stack)

    async def run() -> tuple[Any, Any]:
        async with stack.client(key) as c:
            headers = {"Content-Type": "text/csv"}
            body = b"ticket_id,text\nT1,refund please\n"
            bad = await c.post(
                "/v1/jobs?taxonomy=support&id_field=ticketid", content=body, headers=headers
            )
            fine = await c.post("/v1/jobs?taxonomy=support", content=body, headers=headers)
            return bad, fine

    bad, fine = asyncio.run(run())
    assert bad.status_code == 422, bad.text
    error = bad.json()["error"]
    assert error["details"]["field"] == "id_field"
    assert error["details"]["reason"] == "missing_column"
    assert "'ticketid'" in error["message"] and "'ticket_id'" in error["message"]
    assert fine.status_code == 202, fine.text


def test_a_jsonl_text_that_is_not_a_string_is_refused_with_its_type(stack: Stack) -> None:
    key = _tenant(stack)

    async def run() -> Any:
        async with stack.client(key) as c:
            return await c.post(
                "/v1/jobs?taxonomy=support&format=jsonl",
                content=b'{"text": "fine"}\n{"text": 5}\n',
            )

    r = asyncio.run(run())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"] == {"line": 2, "field": "text"}
    assert "must be a string, not a number" in error["message"]


@pytest.mark.parametrize(("ident", "kind"), [({"a": 1}, "an object"), (True, "a boolean")])
def test_a_jsonl_id_that_is_an_object_or_boolean_is_refused(
    stack: Stack, ident: Any, kind: str
) -> None:
    """A number is an id (as its text, like a CSV cell); an object or a boolean was stored as
    its Python repr ("{'a': 1}", "True") on the decision. Nothing is created."""
    key = _tenant(stack)
    body = json.dumps({"text": "fine", "external_id": 7}) + "\n"
    body += json.dumps({"text": "also fine", "external_id": ident}) + "\n"

    async def run() -> tuple[Any, list[Any]]:
        async with stack.client(key) as c:
            r = await c.post("/v1/jobs?taxonomy=support&format=jsonl", content=body.encode())
            return r, (await c.get("/v1/jobs")).json()["data"]

    r, listed = asyncio.run(run())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["details"] == {"line": 2, "field": "external_id"}
    assert f"must be a string or a number, not {kind}" in error["message"]
    assert listed == []


def test_a_multipart_file_is_read_by_its_own_content_type(stack: Stack) -> None:
    """A part sent as text/csv under a name without a suffix was refused (the form's
    multipart/form-data type was read instead of the part's), and a refusal named the form's
    boundary; it names the file now."""
    key = _tenant(stack)
    body = b"text,external_id\nrefund please,t1\n"

    async def run() -> tuple[Any, Any]:
        async with stack.client(key) as c:
            typed = await c.post(
                "/v1/jobs?taxonomy=support", files={"file": ("tickets", body, "text/csv")}
            )
            unknown = await c.post(
                "/v1/jobs?taxonomy=support", files={"file": ("data.txt", body, "text/plain")}
            )
            return typed, unknown

    typed, unknown = asyncio.run(run())
    assert typed.status_code == 202, typed.text
    assert typed.json()["format"] == "csv" and typed.json()["total"] == 1
    assert unknown.status_code == 415, unknown.text
    message = unknown.json()["error"]["message"]
    assert "'data.txt' (text/plain)" in message and "boundary" not in message


def _post(stack: Stack, body: bytes, fmt: str) -> tuple[Any, list[Any]]:
    key = _tenant(stack)

    async def run() -> tuple[Any, list[Any]]:
        async with stack.client(key) as c:
            r = await c.post(f"/v1/jobs?taxonomy=support&format={fmt}", content=body)
            return r, (await c.get("/v1/jobs")).json()["data"]

    return asyncio.run(run())


@pytest.mark.parametrize("ended", [True, False])
def test_a_jsonl_line_over_the_line_limit_is_a_413_naming_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, ended: bool
) -> None:
    """A line was read whole however long (a file of one endless line filled memory, and
    was searched again for its end at every 64 KiB: quadratic)."""
    monkeypatch.setattr("triaged.services.jobs_bulk.MAX_LINE_CHARS", 4096)
    long = json.dumps({"text": "fine", "notes": "x" * 5000}).encode()
    body = b'{"text": "first"}\n' + long + (b"\n" if ended else b"")
    r, listed = _post(stack, body, "jsonl")
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"line": 2, "reason": "line_too_long", "limit": 4096}
    assert listed == []
    # a line at the limit is read (other fields of a row are the caller's business)
    at_limit = json.dumps({"text": "fine", "notes": "x" * (4096 - 29)}).encode()
    assert len(at_limit) == 4096
    fine, _ = _post(stack, b'{"text": "first"}\n' + at_limit + b"\n", "jsonl")
    assert fine.status_code == 202, fine.text


def test_a_csv_line_over_the_line_limit_is_a_413_naming_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("triaged.services.jobs_bulk.MAX_LINE_CHARS", 4096)
    body = b"text,notes\nfirst,a\nsecond," + b"x" * 5000 + b"\nthird,b\n"
    r, listed = _post(stack, body, "csv")
    assert r.status_code == 413, r.text
    assert r.json()["error"]["details"] == {"line": 3, "reason": "line_too_long", "limit": 4096}
    assert listed == []
