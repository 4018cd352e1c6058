"""Bulk jobs in the SDK: the :class:`Job` and :class:`JobResult` types and their requests.

``Client.submit_job`` uploads a JSONL or CSV file (bytes, text or a path) to
``POST /v1/jobs``; ``job``/``wait_for_job`` read its progress; ``job_results``
streams its results in input order (row by row, with httpx streaming: never the
whole body at once); ``cancel_job`` stops it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triaged.client._http import Call, seg
from triaged.client._ops import Op, page
from triaged.client.pages import Page
from triaged.types import Alternative

__all__ = ["FINAL_STATES", "Job", "JobResult", "cancel_job", "job", "jobs_page", "submit_job"]

FINAL_STATES = frozenset({"done", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class Job:
    """A bulk job: ``state`` is ``queued`` | ``running`` | ``done`` | ``failed`` | ``cancelled``;
    ``rate`` in rows per second, ``eta_seconds`` while it runs.  ``stalled``: a running job
    that has recorded no progress (nor heartbeat) for longer than the server's
    ``TRIAGED_JOB_STALLED_SECONDS``, silent since ``stalled_since`` (its worker died or
    hangs; a live worker retries it, and it is no longer stalled once a run resumes it);
    its ``eta_seconds`` is then None."""

    id: str
    taxonomy: str
    state: str
    format: str
    log: bool
    total: int
    done: int
    rate: float | None
    eta_seconds: float | None
    attempts: int
    options: dict[str, object]
    error: dict[str, object] | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    stalled: bool = False
    stalled_since: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            id=data["id"],
            taxonomy=data["taxonomy"],
            state=data["state"],
            format=data["format"],
            log=bool(data["log"]),
            total=int(data["total"]),
            done=int(data["done"]),
            rate=data.get("rate"),
            eta_seconds=data.get("eta_seconds"),
            attempts=int(data.get("attempts") or 0),
            options=dict(data.get("options") or {}),
            error=data.get("error"),
            created_at=data["created_at"],
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            stalled=bool(data.get("stalled", False)),
            stalled_since=data.get("stalled_since"),
        )


@dataclass(frozen=True, slots=True)
class JobResult:
    """The decision for input row ``row`` of a job (``id``: its decision id)."""

    row: int
    id: str
    label: str
    confidence: float
    bucket: str
    external_id: str | None = None
    model_version: str | None = None
    policy_version: int | None = None
    alternatives: list[Alternative] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(
            row=int(data["row"]),
            id=data["id"],
            label=data["label"],
            confidence=float(data["confidence"]),
            bucket=data["bucket"],
            external_id=data.get("external_id"),
            model_version=data.get("model_version"),
            policy_version=data.get("policy_version"),
            alternatives=[
                Alternative(a["label"], float(a["confidence"]))
                for a in data.get("alternatives") or []
            ],
        )


def upload_bytes(data: bytes | str | Path) -> tuple[bytes, str | None]:
    """The upload's bytes and the format its file name says (``None``: not known)."""
    if isinstance(data, Path):
        suffix = data.suffix.lower()
        fmt = "csv" if suffix == ".csv" else "jsonl" if suffix in (".jsonl", ".ndjson") else None
        return data.read_bytes(), fmt
    if isinstance(data, str) and "\n" not in data.strip() and _names_a_file(data.strip()):
        # a file name passed as text was uploaded as the file's content: one line, "tickets.csv"
        raise ValueError(
            f"data {data.strip()[:200]!r} is a file name, and text is uploaded as it is; pass "
            f"pathlib.Path({data.strip()[:200]!r}) to upload the file"
        )
    return (data.encode("utf-8") if isinstance(data, str) else data), None


def _names_a_file(text: str) -> bool:
    """Whether one line of text reads as a file's name rather than an upload's content."""
    if text.lower().endswith((".csv", ".jsonl", ".ndjson", ".json", ".txt", ".tsv")):
        return not text.startswith(("{", "["))
    try:
        return len(text) < 4096 and Path(text).is_file()
    except OSError:
        return False


def submit_job(
    taxonomy: str,
    data: bytes | str | Path,
    fmt: str | None,
    text_field: str,
    id_field: str | None,
    metadata_fields: Sequence[str] | None,
    log: bool,
) -> Op[Job]:
    content, guessed = upload_bytes(data)
    fmt = fmt or guessed or "jsonl"
    params: dict[str, Any] = {
        "taxonomy": taxonomy,
        "format": fmt,
        "text_field": text_field,
        "log": "true" if log else "false",
    }
    if id_field is not None:
        params["id_field"] = id_field
    if metadata_fields:
        params["metadata_fields"] = ",".join(metadata_fields)
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    call = Call("POST", "/v1/jobs", params=params, headers={"Content-Type": media}, content=content)
    return Op(call, Job.from_dict)


def job(job_id: str) -> Op[Job]:
    return Op(Call("GET", f"/v1/jobs/{seg(job_id)}"), Job.from_dict)


def cancel_job(job_id: str) -> Op[Job]:
    return Op(Call("POST", f"/v1/jobs/{seg(job_id)}/cancel"), Job.from_dict)


def results_call(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{seg(job_id)}/results", params={"format": "jsonl"})


def parse_result(line: str) -> JobResult:
    """One JSONL line of ``GET /v1/jobs/{id}/results``."""
    return JobResult.from_dict(json.loads(line))


def jobs_page(cursor: str | None) -> Op[Page[Job]]:
    return page("/v1/jobs", Job.from_dict, cursor)
