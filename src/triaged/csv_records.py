"""The one CSV reader of bulk-job uploads, ``triaged batch`` and example uploads: strict
RFC 4180 from physical lines with their endings (``\r\n``, ``\n`` or a bare ``\r``, as
``newline=""`` gives them), so a quoted field keeps its line endings as sent.  Lines count
from 1 with the header; a record is named by the line where it starts.  A byte-order mark
is dropped, a line of only white space skipped, header names stripped; missing trailing
fields read as None.  Malformed CSV raises :class:`CsvRecordError`, which each caller maps
to its own error class.

Field length: each caller says the longest field it reads (``max_field``, characters):
bulk jobs and example uploads at least the service's text limit (TRIAGED_MAX_TEXT_CHARS),
so CSV reads every text JSON does and a longer text is refused by the same rule;
``triaged batch``, whose JSONL takes texts of any length, :data:`BATCH_FIELD_LIMIT`.  A
longer field is ``field_too_large``; the bound keeps a quote left open from reading the
rest of a large file into memory.  The csv module's own limit is process-global
(``csv.field_size_limit``): it is raised, never lowered, to the largest ``max_field`` any
reader asked for (so other CSV code in the process only gets more lenient), and each reader
checks its own ``max_field`` on its records."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BATCH_FIELD_LIMIT",
    "FIELD_LIMIT",
    "CsvRecordError",
    "Record",
    "csv_records",
    "field_limit",
]

Record = dict[str, str | None]

#: The least field limit of any reader: the csv module's default (131,072 characters).
FIELD_LIMIT = 131_072
#: ``triaged batch``'s field limit, 16 Mi characters: whole documents, where JSONL takes any
#: length, while a quote left open stops there (at most ~64 MB of buffer) instead of
#: reading the rest of a file of any size into memory.
BATCH_FIELD_LIMIT = 1 << 24

_LIMIT_LOCK = threading.Lock()


def field_limit(*needed: int) -> int:
    """The field limit that reads each of ``needed`` (e.g. the service's text limit), and
    never less than :data:`FIELD_LIMIT`."""
    return max(FIELD_LIMIT, *needed)


def _raise_module_limit(max_field: int) -> None:
    """``csv.field_size_limit`` at least ``max_field``; never lowered (a lock: two readers
    raising it at once must not leave it at the smaller value)."""
    with _LIMIT_LOCK:
        if csv.field_size_limit() < max_field:
            csv.field_size_limit(max_field)


@dataclass(eq=False)
class CsvRecordError(ValueError):
    """Malformed CSV at ``line`` (where its record starts); ``reason``: duplicate_column
    (``column`` names it), unterminated_quote, invalid_csv (text after a closing quote...),
    too_many_fields or field_too_large (``limit``); ``message`` starts ``line N:``."""

    line: int
    reason: str
    message: str
    column: str | None = None
    limit: int | None = None

    def __str__(self) -> str:
        return self.message

    def details(self, column_key: str = "field") -> dict[str, Any]:
        """``line``, ``reason``, and ``column`` (under ``column_key``) or ``limit``."""
        extra = {column_key: self.column, "limit": self.limit}
        return {"line": self.line, "reason": self.reason} | {
            k: v for k, v in extra.items() if v is not None
        }


def csv_records(
    lines: Iterable[str],
    *,
    fold_case: bool = False,
    check_header: Callable[[list[str], int], None] | None = None,
    max_field: int = FIELD_LIMIT,
) -> Iterator[tuple[int, Record]]:
    """The records after the header, each with the line where it starts;
    ``check_header(names, line)`` sees the header (lowercased with ``fold_case``) first; a
    field longer than ``max_field`` characters is ``field_too_large``."""
    _raise_module_limit(max_field)
    last = [""]  # the physical line the csv reader took last

    def tracked() -> Iterator[str]:
        for n, line in enumerate(lines):
            last[0] = line.removeprefix("\ufeff") if n == 0 else line
            yield last[0]

    reader = csv.reader(tracked(), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _malformed(start, reader.line_num, str(exc), max_field) from None
        if reader.line_num == start and not last[0].strip():
            continue  # a blank line, or one of only white space
        if any(len(f) > max_field for f in fields):  # the module's limit may be higher
            raise _too_large(start, reader.line_num, max_field)
        if header is None:
            header = _header(fields, start, fold_case)
            if check_header is not None:
                check_header(header, start)
        elif len(fields) > len(header):
            why = f"{len(fields)} fields, the header has {len(header)} (a text holding a comma "
            why += "must be in double quotes)"
            raise CsvRecordError(start, "too_many_fields", f"line {start}: {why}")
        else:
            record: Record = dict.fromkeys(header)
            yield start, record | dict(zip(header, fields, strict=False))


def _header(fields: list[str], line: int, fold_case: bool) -> list[str]:
    names = [f.strip().lower() if fold_case else f.strip() for f in fields]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            why = f"the header names column {name!r} twice (duplicate column)"
            raise CsvRecordError(line, "duplicate_column", f"line {line}: {why}", column=name)
        if name:  # unnamed columns are never read: they may repeat
            seen.add(name)
    return names


def _hint(start: int, end: int) -> str:
    return f" (the record runs from line {start} to {end}: is a quote left open?)" * (end > start)


def _too_large(start: int, end: int, limit: int) -> CsvRecordError:
    why = f"a field is longer than {limit} characters, the most a field of this CSV may hold"
    message = f"line {start}: {why}{_hint(start, end)}"
    return CsvRecordError(start, "field_too_large", message, limit=limit)


def _malformed(start: int, end: int, error: str, max_field: int) -> CsvRecordError:
    """The csv module's ``error`` for the record from line ``start`` to ``end``."""
    if error == "unexpected end of data":  # strict: only at the end, inside a quote
        why = "a quote opened in this record is never closed (unterminated quoted field)"
        return CsvRecordError(start, "unterminated_quote", f"line {start}: not valid CSV: {why}")
    if error.startswith("field larger than field limit"):  # the module's limit >= max_field
        return _too_large(start, end, max_field)
    return CsvRecordError(
        start, "invalid_csv", f"line {start}: not valid CSV: {error}{_hint(start, end)}"
    )
