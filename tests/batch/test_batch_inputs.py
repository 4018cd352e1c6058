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
