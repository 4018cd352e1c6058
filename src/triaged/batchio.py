"""Files for ``triaged batch``: read texts from JSONL, CSV or Parquet, write results as
Parquet or JSONL, both streaming in chunks so memory stays bounded for any file size.

Parquet needs ``pyarrow`` (the ``triaged[ray]`` extra); JSONL and CSV need nothing extra.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from triaged.classifier import Result
from triaged.errors import InvalidInput
from triaged.inputs import load_json
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


def _records(path: Path, fmt: str, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """Input records in lists of at most ``chunk``; a missing input or one that is not
    UTF-8 text is an :class:`InvalidInput` that names the file."""
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


def _parquet_records(path: Path, chunk: int) -> Iterator[list[dict[str, Any]]]:
    with _parquet_file(path) as pf:
        for batch in pf.iter_batches(batch_size=chunk):
            yield batch.to_pylist()


def _text_records(path: Path, fmt: str, chunk: int) -> Iterator[list[dict[str, Any]]]:
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first field
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows: Iterator[dict[str, Any]] = _json_lines(fh) if fmt == "jsonl" else _csv_rows(fh)
        buf: list[dict[str, Any]] = []
        for rec in rows:
            buf.append(rec)
            if len(buf) >= chunk:
                yield buf
                buf = []
        if buf:
            yield buf


def _csv_rows(fh: IO[str]) -> Iterator[dict[str, Any]]:
    """Records of an RFC 4180 CSV file, read as the bulk-job upload reads them: a column
    named twice, an unterminated quote or a record with more fields than the header is an
    error naming its line, not a silent merge or cut."""
    reader = csv.DictReader(fh, strict=True)
    try:
        header = reader.fieldnames or []
        twice = sorted({name for name in header if name and header.count(name) > 1})
        if twice:
            raise InvalidInput(
                f"line 1: the header names column {twice[0]!r} twice",
                details={"line": 1, "field": twice[0]},
            )
        for rec in reader:
            if None in rec:  # DictReader's restkey: more fields than the header
                line = reader.line_num
                raise InvalidInput(
                    f"line {line}: {len(header) + len(rec[None])} fields, the header has "
                    f"{len(header)} (a text holding a comma must be in double quotes)",
                    details={"line": line},
                )
            yield rec
    except csv.Error as exc:
        raise InvalidInput(
            f"line {reader.line_num}: not valid CSV ({exc}; is a quote left open?)",
            details={"line": reader.line_num},
        ) from None


def _json_lines(fh: IO[str]) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            rec = load_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {n}: not JSON ({exc.msg})", details={"line": n}) from None
        if not isinstance(rec, dict):
            raise InvalidInput(f"line {n}: not a JSON object", details={"line": n})
        yield rec


def read_chunks(
    path: Path, *, text_field: str = "text", id_field: str | None = None, chunk: int = 1024
) -> Iterator[Chunk]:
    """The input's texts (and ids) in order, ``chunk`` rows at a time; an empty or missing
    text, or a record without ``id_field``, is an error that names its row."""
    fmt = input_format(path)
    start = 0
    for records in _records(path, fmt, chunk):
        texts: list[str] = []
        ids: list[str | None] = []
        for i, rec in enumerate(records):
            text = rec.get(text_field)
            if not isinstance(text, str) or not text.strip():
                row = start + i
                what = (
                    "no text"
                    if text is None
                    else "an empty text"
                    if isinstance(text, str)
                    else f"a value of type {type(text).__name__}, not a text,"
                )
                raise InvalidInput(
                    f"row {row} (counted from 0): {what} in field {text_field!r} "
                    f"(its fields: {_shown(rec)})",
                    details={"row": row, "field": text_field},
                )
            texts.append(text)
            if id_field and id_field not in rec:
                row = start + i
                raise InvalidInput(
                    f"row {row} (counted from 0): no id field {id_field!r} "
                    f"(its fields: {_shown(rec)})",
                    details={"row": row, "field": id_field},
                )
            ident = rec.get(id_field) if id_field else None
            ids.append(None if ident is None else str(ident))
        yield Chunk(start, texts, ids)
        start += len(records)


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
        path.parent.mkdir(parents=True, exist_ok=True)
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
