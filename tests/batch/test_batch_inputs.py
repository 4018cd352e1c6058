"""`triaged batch` reads CSV and JSONL as the bulk-job upload does: a byte-order mark is not
part of the first field, a column named twice or an unterminated quote is an error naming its
line (a BOM made every row "no text in field 'text'"; the others were read silently)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triaged.batchio import read_chunks
from triaged.errors import InvalidInput


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_byte_order_mark_is_not_part_of_the_first_field(tmp_path: Path) -> None:
    csv_file = _write(tmp_path, "in.csv", b"\xef\xbb\xbftext,id\nhello,1\nworld,2\n")
    [chunk] = list(read_chunks(csv_file, id_field="id"))
    assert chunk.texts == ["hello", "world"] and chunk.ids == ["1", "2"]
    jsonl = _write(tmp_path, "in.jsonl", b'\xef\xbb\xbf{"text": "hello"}\n')
    assert [c.texts for c in read_chunks(jsonl)] == [["hello"]]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"text,text\na,b\n", "names column 'text' twice"),
        (b'text\n"an open quote\nthat never closes\n', "not valid CSV"),
        (b"text,id\nfine,1\ncharged, twice,2\n", "line 3: 3 fields, the header has 2"),
    ],
)
def test_malformed_csv_is_refused_with_its_line(tmp_path: Path, data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as info:
        list(read_chunks(_write(tmp_path, "in.csv", data)))
    assert "line" in info.value.details


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'ticket,body\n1,a\n2,b\n3,c\n4,"open\n5,e\n', 5),
        (b'ticket,body\n1,"open\n2,b\n', 2),
        (b'ticket,body\n1,"two\nlines"\n\n2,"x"y\n', 5),  # text after a closing quote
    ],
)
def test_an_unterminated_quote_names_the_line_where_its_record_starts(
    tmp_path: Path, data: bytes, line: int
) -> None:
    """As `jobs submit` (it said line 4 for a quote opened on line 5: one too low)."""
    with pytest.raises(InvalidInput) as info:
        list(read_chunks(_write(tmp_path, "u.csv", data), text_field="body"))
    src = tmp_path / "u.csv"
    assert info.value.message.startswith(f"{src} line {line}: not valid CSV"), info.value.message
    assert info.value.details["line"] == line


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("d.csv", b"text,text\na,b\n", "line 1: the header names column 'text' twice"),
        ("q.csv", b'text\nfine\n"open\nnever closed\n', "line 3: not valid CSV"),
        ("x.csv", b'text\n"a"b\n', "line 2: not valid CSV"),
        ("f.csv", b"text,id\nfine,1\ncharged, twice,2\n", "line 3: 3 fields, the header has 2"),
        ("j.jsonl", b'{"text": "fine"}\n{"text": \n', "line 2: not JSON"),
        ("o.jsonl", b'{"text": "fine"}\n["fine"]\n', "line 2: not a JSON object"),
    ],
)
def test_a_malformed_input_names_the_file_and_the_line(
    tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    """A structural error said "line 2: not valid CSV ..." or "line 2: not JSON" with no file,
    where a row's error says "FILE line N: ...": every input error now names both."""
    src = _write(tmp_path, name, data)
    with pytest.raises(InvalidInput) as info:
        list(read_chunks(src))
    assert info.value.message.startswith(f"{src} {says}"), info.value.message


def test_a_missing_or_empty_text_names_the_file_and_the_line(tmp_path: Path) -> None:
    """It said 'row 0 (counted from 0): an empty text in field 'body' (its fields: ticket)'."""
    cases = [
        ("e.csv", b"ticket,body\n1,\n2,hello\n", "line 2: the text in field 'body' is empty"),
        ("m.csv", b'ticket,body\n1,"a\nb"\n\n2\n', "line 5 has no text in field 'body'"),
        (
            "e.jsonl",
            b'{"body": "x"}\n\n{"body": " "}\n',
            "line 3: the text in field 'body' is empty",
        ),
        ("t.jsonl", b'{"body": 5}\n', "line 1: field 'body' must be a string, not a number"),
    ]
    for name, data, says in cases:
        src = _write(tmp_path, name, data)
        with pytest.raises(InvalidInput) as info:
            list(read_chunks(src, text_field="body"))
        assert info.value.message.startswith(f"{src} {says}"), info.value.message


def test_ids_follow_the_bulk_job_rules(tmp_path: Path) -> None:
    """`--id-field` turned true into the id "True" and {"x": 1} into "{'x': 1}", an empty CSV
    cell into "": refused (with the line) as `jobs submit` refuses them; empty is no id."""
    rows = b'{"t": "a", "tid": 7}\n{"t": "b", "tid": 1.5}\n'
    rows += b'{"t": "c", "tid": null}\n{"t": "d", "tid": "x"}\n'
    [chunk] = list(read_chunks(_write(tmp_path, "ok.jsonl", rows), text_field="t", id_field="tid"))
    assert chunk.ids == ["7", "1.5", None, "x"]
    csv_file = _write(tmp_path, "ok.csv", b"t,tid\na,\nb,2\n")
    assert next(read_chunks(csv_file, text_field="t", id_field="tid")).ids == [None, "2"]
    for value, kind in (("true", "a boolean"), ('{"x": 1}', "an object"), ("[1]", "an array")):
        src = _write(
            tmp_path,
            "bad.jsonl",
            f'{{"t": "a", "tid": 1}}\n{{"t": "b", "tid": {value}}}\n'.encode(),
        )
        with pytest.raises(InvalidInput) as info:
            list(read_chunks(src, text_field="t", id_field="tid"))
        want = f"{src} line 2: field 'tid' must be a string or a number, not {kind}"
        assert info.value.message == want
