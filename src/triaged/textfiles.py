"""Reading text files that should be UTF-8, and saying where one is not."""

from __future__ import annotations

import codecs
from pathlib import Path

from triaged.errors import TriagedError

__all__ = ["not_utf8", "read_text"]


def read_text(path: Path, error: type[TriagedError]) -> str:
    """The text of ``path`` (a byte-order mark skipped); not UTF-8: ``error`` naming why."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(path, error) from None


def not_utf8(path: Path, error: type[TriagedError]) -> TriagedError:
    """``error`` saying where ``path`` stops being UTF-8 (its first undecodable byte, with
    its offset and line), for a reader that met a :class:`UnicodeDecodeError` on the way:
    the file is scanned again in chunks, so any size is fine."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = newlines = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object: the bytes held back from the last chunk, then this one
                data = exc.object
                offset = fed - (len(data) - len(chunk)) + exc.start
                line = newlines + data.count(b"\n", 0, exc.start) + 1
                return error(
                    f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {offset})",
                    details={"file": str(path), "offset": offset, "line": line},
                )
            if not chunk:
                break
            fed += len(chunk)
            newlines += chunk.count(b"\n")
    return error(f"{path}: not UTF-8 text", details={"file": str(path)})
