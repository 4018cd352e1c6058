"""The one CSV reader (triaged.csv_records) and its three callers: bulk-job uploads
(jobs_bulk.parse), `triaged batch` (batchio.read_chunks) and example uploads
(examples_io.parse_examples) read the same CSV the same way and refuse the same malformed
CSV with the same line (where its record starts) and reason, each as its own error class."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from triaged.batchio import read_chunks
from triaged.csv_records import (
    BATCH_FIELD_LIMIT,
    FIELD_LIMIT,
    CsvRecordError,
    csv_records,
    field_limit,
)
from triaged.errors import (
    DatasetError,
    InvalidInput,
    PayloadTooLarge,
    TriagedError,
    ValidationFailed,
)
from triaged.services.examples_io import parse_examples
from triaged.services.jobs_bulk import BulkOptions, Limits, parse

BIG = FIELD_LIMIT + 10


def _read(text: str, **kw: Any) -> list[tuple[int, dict[str, str | None]]]:
    return list(csv_records(io.StringIO(text, newline=""), **kw))


def _refused(text: str) -> CsvRecordError:
    with pytest.raises(CsvRecordError) as info:
        _read(text)
    return info.value


def test_records_come_with_the_line_where_they_start() -> None:
    text = 'text,id\n"one\ntwo",1\n\n   \n"three\r\n\r\nfour",2\nfive\n'
    assert _read(text) == [
        (2, {"text": "one\ntwo", "id": "1"}),
        (6, {"text": "three\r\n\r\nfour", "id": "2"}),  # line endings kept as sent
        (9, {"text": "five", "id": None}),  # a missing trailing field reads as None
    ]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_ending_counts_one_line_and_a_bom_is_dropped(end: str) -> None:
    text = f'\ufefftext,id{end}a,1{end}{end}"b{end}c",2{end}d,3'
    assert _read(text) == [
        (2, {"text": "a", "id": "1"}),
        (4, {"text": f"b{end}c", "id": "2"}),
        (6, {"text": "d", "id": "3"}),
    ]


def test_a_quoted_blank_field_is_a_record_and_a_white_space_line_is_not() -> None:
    assert _read('text\n \t \n""\n"  "\n') == [(3, {"text": ""}), (4, {"text": "  "})]


def test_header_names_are_stripped_and_folded_on_request() -> None:
    seen: list[tuple[list[str], int]] = []
    text = "\n Text , ID\nhello,1\n"
    assert _read(text, check_header=lambda names, n: seen.append((names, n))) == [
        (3, {"Text": "hello", "ID": "1"})
    ]
    assert _read(text, fold_case=True) == [(3, {"text": "hello", "id": "1"})]
    assert seen == [(["Text", "ID"], 2)]


def test_unnamed_columns_may_repeat() -> None:
    assert _read("text,,\na,b,c\n") == [(2, {"text": "a", "": "c"})]


@pytest.mark.parametrize(
    ("text", "line", "reason", "says"),
    [
        ("\ntext,id,text\na,1,b\n", 2, "duplicate_column", "names column 'text' twice"),
        ('t\n"a\nb"\nok\n"open\nmore\n', 5, "unterminated_quote", "never closed"),
        ('t\n"a\nb"\n"x" y\n', 4, "invalid_csv", "not valid CSV: ',' expected after '\"'"),
        ('t\n"a\nb" y\n', 2, "invalid_csv", "runs from line 2 to 3: is a quote left open?"),
        ("t,u\nok,1\n\nI was charged, twice,2\n", 4, "too_many_fields", "3 fields, the header"),
        (f't\nok\n"x\n{"y" * BIG}"\n', 3, "field_too_large", f"longer than {BIG - 10}"),
    ],
)
def test_each_error_names_the_line_where_its_record_starts(
    text: str, line: int, reason: str, says: str
) -> None:
    err = _refused(text)
    assert (err.line, err.reason) == (line, reason)
    assert err.message.startswith(f"line {line}: ") and says in err.message, err.message
    assert err.details()["line"] == line and err.details()["reason"] == reason


def test_details_name_the_column_or_the_limit() -> None:
    assert _refused("a,b,a\n").details("column") == {
        "line": 1,
        "reason": "duplicate_column",
        "column": "a",
    }
    assert _refused(f"t\n{'x' * BIG}\n").details() == {
        "line": 2,
        "reason": "field_too_large",
        "limit": BIG - 10,
    }


def test_the_header_check_runs_before_any_record() -> None:
    def refuse(names: list[str], line: int) -> None:
        raise ValueError(f"no 'body' in {names} at line {line}")

    with pytest.raises(ValueError, match=r"no 'body' in \['text'\] at line 1"):
        _read('text\n"never closed\n', check_header=refuse)


# ------------------------------------------------------------------ the three callers
def _job(data: bytes) -> list[dict[str, Any]]:
    limits = Limits(max_text_chars=10_000, max_metadata_depth=8, max_metadata_bytes=16_384)
    return list(parse(io.BytesIO(data), "csv", BulkOptions(), limits))


def _batch(tmp_path: Path) -> Callable[[bytes], list[Any]]:
    def read(data: bytes) -> list[Any]:
        path = tmp_path / "in.csv"
        path.write_bytes(data)
        return list(read_chunks(path, id_field="external_id"))

    return read


def _examples(data: bytes) -> list[Any]:
    return parse_examples(data.replace(b"external_id", b"label"), "csv")


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"text,external_id,text\na,1,b\n", 1, "duplicate_column"),
        (b'text,external_id\n"a\nb",1\n"open,2\nmore,3\n', 4, "unterminated_quote"),
        (b'text,external_id\nok,1\n\n"x" y,2\n', 4, "invalid_csv"),
        (b"text,external_id\nI was charged, twice,2\n", 2, "too_many_fields"),
    ],
)
def test_the_three_callers_refuse_malformed_csv_alike(
    tmp_path: Path, data: bytes, line: int, reason: str
) -> None:
    """Each caller's class (a field over the CSV limit: 413 everywhere but the CLI), with
    the same line and reason; a bulk job answered 422 to a field over the limit, example
    uploads named a multi-line record by its last line and an unterminated quote by the
    file's last line."""
    big = reason == "field_too_large"
    callers: list[tuple[Callable[[bytes], list[Any]], type[TriagedError]]] = [
        (_job, PayloadTooLarge if big else ValidationFailed),
        (_batch(tmp_path), InvalidInput),
        (_examples, PayloadTooLarge if big else DatasetError),
    ]
    for read, error in callers:
        with pytest.raises(error) as info:
            read(data)
        assert info.value.details["line"] == line, (read, info.value.message)
        assert info.value.details["reason"] == reason, (read, info.value.details)
        assert f"line {line}: " in info.value.message, info.value.message


def test_the_three_callers_read_the_same_records(tmp_path: Path) -> None:
    """A white-space line is blank in all three (a job and `triaged batch` refused it as a
    row without text), header names lose surrounding spaces (a job dropped every id of
    ``text, external_id`` in silence), and example uploads keep a quoted field's line
    endings as sent, as jobs do (they turned ``\\r\\n`` into ``\\n``)."""
    data = b'\xef\xbb\xbftext, external_id\r\n"a\r\nb",x1\r\n   \r\nc,x2\r\n'
    rows = _job(data)
    assert [(r["text"], r["external_id"]) for r in rows] == [("a\r\nb", "x1"), ("c", "x2")]
    [chunk] = _batch(tmp_path)(data)
    assert (chunk.texts, chunk.ids) == (["a\r\nb", "c"], ["x1", "x2"])
    examples = _examples(data.replace(b"x1", b"billing").replace(b"x2", b"bug"))
    assert [(e.text, e.label) for e in examples] == [("a\r\nb", "billing"), ("c", "bug")]


def test_an_example_error_names_the_line_where_its_record_starts() -> None:
    with pytest.raises(DatasetError) as info:
        parse_examples(b'Text,LABEL\nfine,billing\n"two\nlines",\n', "csv")
    assert info.value.message == "line 3: 'label' must be a non-empty string"


def test_examples_without_a_header_are_refused() -> None:
    for data in (b"", b"\n  \n", b"body,label\nx,billing\n"):
        with pytest.raises(DatasetError, match="need a header row with 'text' and 'label'"):
            parse_examples(data, "csv")


def test_a_field_over_each_callers_limit_is_field_too_large(tmp_path: Path) -> None:
    """Each caller's class (413 everywhere but the CLI) with the line, the reason and its
    own limit: the service's at least the csv module's default, `triaged batch`'s
    BATCH_FIELD_LIMIT."""
    for read, error, limit in [
        (_job, PayloadTooLarge, FIELD_LIMIT),
        (_batch(tmp_path), InvalidInput, BATCH_FIELD_LIMIT),
        (_examples, PayloadTooLarge, FIELD_LIMIT),
    ]:
        data = b'text,external_id\nok,1\n"x\n' + b"y" * limit + b'",2\n'
        with pytest.raises(error) as info:
            read(data)
        assert info.value.details == {"line": 3, "reason": "field_too_large", "limit": limit}
        assert f"line 3: a field is longer than {limit} characters" in info.value.message


def test_a_readers_own_limit_holds_whatever_the_module_limit() -> None:
    """csv.field_size_limit is process-global: it is only ever raised, and each reader
    checks its own ``max_field`` (a field of exactly ``max_field`` is read)."""
    big = FIELD_LIMIT * 2
    assert _read(f"t\n{'x' * big}\n", max_field=big) == [(2, {"t": "x" * big})]
    assert csv.field_size_limit() >= big  # raised for the reader that needed it
    with pytest.raises(CsvRecordError) as info:
        _read(f"t\n{'x' * (FIELD_LIMIT + 1)}\n")  # the module would take it now
    assert (info.value.reason, info.value.limit) == ("field_too_large", FIELD_LIMIT)
    assert field_limit(10_000, 16_384) == FIELD_LIMIT and field_limit(500_000) == 500_000
    assert csv.field_size_limit() >= big  # never lowered


def test_a_long_text_reads_in_csv_as_in_jsonl(tmp_path: Path) -> None:
    """A field over the csv module's 131,072 characters refused a text JSONL takes: in
    `triaged batch` ("not valid CSV (field larger than field limit (131072); is a quote left
    open?)"), in a bulk job and an example upload whose TRIAGED_MAX_TEXT_CHARS allows it. A
    text over the service's limit is refused in CSV as in JSONL: same class, message and
    code and limit (and, within the CSV field limit, the same message)."""
    long = "refund " * 30_000  # 210,000 characters
    csv_data = f'text,external_id\n"{long}",1\n'.encode()
    jsonl_data = (json.dumps({"text": long, "external_id": "1"}) + "\n").encode()
    [chunk] = _batch(tmp_path)(csv_data)
    assert chunk.texts == [long]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_bytes(jsonl_data)
    assert [c.texts for c in read_chunks(jsonl)] == [[long]]

    def job(data: bytes, fmt: str, max_text_chars: int) -> list[dict[str, Any]]:
        limits = Limits(max_text_chars, max_metadata_depth=8, max_metadata_bytes=16_384)
        return list(parse(io.BytesIO(data), fmt, BulkOptions(), limits))

    assert [r["text"] for r in job(csv_data, "csv", 250_000)] == [long]
    for data, fmt in ((csv_data, "csv"), (jsonl_data, "jsonl")):
        with pytest.raises(PayloadTooLarge) as info:
            job(data, fmt, 200_000)  # the field limit follows the text limit
        assert info.value.code == "payload_too_large" and info.value.details["limit"] == 200_000
    short = "refund " * 3_000  # 21,000 characters: over the default 10,000
    said = []
    for data, fmt in (
        (f'text\n"{short}"\n'.encode(), "csv"),
        (json.dumps({"text": short}).encode(), "jsonl"),
    ):
        with pytest.raises(PayloadTooLarge) as info:
            job(data, fmt, 10_000)
        said.append((info.value.message.split(":", 1)[1], info.value.details.get("got")))
    assert said[0] == said[1] == (" the text has 21000 characters; the limit is 10000", 21_000)
    examples = parse_examples(
        csv_data.replace(b"external_id", b"label").replace(b",1", b",billing"),
        "csv",
        max_text_chars=250_000,
    )
    assert [e.text for e in examples] == [long]
