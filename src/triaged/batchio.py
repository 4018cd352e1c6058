"""Files for ``triaged batch``: read texts from JSONL, CSV or Parquet, write results as
Parquet or JSONL, both streaming in chunks so memory stays bounded for any file size.

Parquet needs ``pyarrow`` (the ``triaged[ray]`` extra); JSONL and CSV need nothing extra.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from triaged.classifier import Result
from triaged.csv_records import BATCH_FIELD_LIMIT, CsvRecordError, csv_records
from triaged.errors import InvalidInput
from triaged.inputs import bad_character, is_blank, load_json
from triaged.taxonomy import not_utf8

__all__ = [
    "OUTPUT_COLUMNS",
    "Chunk",
    "ResultWriter",
    "count_rows",
    "input_format",
    "output_format",
    "read_chunks",
    "result_row",
]

INPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
OUTPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
OUTPUT_COLUMNS = [
    "row",
    "id",
    "label",
    "confidence",
    "bucket",
    "alternatives",
    "model_version",
]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive input rows: their 0-based position of the first, texts and ids."""

    start: int
    texts: list[str]
    ids: list[str | None]


def input_format(path: Path) -> str:
    fmt = INPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{path}: unknown input format (use {', '.join(sorted(INPUT_FORMATS))})",
            details={"path": str(path)},
        )
    return fmt


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{path}: unknown output format (use {', '.join(sorted(OUTPUT_FORMATS))})",
            details={"path": str(path)},
        )
    return fmt


#: an input record and where it is: the line it starts on (JSONL, CSV) or its row (Parquet)
Located = tuple[int, dict[str, Any]]


def _records(path: Path, fmt: str, chunk: int) -> Iterator[list[Located]]:
    """Input records in lists of at most ``chunk``, each with the line where it starts
    (JSONL, CSV; counted from 1 with a CSV's header) or its row (Parquet, counted from 1);
    a missing input or one that is not UTF-8 text is an :class:`InvalidInput` naming it."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", details={"path": str(path)})
    if path.is_dir():
        raise InvalidInput(f"{path}: a folder, not a file", details={"path": str(path)})
    if fmt == "parquet":
        yield from _parquet_records(path, chunk)
        return
    try:
        yield from _text_records(path, fmt, chunk)
    except UnicodeDecodeError:
        raise not_utf8(path, InvalidInput) from None


def _parquet_file(path: Path) -> Any:
    """``pq.ParquetFile(path)``; a file that is not Parquet (a renamed CSV, a truncated
    download) is an :class:`InvalidInput` naming it, not pyarrow's ArrowInvalid traceback."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise InvalidInput(
            f"{path}: not a Parquet file ({str(exc).splitlines()[0]})",
            details={"path": str(path)},
        ) from None


def _parquet_records(path: Path, chunk: int) -> Iterator[list[Located]]:
    row = 1
    with _parquet_file(path) as pf:
        for batch in pf.iter_batches(batch_size=chunk):
            records = batch.to_pylist()
            yield list(enumerate(records, row))
            row += len(records)


def _text_records(path: Path, fmt: str, chunk: int) -> Iterator[list[Located]]:
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first field
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = _json_lines(fh, path) if fmt == "jsonl" else _csv_rows(fh, path)
        buf: list[Located] = []
        for rec in rows:
            buf.append(rec)
            if len(buf) >= chunk:
                yield buf
                buf = []
        if buf:
            yield buf


def _csv_rows(fh: IO[str], path: Path) -> Iterator[Located]:
    """CSV records with the line where each starts, read as a bulk-job upload's are; an
    error names the file and the line, as a row's does ("FILE line N: ...").  A field may
    hold :data:`BATCH_FIELD_LIMIT` characters (it was the csv module's 131,072, and a long
    document in CSV was refused where JSONL took it)."""
    try:
        yield from csv_records(fh, max_field=BATCH_FIELD_LIMIT)
    except CsvRecordError as exc:
        raise InvalidInput(f"{path} {exc.message}", details=exc.details()) from None


def _json_lines(fh: IO[str], path: Path) -> Iterator[Located]:
    for n, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            rec = load_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{path} line {n}: not JSON ({exc.msg})", details={"line": n}
            ) from None
        if not isinstance(rec, dict):
            raise InvalidInput(f"{path} line {n}: not a JSON object", details={"line": n})
        yield n, rec


def read_chunks(
    path: Path, *, text_field: str = "text", id_field: str | None = None, chunk: int = 1024
) -> Iterator[Chunk]:
    """The input's texts (and ids) in order, ``chunk`` rows at a time; a missing, empty or
    mistyped text, or a record without ``id_field`` or with an id that is not a string or a
    number, is an error naming the file and the record's line (Parquet: its row)."""
    fmt = input_format(path)
    unit = "row" if fmt == "parquet" else "line"
    start = 0
    for records in _records(path, fmt, chunk):
        texts: list[str] = []
        ids: list[str | None] = []
        for n, rec in records:
            where = f"{path} {unit} {n}"
            texts.append(_text_of(rec, text_field, where, n))
            ids.append(_id_of(rec, id_field, where, n) if id_field else None)
        yield Chunk(start, texts, ids)
        start += len(records)


def _json_type(value: Any) -> str:
    """What ``value`` is, in JSON's words where it has them (a Parquet binary, timestamp or
    date column was "a string", and the error read "must be a string, not a string")."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
    names |= {bytes: "binary data", datetime.datetime: "a timestamp", datetime.date: "a date"}
    return names.get(type(value), f"a {type(value).__name__}")


def _text_of(rec: dict[str, Any], field: str, where: str, n: int) -> str:
    """The record's text, refused as ``POST /v1/jobs`` refuses it."""
    text = rec.get(field)
    details = {"line": n, "field": field}
    if text is None:
        raise InvalidInput(
            f"{where} has no text in field {field!r} (its fields: {_shown(rec)})",
            details=details,
        )
    if not isinstance(text, str):
        raise InvalidInput(
            f"{where}: field {field!r} must be a string, not {_json_type(text)}",
            details=details,
        )
    if is_blank(text):
        raise InvalidInput(f"{where}: the text in field {field!r} is empty", details=details)
    _check_chars(text, field, where, details)
    return text


def _check_chars(value: str, field: str, where: str, details: dict[str, Any]) -> None:
    """Refuse a NUL or a lone surrogate, as jobs do (a surrogate was a traceback: the
    tokenizer's on a text, the output writer's on an id)."""
    bad = bad_character(value)
    if bad is not None:
        raise InvalidInput(f"{where}: field {field!r} contains {bad}", details=details)


def _id_of(rec: dict[str, Any], field: str, where: str, n: int) -> str | None:
    """The record's id, by the bulk-job rules: a string, or a number as its JSON text;
    null or an empty cell is no id; a boolean, object or array is refused (``str()`` made
    ``True`` or ``{'x': 1}`` an id)."""
    if field not in rec:
        raise InvalidInput(
            f"{where} has no field {field!r} (--id-field; give it null for no id; its "
            f"fields: {_shown(rec)})",
            details={"line": n, "field": field},
        )
    ident = rec[field]
    if ident is None or ident == "" or _is_nan(ident):  # NaN: pandas' missing number
        return None
    infinite = isinstance(ident, float) and math.isinf(ident)  # the id was "inf"
    if infinite or isinstance(ident, bool | dict | list | bytes):  # bytes: it was "b'a1'"
        kind = "infinity" if infinite else _json_type(ident)
        raise InvalidInput(
            f"{where}: field {field!r} must be a string or a number, not {kind}",
            details={"line": n, "field": field},
        )
    if isinstance(ident, str):
        _check_chars(ident, field, where, {"line": n, "field": field})
        return ident
    return str(ident)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _shown(rec: dict[str, Any]) -> str:
    fields = [str(k)[:60] for k in rec if rec.get(k) not in (None, "")]
    return (", ".join(fields[:10]) + (", ..." if len(fields) > 10 else "")) or "none"


def count_rows(path: Path) -> int | None:
    """Rows in the input (for a progress total): Parquet metadata, or a scan of the lines of
    JSONL; None for CSV (a quoted field may span lines)."""
    fmt = input_format(path)
    if fmt == "parquet":
        with _parquet_file(path) as pf:
            return int(pf.metadata.num_rows)
    if fmt == "jsonl":
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None


def result_row(row: int, ident: str | None, res: Result) -> dict[str, Any]:
    """One output row; ``alternatives`` is the JSON text of an array of ``{label,
    confidence}`` (a Parquet string column; JSON Lines output writes the array itself)."""
    return {
        "row": row,
        "id": ident,
        "label": res.label,
        "confidence": res.confidence,
        "bucket": res.bucket.value,
        "alternatives": json.dumps(
            [{"label": a.label, "confidence": a.confidence} for a in res.alternatives]
        ),
        "model_version": res.model_version,
    }


class ResultWriter:
    """Appends result rows to a Parquet (one row group per write) or JSONL file.

    Rows go to a hidden partial file next to ``path``, renamed onto ``path`` when the
    writer closes after a run that finished: a run that fails (bad row, interrupt) leaves
    no half-written output, and an earlier output at ``path`` stays as it was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = output_format(path)
        self.rows = 0
        self._fh: IO[str] | None = None
        self._pq: Any = None
        self._schema: Any = None
        self.partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        if self.format == "jsonl":
            self._fh = self.partial.open("w", encoding="utf-8")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema(
                [
                    ("row", pa.int64()),
                    ("id", pa.string()),
                    ("label", pa.string()),
                    ("confidence", pa.float64()),
                    ("bucket", pa.string()),
                    ("alternatives", pa.string()),
                    ("model_version", pa.string()),
                ]
            )
            self._pq = pq.ParquetWriter(str(self.partial), self._schema)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._fh is not None:  # JSONL: alternatives as a JSON array (as job results)
            self._fh.write("".join(json.dumps(_jsonl(r), ensure_ascii=False) + "\n" for r in rows))
        else:
            import pyarrow as pa

            cols = {c: [r[c] for r in rows] for c in OUTPUT_COLUMNS}
            self._pq.write_table(pa.table(cols, schema=self._schema))
        self.rows += len(rows)

    def close(self, *, keep: bool = True) -> None:
        """Finish the file: onto ``path`` with ``keep``, else the partial file is removed."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if not self.partial.exists():
            return
        if keep:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(keep=exc_type is None)


def _jsonl(row: dict[str, Any]) -> dict[str, Any]:
    """A result row for JSON Lines: ``alternatives`` a real array, not the JSON text
    Parquet stores (it was a string in JSONL too until 5 December)."""
    alts = row.get("alternatives")
    return {**row, "alternatives": json.loads(alts)} if isinstance(alts, str) else row


def read_results(path: Path) -> list[dict[str, Any]]:
    """All rows of a results file (tests, small files)."""
    if output_format(path) == "jsonl":
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows
