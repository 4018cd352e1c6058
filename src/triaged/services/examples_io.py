"""Parse uploaded examples: JSON (a list or ``{"examples": [...]}``), JSONL, or CSV.

Every row is ``{text, label}``; errors raise :class:`DatasetError` naming the
line (JSONL/CSV) or index (JSON).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

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


def _example(obj: Any, where: str) -> Example:
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
    return Example(text, label.strip())


def parse_examples(data: bytes, fmt: str) -> list[Example]:
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
        return [_example(item, f"examples[{i}]") for i, item in enumerate(obj)]
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
            out.append(_example(item, f"line {lineno}"))
        return out
    if fmt == "csv":
        return _csv_examples(text)
    raise DatasetError(f"unknown examples format {fmt!r}; use one of {list(FORMATS)}")


def _csv_examples(text: str) -> list[Example]:
    """CSV examples, read as strictly as a bulk job's CSV: a column named twice in the
    header, a record with more fields than the header (a comma in an unquoted text), or
    text after a closing quote refuse the upload with the record's line (each was read
    silently until 5 December: the last column kept, the extra fields dropped)."""
    # universal newlines: a bare \r (old Mac files) ends a line like \n and \r\n do
    reader = csv.reader(io.StringIO(text, newline=None), strict=True)
    out: list[Example] = []
    header: list[str] | None = None
    try:
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header = [f.strip().lower() for f in row]
                _check_csv_header(header, line)
                continue
            if len(row) > len(header):
                raise DatasetError(
                    f"line {line}: {len(row)} fields, the header has {len(header)} (a text "
                    "holding a comma must be in double quotes)",
                    details={"line": line},
                )
            out.append(_example(dict(zip(header, row, strict=False)), f"line {line}"))
    except csv.Error as exc:
        line = reader.line_num
        if "field larger than field limit" in str(exc):  # was a 400 "invalid CSV"
            limit = csv.field_size_limit()
            raise PayloadTooLarge(
                f"line {line}: a field is longer than {limit} characters",
                details={"line": line, "limit": limit},
            ) from None
        raise DatasetError(f"line {line}: invalid CSV: {exc}", details={"line": line}) from None
    if header is None:
        raise DatasetError("CSV examples need a header row with 'text' and 'label' columns")
    return out


def _check_csv_header(header: list[str], line: int) -> None:
    if "text" not in header or "label" not in header:
        raise DatasetError("CSV examples need a header row with 'text' and 'label' columns")
    named = [h for h in header if h]
    twice = sorted({h for h in named if named.count(h) > 1})
    if twice:
        raise DatasetError(
            f"line {line}: the header names {twice[0]!r} twice",
            details={"line": line, "column": twice[0]},
        )
