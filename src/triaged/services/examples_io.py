"""Parse uploaded examples: JSON (a list or ``{"examples": [...]}``), JSONL, or CSV.

Every row is ``{text, label}``; errors raise :class:`DatasetError` naming the
line (JSONL/CSV) or index (JSON).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from triaged.errors import DatasetError
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
    if not isinstance(text, str) or not text.strip():
        raise DatasetError(f"{where}: 'text' must be a non-empty string", details={"at": where})
    if not isinstance(label, str) or not label.strip():
        raise DatasetError(f"{where}: 'label' must be a non-empty string", details={"at": where})
    return Example(text, label.strip())


def parse_examples(data: bytes, fmt: str) -> list[Example]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError("examples must be UTF-8 text") from None
    if fmt == "json":
        try:
            obj = json.loads(text)
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
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"line {lineno}: invalid JSON: {exc.msg}", details={"line": lineno}
                ) from None
            out.append(_example(item, f"line {lineno}"))
        return out
    if fmt == "csv":
        # universal newlines: a bare \r (old Mac files) ends a line like \n and \r\n do
        reader = csv.DictReader(io.StringIO(text, newline=None))
        try:
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "text" not in fields or "label" not in fields:
                raise DatasetError("CSV examples need a header row with 'text' and 'label' columns")
            reader.fieldnames = fields
            return [_example(row, f"line {reader.line_num}") for row in reader]
        except csv.Error as exc:
            raise DatasetError(
                f"line {reader.line_num}: invalid CSV: {exc}", details={"line": reader.line_num}
            ) from None
    raise DatasetError(f"unknown examples format {fmt!r}; use one of {list(FORMATS)}")
