"""The rows a classify request writes: its decisions, the review items queued for them and
those items' ``created`` events.

:func:`insert_rows` writes them with one executemany per table (any database).  On
PostgreSQL :mod:`triaged.storage.quota_repo` writes them inside its counting statement
instead, as data-modifying CTEs (:func:`cte`, :func:`cte_params`): a request's write is one
statement where it was up to four (decisions, items, events, the count).  Measured on 6
December (two processes side by side on the 2-core box, the encoder's vectors memoized so
that only Python and the database count): 1.6-1.9 against 2.0-2.5 ms of CPU per classify
call, with the key and taxonomy read in one statement too.  Hand-written because it is the
hot path; the column lists come from the table definitions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, Float, Integer, Table, insert

from triaged.storage.review import review_events, review_items
from triaged.storage.tables import decisions

__all__ = ["LogWrites", "cte", "cte_params", "insert_rows"]


@dataclass(frozen=True, slots=True)
class LogWrites:
    """Rows to write with a request's count (each a mapping of column name to value)."""

    decisions: Sequence[Mapping[str, Any]]
    review_items: Sequence[Mapping[str, Any]] = ()
    review_events: Sequence[Mapping[str, Any]] = ()


# (CTE name, parameter prefix, table, the columns a row carries)
_ITEM_COLUMNS = (
    "id",
    "workspace_id",
    "decision_id",
    "taxonomy_id",
    "taxonomy",
    "queue",
    "status",
    "created_at",
    "updated_at",
)
_EVENT_COLUMNS = ("id", "item_id", "workspace_id", "decision_id", "event", "actor", "details")
_TABLES: tuple[tuple[str, str, Table, tuple[str, ...]], ...] = (
    ("log_d", "d_", decisions, tuple(c.name for c in decisions.c)),
    ("log_r", "r_", review_items, _ITEM_COLUMNS),
    ("log_e", "e_", review_events, (*_EVENT_COLUMNS, "created_at")),
)


def _pg_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, DateTime):
        return "timestamptz"
    if isinstance(kind, Integer):
        return "bigint"
    if isinstance(kind, Float):
        return "float8"
    return "text"


def _insert_sql(name: str, prefix: str, table: Table, columns: Sequence[str], n: int) -> str:
    """One CTE inserting ``n`` rows: one value per column for a single row, else one array
    per column (``unnest``); psycopg adapts a list element by element in Python, which for
    a one-row request cost more than the statements it saves."""
    into = f"INSERT INTO {table.name} ({', '.join(columns)})"
    if n == 1:
        values = ", ".join(f"CAST(:{prefix}{c} AS {_pg_type(table.c[c])})" for c in columns)
        return f"{name} AS ({into} VALUES ({values}))"
    arrays = ", ".join(f"CAST(:{prefix}{c} AS {_pg_type(table.c[c])}[])" for c in columns)
    return f"{name} AS ({into} SELECT * FROM unnest({arrays}))"


def _counts(writes: LogWrites) -> tuple[int, ...]:
    """Rows per table, as the statement's shape sees them: 0, 1 or many (2)."""
    rows = (writes.decisions, writes.review_items, writes.review_events)
    return tuple(min(len(r), 2) for r in rows)


@functools.cache
def _cte(shape: tuple[int, ...]) -> str:
    return ",\n".join(
        _insert_sql(*spec, n) for spec, n in zip(_TABLES, shape, strict=True) if n > 0
    )


def cte(writes: LogWrites) -> str:
    """The CTEs (without ``WITH``) that insert ``writes`` on PostgreSQL; "" when there are
    no rows.  One text per shape (no rows, one, many per table): nine at most."""
    return _cte(_counts(writes))


def cte_params(writes: LogWrites) -> dict[str, Any]:
    """The bind parameters of :func:`cte` (JSON values as text)."""
    params: dict[str, Any] = {}
    for (_, prefix, table, columns), rows in zip(
        _TABLES, (writes.decisions, writes.review_items, writes.review_events), strict=True
    ):
        if not rows:
            continue
        for c in columns:
            dump = isinstance(table.c[c].type, JSON)
            values = [json.dumps(r.get(c)) if dump else r.get(c) for r in rows]
            params[prefix + c] = values[0] if len(rows) == 1 else values
    return params


def insert_rows(conn: Connection, writes: LogWrites) -> None:
    """Write the rows with one executemany per table (any database)."""
    for table, rows in (
        (decisions, writes.decisions),
        (review_items, writes.review_items),
        (review_events, writes.review_events),
    ):
        if rows:
            conn.execute(insert(table), [dict(r) for r in rows])
