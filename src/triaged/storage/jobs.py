"""Tables of bulk jobs and periodic runs (Alembic revision ``0008_jobs``).

``bulk_jobs``: one row per bulk classification job (``POST /v1/jobs``); its state
moves ``uploading -> queued -> running -> done`` (or ``failed``/``cancelled``), and
``done`` counts the rows whose result is checkpointed.  ``bulk_job_rows``: the
uploaded texts in input order (``seq`` from 0), each with its result once a chunk
that holds it is committed; the decision of row ``seq`` has an id derived from
(job, seq), so a chunk redone after a crash cannot log a decision twice.
``periodic_runs``: the last period each periodic job ran in, claimed by one
process per period however many run.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from triaged.storage.tables import metadata

__all__ = ["bulk_job_rows", "bulk_jobs", "periodic_runs"]

Stamp = DateTime(timezone=True)

bulk_jobs = Table(
    "bulk_jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("taxonomy", String(100), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("state", String(12), nullable=False),
    Column("format", String(8), nullable=False),
    Column("options", JSON, nullable=False),
    Column("log", Boolean, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    # host/boot/pid/start of the process whose run holds the job (services.runner_id)
    Column("runner", String(200), nullable=True),
    Column("error", JSON, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("started_at", Stamp, nullable=True),
    Column("finished_at", Stamp, nullable=True),
    Column("updated_at", Stamp, nullable=False),
    Index("ix_bulk_jobs_workspace_id_id", "workspace_id", "id"),
)

bulk_job_rows = Table(
    "bulk_job_rows",
    metadata,
    Column("job_id", String(40), ForeignKey("bulk_jobs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("result", JSON, nullable=True),
)

periodic_runs = Table(
    "periodic_runs",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("period", BigInteger, nullable=False),
    Column("ran_at", Stamp, nullable=False),
)
