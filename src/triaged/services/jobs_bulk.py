"""Bulk classification jobs: upload, status, results in input order, cancel.

``POST /v1/jobs`` streams a JSONL or CSV upload into ``bulk_job_rows`` (in
transactions of :data:`INSERT_CHUNK` rows: memory stays bounded for any file
size), then marks the job ``queued`` and enqueues it (on PostgreSQL in the same
transaction).  :mod:`triaged.services.jobs_run` classifies it in checkpointed
chunks.  A row that cannot be classified (no text, a text over the limit, a bad
external id or metadata) refuses the whole upload with its line number, and the
job is deleted: no partial jobs.  On a plan with a monthly quota the upload is
counted first and refused (429) before a row is stored when it has more rows than
the quota has left (:func:`triaged.services.quota.check_job`).

CSV is read by :mod:`triaged.csv_records`: a quoted field may span lines and keeps its
line endings exactly as sent (``\r\n`` stays ``\r\n``).  Malformed CSV (a quote never
closed, text after a closing quote, a column named twice in the header) is refused like
a bad row.  Line numbers are physical lines, counted from 1 with the header, and name
the line where a record starts; a row's ``seq`` (its ``row`` in the results, the key a
resumed job restarts from) is its record index, whatever the number of lines it spans.
CSV results are guarded against formula injection (:func:`csv_cell`); JSONL results are
not changed.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection

from triaged import inputs
from triaged.csv_records import CsvRecordError, csv_records, field_limit
from triaged.errors import Conflict, NotFittedError, NotFound, PayloadTooLarge, ValidationFailed
from triaged.services import taxonomies as taxo
from triaged.services.ids import as_utc, new_id, utcnow
from triaged.services.keys import Principal, Role
from triaged.services.progress_rate import eta_seconds, paced_eta_seconds, rate_per_second
from triaged.storage import job_repo
from triaged.storage.db import Database

__all__ = [
    "FORMATS",
    "BulkOptions",
    "Limits",
    "cancel",
    "create",
    "csv_cell",
    "csv_result_row",
    "decision_id",
    "get",
    "iter_results",
    "public",
    "result_columns",
]

FORMATS = ("jsonl", "csv")
INSERT_CHUNK = 1000
RESULTS_PAGE = 1000
SUBMIT_ROLES = (Role.ADMIN, Role.CLIENT)
READ_ROLES = (Role.ADMIN, Role.REVIEWER, Role.CLIENT)
FINAL_STATES = ("done", "failed", "cancelled")
NOT_UTF8 = "the upload is not UTF-8 text"


@dataclass(frozen=True, slots=True)
class BulkOptions:
    """How to read the upload: which field holds the text, the external id and metadata."""

    text_field: str = "text"
    id_field: str | None = "external_id"
    metadata_fields: tuple[str, ...] = ()  # collected into the metadata object
    metadata_field: str | None = "metadata"  # JSONL: a field that holds an object
    log: bool = True  # log decisions (and queue them for review) like online ones

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "metadata_fields": list(self.metadata_fields)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BulkOptions:
        return cls(
            text_field=data.get("text_field", "text"),
            id_field=data.get("id_field"),
            metadata_fields=tuple(data.get("metadata_fields") or ()),
            metadata_field=data.get("metadata_field"),
            log=bool(data.get("log", True)),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int
    max_metadata_depth: int
    max_metadata_bytes: int
    max_rows: int = 10_000_000
    extra: dict[str, Any] = field(default_factory=dict)
    # called with the write transaction that stores the job and the upload's row count,
    # before any row is stored (the monthly quota)
    fits: Callable[[Connection, int], None] | None = None


def decision_id(job_id: str, seq: int) -> str:
    """The decision id of row ``seq`` of a job: the same every time the row is classified
    (so a chunk redone after a crash cannot log it twice); sorts by job, then row.

    The job's millisecond, 32 bits hashed from its whole id, the row.  Ids made by one
    process in one millisecond differ only in their low digits (a monotonic step), so the
    job id's leading 20 digits, used until 6 December, were the same for two jobs submitted
    together: the second logged its rows under the first one's ids and failed at every run."""
    body = job_id.split("_", 1)[1]
    tag = hashlib.blake2b(body.encode(), digest_size=4).hexdigest()
    return f"dec_{body[:12]}{tag}{seq:012x}"


# ------------------------------------------------------------------ parsing
def _decoded(stream: IO[bytes]) -> Iterator[str]:
    """The upload as text, 64 KiB at a time (a UTF-8 BOM dropped)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    while True:
        chunk = stream.read(1 << 16)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise ValidationFailed(NOT_UTF8, details={"field": "file"}) from exc
        if text:
            yield text
        if not chunk:
            return


#: The longest physical line an upload may have, in characters: far above any row the
#: service takes (a text of ``max_text_chars`` escaped, its metadata, other fields), and a
#: bound on what one line holds in memory.
MAX_LINE_CHARS = 1 << 24


def _line_too_long(line: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"line {line} is longer than {MAX_LINE_CHARS:,} characters",
        details={"line": line, "reason": "line_too_long", "limit": MAX_LINE_CHARS},
    )


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """JSONL lines: split on ``\n``, without it; a line over :data:`MAX_LINE_CHARS` is
    refused (413) as soon as it passes the limit.  Only the new text of each chunk is
    searched for line ends (a long line was searched again at every chunk: quadratic)."""
    pending: list[str] = []
    size, line = 0, 1
    for text in _decoded(stream):
        start = 0
        while (end := text.find("\n", start)) >= 0:
            if size + end - start > MAX_LINE_CHARS:
                raise _line_too_long(line)
            yield "".join(pending) + text[start:end]
            pending, size, line, start = [], 0, line + 1, end + 1
        pending.append(text[start:])
        size += len(text) - start
        if size > MAX_LINE_CHARS:
            raise _line_too_long(line)
    if size:
        yield "".join(pending)


def _bounded_lines(text: IO[str]) -> Iterator[str]:
    """CSV's physical lines (ends kept), each at most :data:`MAX_LINE_CHARS` (413 past it:
    a line without an end was read whole into memory before the csv module saw it)."""
    line = 1
    while chunk := text.readline(MAX_LINE_CHARS + 1):
        if len(chunk) > MAX_LINE_CHARS:
            raise _line_too_long(line)
        yield chunk
        line += 1


def _jsonl_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, line in enumerate(_text_lines(stream), start=1):
        if not line.strip():
            continue
        try:
            value = inputs.load_json(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(
                f"line {n} is not JSON: {exc.msg}", details={"line": n}
            ) from None
        if not isinstance(value, dict):
            raise ValidationFailed(f"line {n} is not a JSON object", details={"line": n})
        yield n, value


def _csv_records(
    stream: IO[bytes], opts: BulkOptions, limits: Limits
) -> Iterator[tuple[int, dict[str, Any]]]:
    """CSV records with the line where each starts; malformed CSV refuses the upload (422,
    413 for a field over the CSV limit) with that line and ``details.reason``.  A field may
    hold what a row may (a text of ``max_text_chars``, metadata of ``max_metadata_bytes``),
    so a text JSONL takes is read, and a longer one refused as JSONL refuses it."""
    # newline="": lines end at \r\n, \n or a bare \r, kept (the csv module keeps them in a
    # quoted field and counts them); detached when done, so the upload stays open for a
    # second pass (unless a refused row left this suspended until the upload was closed)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from csv_records(
            _bounded_lines(text),
            check_header=lambda names, n: _check_header(names, n, opts),
            max_field=field_limit(limits.max_text_chars, limits.max_metadata_bytes),
        )
    except CsvRecordError as exc:
        error = PayloadTooLarge if exc.reason == "field_too_large" else ValidationFailed
        raise error(exc.message, details=exc.details()) from None
    except UnicodeDecodeError:
        raise ValidationFailed(NOT_UTF8, details={"field": "file"}) from None
    finally:
        if not stream.closed:
            text.detach()


def _check_header(names: list[str], line: int, opts: BulkOptions) -> None:
    """The text column (and the metadata columns asked for) present, so a file with
    another header is refused for what it is, not as "line 2 has no text"."""
    # the text column, columns named for metadata, and an id column named other than its
    # default (external_id need not be there; a misspelt id_field dropped every id silently)
    wanted = [("text_field", opts.text_field)] + [
        ("metadata_fields", f) for f in opts.metadata_fields
    ]
    if opts.id_field and opts.id_field != "external_id":
        wanted.append(("id_field", opts.id_field))
    for param, column in wanted:
        if column not in names:
            shown = ", ".join(repr(n[:60]) for n in names[:20]) + (
                ", ..." if len(names) > 20 else ""
            )
            raise ValidationFailed(
                f"line {line}: the header has no column {column!r} (it has {shown}); "
                f"name the column with {param}",
                details={"line": line, "field": param, "reason": "missing_column"},
            )


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
    return names.get(type(value), "an object" if isinstance(value, dict) else "a string")


def _row(
    n: int, record: dict[str, Any], opts: BulkOptions, limits: Limits, *, objects: bool = True
) -> dict[str, Any]:
    """One row of the upload; ``objects``: the format holds JSON objects (JSONL), so the
    metadata field must be one (a CSV cell is text: only ``metadata_fields`` apply)."""
    where = f"line {n}"
    text = record.get(opts.text_field)
    if text is not None and not isinstance(text, str):
        raise ValidationFailed(
            f"{where}: field {opts.text_field!r} must be a string, not {_json_type(text)}",
            details={"line": n, "field": opts.text_field},
        )
    if text is None or inputs.is_blank(text):
        raise ValidationFailed(
            f"{where} has no text in field {opts.text_field!r}",
            details={"line": n, "field": opts.text_field},
        )
    if len(text) > limits.max_text_chars:
        raise PayloadTooLarge(
            f"{where}: the text has {len(text)} characters; the limit is {limits.max_text_chars}",
            details={"line": n, "limit": limits.max_text_chars, "got": len(text)},
        )
    inputs.check_text(text, where)
    if objects and opts.id_field and opts.id_field != "external_id" and opts.id_field not in record:
        # a JSONL row has no header to check: a misspelt id_field dropped every id silently
        raise ValidationFailed(
            f"{where} has no field {opts.id_field!r} (id_field); give it null for no id",
            details={"line": n, "field": "id_field", "reason": "missing_field"},
        )
    external_id = record.get(opts.id_field) if opts.id_field else None
    if external_id == "" or (isinstance(external_id, float) and math.isnan(external_id)):
        external_id = None  # NaN: a missing number, as `triaged batch` reads it (was "nan")
    infinite = isinstance(external_id, float) and math.isinf(external_id)  # was "inf"
    if infinite or isinstance(external_id, bool | dict | list):  # str() made "True" an id
        kind = "infinity" if infinite else _json_type(external_id)
        raise ValidationFailed(
            f"{where}: field {opts.id_field!r} must be a string or a number, not {kind}",
            details={"line": n, "field": opts.id_field},
        )
    if external_id is not None and not isinstance(external_id, str):
        external_id = str(external_id)
    inputs.check_external_id(external_id, f"{where}: {opts.id_field}")
    meta: dict[str, Any] | None = None
    given = record.get(opts.metadata_field) if opts.metadata_field else None
    if isinstance(given, dict):
        meta = dict(given)
    elif given is not None and objects:  # dropped silently until 5 December
        raise ValidationFailed(
            f"{where}: {opts.metadata_field!r} must be a JSON object, not {type(given).__name__}",
            details={"line": n, "field": opts.metadata_field},
        )
    for name in opts.metadata_fields:
        if name in record:
            meta = {**(meta or {}), name: record[name]}
    inputs.check_metadata(
        meta,
        f"{where}: metadata",
        max_depth=limits.max_metadata_depth,
        max_bytes=limits.max_metadata_bytes,
    )
    return {"text": text, "external_id": external_id, "metadata": meta}


def parse(
    stream: IO[bytes], fmt: str, opts: BulkOptions, limits: Limits
) -> Iterator[dict[str, Any]]:
    """The upload's rows one at a time (never the whole file in memory)."""
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(FORMATS)}, not {fmt!r}",
            details={"field": "format", "allowed": list(FORMATS)},
        )
    records = _jsonl_records(stream) if fmt == "jsonl" else _csv_records(stream, opts, limits)
    for count, (n, record) in enumerate(records, start=1):
        if count > limits.max_rows:
            raise PayloadTooLarge(
                f"a job holds at most {limits.max_rows} rows",
                details={"limit": limits.max_rows},
            )
        yield _row(n, record, opts, limits, objects=fmt == "jsonl")


# ------------------------------------------------------------------ create
def create(
    db: Database,
    principal: Principal,
    taxonomy: str,
    stream: IO[bytes],
    fmt: str,
    opts: BulkOptions,
    limits: Limits,
    enqueue: Any,
) -> dict[str, Any]:
    """Store the upload as a new job and enqueue it; ``enqueue(conn, job_id)`` is called in
    the transaction that marks the job ``queued`` (and returns a callable to run after it).
    With ``limits.fits`` the upload is read twice: counted first, stored only if it fits."""
    principal.require(*SUBMIT_ROLES)
    with db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy)
    if record.archived_at is not None:
        raise Conflict(f"taxonomy {taxonomy!r} is archived", details={"taxonomy": taxonomy})
    if record.active_model_id is None:
        raise NotFittedError(
            f"taxonomy {taxonomy!r} has no trained model yet", details={"taxonomy": taxonomy}
        )
    counted = 0
    if limits.fits is not None:  # count the rows (and check them) before storing any
        counted = sum(1 for _ in parse(stream, fmt, opts, limits))
        stream.seek(0)
    job_id = new_id("job")
    now = utcnow()
    with db.write() as conn:
        if limits.fits is not None:  # the job holds its rows' quota from this commit on
            limits.fits(conn, counted)
        job_repo.insert_job(
            conn,
            {
                "id": job_id,
                "workspace_id": principal.workspace_id,
                "taxonomy_id": record.id,
                "taxonomy": record.name,
                "key_id": principal.key_id,
                "state": "uploading",
                "format": fmt,
                "options": opts.to_dict(),
                "log": opts.log,
                "total": counted,
                "done": 0,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
    try:
        total = _store_rows(db, job_id, parse(stream, fmt, opts, limits))
        if total == 0:
            raise ValidationFailed("the upload holds no rows", details={"field": "file"})
        with db.write() as conn:
            job_repo.mark_queued(conn, job_id, total, utcnow())
            after = enqueue(conn, job_id)
    except BaseException:
        with db.write() as conn:
            job_repo.delete_job(conn, job_id)
        raise
    if after is not None:
        after()
    return get(db, principal, job_id)


def _store_rows(db: Database, job_id: str, rows: Iterator[dict[str, Any]]) -> int:
    seq = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({"job_id": job_id, "seq": seq, **row})
        seq += 1
        if len(batch) >= INSERT_CHUNK:
            with db.write() as conn:
                job_repo.insert_rows(conn, batch)
            batch = []
    if batch:
        with db.write() as conn:
            job_repo.insert_rows(conn, batch)
    return seq


# ------------------------------------------------------------------ read
def _load(conn: Connection, principal: Principal, job_id: str) -> Any:
    row = job_repo.visible_job(conn, principal.workspace_id, job_id)
    if row is None:
        raise NotFound(f"no job {job_id!r}", details={"job_id": job_id})
    return row


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def public(
    row: Any,
    now: datetime | None = None,
    stalled_after: float | None = None,
    per_minute: int | None = None,
) -> dict[str, Any]:
    """The API shape of a job: state, done/total, rate (rows/s) and ETA (seconds).

    ``stalled``: a running job whose run has recorded neither progress nor a heartbeat for
    more than ``stalled_after`` seconds (``TRIAGED_JOB_STALLED_SECONDS``: its worker or
    process died or hangs, and a live one retries it at that age).  Its rate is then the
    rate up to its last sign of life (``stalled_since``) and its ETA null: both kept
    counting the silent time, so the job said "running" with an ETA that crept forward."""
    now = now or utcnow()
    stalled = (
        row.state == "running"
        and stalled_after is not None
        and (as_utc(now) - as_utc(row.updated_at)).total_seconds() > stalled_after
    )
    rate: float | None = None
    eta: float | None = None
    if row.started_at is not None and row.done:
        live = row.state == "running" and not stalled
        end = row.finished_at or (now if live else row.updated_at)
        so_far = rate_per_second(row.done, (as_utc(end) - as_utc(row.started_at)).total_seconds())
        rate = round(so_far, 2) if so_far is not None else None
    if row.state in ("queued", "running") and not stalled:
        left, second = row.total - row.done, as_utc(now).second + as_utc(now).microsecond / 1e6
        eta = paced_eta_seconds(left, per_minute, second, eta_seconds(row.done, row.total, rate))
    return {
        "id": row.id,
        "taxonomy": row.taxonomy,
        "state": row.state,
        "format": row.format,
        "log": row.log,
        "total": row.total,
        "done": row.done,
        "rate": rate,
        "eta_seconds": eta,
        "stalled": stalled,
        "stalled_since": _iso(row.updated_at) if stalled else None,
        "attempts": row.attempts,
        "options": row.options,
        "error": row.error,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
    }


def get(
    db: Database,
    principal: Principal,
    job_id: str,
    stalled_after: float | None = None,
    per_minute: int | None = None,
) -> dict[str, Any]:
    """A job's view; ``per_minute``: the workspace plan's limit, which paces its ETA."""
    principal.require(*READ_ROLES)
    with db.read() as conn:
        row = _load(conn, principal, job_id)
    return public(row, stalled_after=stalled_after, per_minute=per_minute)


def list_jobs(
    db: Database,
    principal: Principal,
    limit: int = 50,
    stalled_after: float | None = None,
    per_minute: int | None = None,
) -> list[dict[str, Any]]:
    principal.require(*READ_ROLES)
    with db.read() as conn:
        rows = job_repo.job_page(conn, principal.workspace_id, limit)
    now = utcnow()
    return [public(r, now, stalled_after, per_minute) for r in rows]


def result_columns() -> list[str]:
    return ["row", "external_id", "id", "label", "confidence", "bucket", "model_version"]


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A result value as a CSV cell, guarded against CSV (formula) injection (OWASP): a
    string starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading single quote, so a spreadsheet shows it as text instead of running it
    (``=1+1`` is written ``'=1+1``).  Numbers are left alone; None is an empty cell.
    Only CSV results are guarded: JSONL results hold the values exactly as sent."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_result_row(result: dict[str, Any]) -> list[Any]:
    """One result as the cells of a CSV results row (columns of :func:`result_columns`,
    each through :func:`csv_cell`)."""
    return [csv_cell(result.get(c)) for c in result_columns()]


def iter_results(db: Database, principal: Principal, job_id: str) -> Iterator[dict[str, Any]]:
    """The results checkpointed so far, in input order, read in pages (bounded memory);
    an unknown job raises here, before the first result is read."""
    principal.require(*READ_ROLES)
    with db.read() as conn:
        _load(conn, principal, job_id)
    return _pages(db, job_id)


def _pages(db: Database, job_id: str) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        with db.read() as conn:
            rows = job_repo.result_page(conn, job_id, after, RESULTS_PAGE)
        for r in rows:
            yield r.result if isinstance(r.result, dict) else json.loads(r.result)
        if len(rows) < RESULTS_PAGE:
            return
        after = rows[-1].seq


def cancel(db: Database, principal: Principal, job_id: str) -> dict[str, Any]:
    """Stop a queued or running job after the chunk in flight (rows done stay done)."""
    principal.require(*SUBMIT_ROLES)
    with db.write() as conn:
        row = _load(conn, principal, job_id)
        if row.state in FINAL_STATES:
            if row.state == "cancelled":
                return public(row)
            raise Conflict(
                f"job {job_id} is {row.state}; only a queued or running job can be cancelled",
                details={"job_id": job_id, "state": row.state},
            )
        now = utcnow()
        job_repo.cancel_job(conn, job_id, now)
        return public(_load(conn, principal, job_id))
