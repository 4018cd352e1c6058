"""Bulk jobs: POST /v1/jobs (upload), GET /v1/jobs[/{id}], results, cancel.

The upload is a JSONL or CSV file, sent as the request body
(``application/x-ndjson`` / ``text/csv``) or as the ``file`` field of a
multipart form; either way it is spooled to a temporary file as it arrives and
read row by row from there, never held whole in memory.  The options travel in
the query string.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from triaged.api.deps import PrincipalDep, ServiceDep
from triaged.api.paging import Cursor, Page, page_of
from triaged.errors import UnsupportedMediaType, ValidationFailed
from triaged.service import BULK_FORMATS as FORMATS
from triaged.service import BulkOptions, csv_result_row, result_columns

router = APIRouter(tags=["jobs"])

SPOOL_BYTES = 1 << 20


class JobOut(BaseModel):
    id: str
    taxonomy: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    format: str
    log: bool
    total: int
    done: int
    rate: float | None
    eta_seconds: float | None
    stalled: bool
    stalled_since: str | None
    attempts: int
    options: dict[str, Any]
    error: dict[str, Any] | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class JobList(Page[JobOut]):
    """The workspace's bulk jobs, newest first."""


MAX_LISTED = 10_000  # jobs listed at most (paged in memory)


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "example": '{"text": "I was charged twice", "external_id": "t-1"}\n',
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "text,external_id\nI was charged twice,t-1\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


def _format(given: str | None, content_type: str, filename: str | None) -> str:
    """The upload's format: ``format=``, else its content type (a multipart file's own
    part type), else its file name."""
    if given:
        return given
    name = (filename or "").lower()
    if "csv" in content_type or name.endswith(".csv"):
        return "csv"
    if "ndjson" in content_type or "jsonl" in content_type or name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    # a multipart file is named with its part's type, not the form's boundary
    what = f"the file {filename!r} ({content_type})" if filename is not None else None
    raise UnsupportedMediaType(  # a 422 until 5 December; the README promised a 415
        f"cannot tell the upload's format from {what or repr(content_type or 'no Content-Type')}; "
        "send text/csv or application/x-ndjson, a .csv or .jsonl file, or pass format=jsonl|csv",
        details={
            "content_type": content_type.split(";")[0].strip() or None,
            "allowed": list(FORMATS),
        },
    )


async def _spool(request: Request) -> tuple[IO[bytes], str | None, str]:
    """The upload as a file (spilled to disk past 1 MB), its file name if any and its
    content type (a multipart file's part type: text/csv was not read from the part)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            await form.close()
            raise ValidationFailed("the multipart form needs a 'file' field", details={})
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        while chunk := await upload.read(1 << 16):
            spooled.write(chunk)
        await form.close()
        spooled.seek(0)
        return spooled, upload.filename or "", upload.content_type or ""
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        async for chunk in request.stream():
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled, None, content_type


@router.post("/jobs", status_code=202, response_model=JobOut, openapi_extra=_UPLOAD_DOC)
async def submit_job(
    request: Request,
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: Annotated[str, Query(description="The taxonomy to classify with.")],
    format: Annotated[
        Literal["jsonl", "csv"] | None,
        Query(description="jsonl or csv (default: from the content type or file name)."),
    ] = None,
    text_field: Annotated[str, Query(description="Field (column) holding the text.")] = "text",
    id_field: Annotated[
        str | None,
        Query(
            description="Field (column) holding an external id; named other than "
            "external_id, every row (the CSV header) must have it (null or empty: no id)."
        ),
    ] = "external_id",
    metadata_fields: Annotated[
        str | None, Query(description="Comma-separated fields kept as each row's metadata.")
    ] = None,
    log: Annotated[
        bool, Query(description="Log the decisions and queue them for review (default).")
    ] = True,
) -> Any:
    """Start a bulk job over a JSONL or CSV upload (202; poll GET /v1/jobs/{id})."""
    stream, filename, content_type = await _spool(request)
    try:
        fmt = _format(format, content_type, filename)
        opts = BulkOptions(
            text_field=text_field,
            id_field=None if id_field in (None, "", "null") else id_field,
            metadata_fields=tuple(f.strip() for f in (metadata_fields or "").split(",") if f),
            log=log,
        )
        return await run_in_threadpool(service.submit_job, principal, taxonomy, stream, fmt, opts)
    finally:
        stream.close()


@router.get("/jobs", response_model=JobList)
def list_jobs(
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Jobs per page.")] = 50,
    cursor: Cursor = None,
) -> Any:
    """The workspace's bulk jobs, newest first, a page at a time."""
    jobs = sorted(service.list_jobs(principal, MAX_LISTED), key=lambda j: j["id"], reverse=True)
    return page_of("jobs", jobs, lambda j: str(j["id"]), limit, cursor, descending=True)


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """State, done/total, rate (rows/s) and ETA (seconds) of a job."""
    return service.job(principal, job_id)


def _csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV results, a line at a time; cells guarded against formula injection
    (:func:`~triaged.services.jobs_bulk.csv_cell`)."""
    cols = result_columns()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow(csv_result_row(row))
        yield buf.getvalue()


@router.get(
    "/jobs/{job_id}/results",
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def job_results(
    job_id: str,
    principal: PrincipalDep,
    service: ServiceDep,
    format: Annotated[
        Literal["jsonl", "csv"], Query(description="jsonl (default) or csv.")
    ] = "jsonl",
) -> StreamingResponse:
    """The results checkpointed so far, one per input row, in input order (streamed)."""
    rows = service.job_results(principal, job_id)  # 404 before the stream starts
    if format == "csv":
        return StreamingResponse(_csv_lines(rows), media_type="text/csv")
    lines = (json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Stop a queued or running job after the chunk in flight (rows done stay done)."""
    return service.cancel_job(principal, job_id)
