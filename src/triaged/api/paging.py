"""The one list envelope of the API and its opaque cursors.

Every list endpoint answers ``{"data": [...], "next_cursor": ..., "has_more": ...}``.  A
cursor is the base64url text of a small JSON object: the list it belongs to (``s``) and the
position after which the next page starts (``p``, an id or a sort key).  Clients pass it back
unchanged; anything this server did not hand out — not base64url, not that JSON shape, or a
cursor of another list — is refused with 400 ``invalid_cursor`` instead of silently starting
over at the first page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from triaged.errors import InvalidCursor

__all__ = [
    "MAX_CURSOR_CHARS",
    "Cursor",
    "Limit",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "envelope",
    "page_of",
]

T = TypeVar("T")
MAX_CURSOR_CHARS = 1000
MAX_POSITION = 2**53  # offsets and counters: never negative, never past a float's integers

Cursor = Annotated[
    str | None,
    Query(
        description="Opaque `next_cursor` of the previous page (400 `invalid_cursor` if it "
        "was not handed out for this list).",
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1-500).")]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T] = Field(description="The items of this page, in the list's order.")
    next_cursor: str | None = Field(
        description="Opaque; pass as `cursor` to get the next page. Null on the last page."
    )
    has_more: bool = Field(description="True when another page follows (`next_cursor` is set).")


def encode_cursor(scope: str, position: str | int) -> str:
    """The opaque cursor of ``position`` in the list ``scope``."""
    raw = json.dumps({"s": scope, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    scope: str, cursor: str | None, *, kind: type[str] | type[int] | None = None
) -> str | int | None:
    """The position a cursor of the list ``scope`` stands for (None without a cursor);
    ``kind``: the type of the list's positions (a cursor holding another is refused: a
    number where an id belongs was read as a position until 6 December)."""
    if cursor is None:
        return None
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid("the cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        obj = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid("the cursor is not one this server handed out") from None
    if not isinstance(obj, dict) or set(obj) != {"s", "p"}:
        raise _invalid("the cursor is not one this server handed out")
    if obj["s"] != scope:
        raise _invalid(f"the cursor belongs to another list ({obj['s']!r}, not {scope!r})")
    position = obj["p"]
    if isinstance(position, bool) or not isinstance(position, str | int):
        raise _invalid("the cursor is not one this server handed out")
    if kind is not None and not isinstance(position, kind):
        raise _invalid("the cursor is not one this server handed out")
    if isinstance(position, str) and not _plain(position):
        raise _invalid("the cursor is not one this server handed out")
    if isinstance(position, int) and not 0 <= position <= MAX_POSITION:
        raise _invalid("the cursor is not one this server handed out")
    return position


def _plain(position: str) -> bool:
    """A position this server could have written: short, no NUL, valid UTF-8 (a lone
    surrogate, legal in JSON text, cannot reach a database driver)."""
    if not position or "\x00" in position or len(position) > 200:  # "": the first page again
        return False
    try:
        position.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid(message: str) -> InvalidCursor:
    return InvalidCursor(message + "; start again without a cursor", details={"field": "cursor"})


def envelope(scope: str, data: list[Any], next_position: str | int | None) -> dict[str, Any]:
    """The envelope of one page whose last item is at ``next_position`` when more follow."""
    cursor = None if next_position is None else encode_cursor(scope, next_position)
    return {"data": data, "next_cursor": cursor, "has_more": cursor is not None}


def page_of(
    scope: str,
    items: Sequence[T],
    key: Callable[[T], str | int],
    limit: int,
    cursor: str | None,
    *,
    descending: bool = False,
) -> dict[str, Any]:
    """One page of ``items`` (sorted by ``key``, ascending unless ``descending``) after the
    cursor's position: keyset paging, so an item removed meanwhile does not break the cursor."""
    position = decode_cursor(scope, cursor)
    start = 0
    if position is not None:
        keys = [key(item) for item in items]
        if keys and type(position) is not type(keys[0]):
            raise _invalid("the cursor is not one this server handed out")
        start = len(keys)
        for i, k in enumerate(keys):
            if (k < position) if descending else (k > position):  # type: ignore[operator]
                start = i
                break
    page = list(items[start : start + limit])
    more = start + limit < len(items) and bool(page)
    return envelope(scope, page, key(page[-1]) if more else None)
