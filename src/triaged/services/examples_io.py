"""Parse uploaded examples: JSON (a list or ``{"examples": [...]}``), JSONL, or CSV.

Every row is ``{text, label}``; errors raise :class:`DatasetError` naming the
line (JSONL/CSV) or index (JSON).
"""

from __future__ import annotations

import io
import json
from typing import Any

from triaged.csv_records import CsvRecordError, csv_records, field_limit
from triaged.errors import DatasetError, PayloadTooLarge
from triaged.inputs import check_text, is_blank, load_json
from triaged.taxonomy import Example

__all__ = ["detect_format", "parse_examples"]

FORMATS = ("json", "jsonl", "csv")


def detect_format(content_type: str | None, filename: str | None = None) -> str | None:
    name = (filename or "").lower()
    for fmt, ends in (("jsonl", (".jsonl", ".ndjson")), ("json", (".json",)), ("csv", (".csv",))):
        if name.endswith(ends):
            return fmt
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in {
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/ndjson",
    }:
        return "jsonl"
    if ct in {"text/csv", "application/csv"}:
        return "csv"
    if ct == "application/json" or ct.endswith("+json"):
        return "json"
    return None


def _example(obj: Any, where: str, limit: int = 0) -> Example:
    """One ``{text, label}`` row, named ``where`` in errors; a text over ``limit`` characters
    (0: none) is a 413 naming it where it is in the upload, not where it lands in the taxonomy."""
    if not isinstance(obj, dict):
        raise DatasetError(
            f"{where}: expected an object with 'text' and 'label'", details={"at": where}
        )
    text, label = obj.get("text"), obj.get("label")
    if not isinstance(text, str) or is_blank(text):  # invisible-only counts as empty
        raise DatasetError(f"{where}: 'text' must be a non-empty string", details={"at": where})
    if not isinstance(label, str) or not label.strip():
        raise DatasetError(f"{where}: 'label' must be a non-empty string", details={"at": where})
    # named by where it is in the upload (it was "labels[0].examples[16]" of the taxonomy)
    check_text(text, f"{where}: text")
    check_text(label, f"{where}: label")
    if limit and len(text) > limit:
        raise PayloadTooLarge(
            f"{where}: the example has {len(text)} characters; the limit is {limit} "
            "(TRIAGED_MAX_TEXT_CHARS)",
            details={"field": where, "limit": limit, "got": len(text)},
        )
    return Example(text, label.strip())


def parse_examples(data: bytes, fmt: str, *, max_text_chars: int = 0) -> list[Example]:
    """The examples of an upload; a CSV field may hold ``max_text_chars`` (the service's
    TRIAGED_MAX_TEXT_CHARS: a longer example is refused later, as in JSON), and at least
    :data:`~triaged.csv_records.FIELD_LIMIT`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("examples must be UTF-8 text") from None
    if fmt == "json":
        try:
            obj = load_json(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"line {exc.lineno}: invalid JSON: {exc.msg}", details={"line": exc.lineno}
            ) from None
        if isinstance(obj, dict):
            obj = obj.get("examples")
        if not isinstance(obj, list):
            raise DatasetError('JSON examples must be a list or {"examples": [...]}')
        return [_example(item, f"examples[{i}]", max_text_chars) for i, item in enumerate(obj)]
    if fmt == "jsonl":
        out = []
        # JSON Lines end at "\n" alone: str.splitlines would also cut at U+2028, \x0c or
        # \x85, which JSON strings may hold raw (a trailing "\r" is JSON whitespace)
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                item = load_json(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"line {lineno}: invalid JSON: {exc.msg}", details={"line": lineno}
                ) from None
            out.append(_example(item, f"line {lineno}", max_text_chars))
        return out
    if fmt == "csv":
        return _csv_examples(text, max_text_chars)
    raise DatasetError(f"unknown examples format {fmt!r}; use one of {list(FORMATS)}")


NO_HEADER = "CSV examples need a header row with 'text' and 'label' columns"


def _csv_examples(text: str, max_text_chars: int) -> list[Example]:
    """CSV examples, read as a bulk job's CSV but with case-insensitive column names;
    malformed CSV is a 400 (413 for a field over the CSV limit) naming its record's line."""
    header: list[str] = []

    def check_header(names: list[str], line: int) -> None:
        if "text" not in names or "label" not in names:
            raise DatasetError(NO_HEADER, details={"line": line})
        header.extend(names)

    # newline="": lines end at \r\n, \n or a bare \r (old Mac files), kept in quoted fields
    lines = io.StringIO(text, newline="")
    try:
        records = csv_records(
            lines, fold_case=True, check_header=check_header, max_field=field_limit(max_text_chars)
        )
        out = [_example(record, f"line {n}", max_text_chars) for n, record in records]
    except CsvRecordError as exc:
        error = PayloadTooLarge if exc.reason == "field_too_large" else DatasetError
        raise error(exc.message, details=exc.details("column")) from None
    if not header:
        raise DatasetError(NO_HEADER)
    return out
