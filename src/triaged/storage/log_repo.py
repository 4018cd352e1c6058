"""The rows a classify request writes: its decisions, the review items queued for them and
those items' ``created`` events.

:func:`insert_rows` writes them with one executemany per table (any database).  On
PostgreSQL :mod:`triaged.storage.quota_repo` writes them inside its counting statement
instead, as data-modifying CTEs (:func:`cte`, :func:`cte_params`): a request's write is one
statement where it was up to four (decisions, items, events, the count).  Measured on 6
December (two processes side by side on the 2-core box, the encoder's vectors memoized so
that only Python and the database count): 1.4-1.6 against 1.8-2.3 ms of CPU per classify
call, with the key and taxonomy read in one statement too.  Hand-written because it is the
hot path; the column lists come from the table definitions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert

from triaged.storage.review import review_events, review_items
from triaged.storage.tables import decisions

__all__ = ["LogWrites", "cte", "cte_params", "insert_rows"]


@dataclass(frozen=True, slots=True)
class LogWrites:
    """Rows to write with a request's count (each a mapping of column name to value)."""

    decisions: Sequence[Mapping[str, Any]]
    review_items: Sequence[Mapping[str, Any]] = ()
    review_events: Sequence[Mapping[str, Any]] = ()


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
_EVENT_COLUMNS = (
    "id",
    "item_id",
    "workspace_id",
    "decision_id",
    "event",
    "actor",
    "details",
    "created_at",
)
# (CTE name, parameter prefix, table, the columns a row carries), in LogWrites' order
_TABLES: tuple[tuple[str, str, Table, tuple[str, ...]], ...] = (
    ("log_d", "d_", decisions, tuple(c.name for c in decisions.c)),
    ("log_r", "r_", review_items, _ITEM_COLUMNS),
    ("log_e", "e_", review_events, _EVENT_COLUMNS),
)


def _insert_sql(name: str, prefix: str, table: Table, columns: Sequence[str]) -> str:
    """One CTE inserting the rows of one JSON array (``json_populate_recordset`` over the
    table's row type): one bind parameter per table.  One per column (39 in all) took the
    statement past psycopg's 50-parameter cache of parsed queries, and psycopg adapts a
    list element by element in Python: both cost more than the statements saved.  A JSON
    column's null stays JSON ``null``, as SQLAlchemy stores a None."""
    picked = ", ".join(
        f"COALESCE({c}, 'null'::json)" if isinstance(table.c[c].type, JSON) else c for c in columns
    )
    rows = f"json_populate_recordset(NULL::{table.name}, CAST(:{prefix}rows AS json))"
    return (
        f"{name} AS (INSERT INTO {table.name} ({', '.join(columns)}) SELECT {picked} FROM {rows})"
    )


@functools.cache
def _cte(shape: tuple[bool, ...]) -> str:
    return ",\n".join(_insert_sql(*spec) for spec, some in zip(_TABLES, shape, strict=True) if some)


def _tables(writes: LogWrites) -> tuple[Sequence[Mapping[str, Any]], ...]:
    return (writes.decisions, writes.review_items, writes.review_events)


def cte(writes: LogWrites) -> str:
    """The CTEs (without ``WITH``) that insert ``writes`` on PostgreSQL ("" when there are
    no rows): one per table with rows."""
    return _cte(tuple(bool(rows) for rows in _tables(writes)))


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into the decision log")


def cte_params(writes: LogWrites) -> dict[str, str]:
    """The bind parameters of :func:`cte`: each table's rows as one JSON array (its own
    columns only; timestamps in ISO 8601, floats in their shortest exact form)."""
    params: dict[str, str] = {}
    for (_, prefix, _, columns), rows in zip(_TABLES, _tables(writes), strict=True):
        if rows:
            picked = [{c: r.get(c) for c in columns} for r in rows]
            # raw UTF-8, not \\u escapes: PostgreSQL decodes an escape of a non-ASCII
            # character into a text column only in a UTF8 database
            params[prefix + "rows"] = json.dumps(picked, default=_plain, ensure_ascii=False)
    return params


def insert_rows(conn: Connection, writes: LogWrites) -> None:
    """Write the rows with one executemany per table (any database)."""
    for (_, _, table, _), rows in zip(_TABLES, _tables(writes), strict=True):
        if rows:
            conn.execute(insert(table), [dict(r) for r in rows])
