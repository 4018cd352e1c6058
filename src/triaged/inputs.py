"""Checks on untrusted input that every storage backend must be able to keep and give back.

* NUL characters and lone UTF-16 surrogates fit no PostgreSQL text column and no
  UTF-8 encoder (the tokenizer fails on them): refused everywhere with a clear error.
* A text made only of whitespace and invisible characters (zero-width spaces,
  joiners, BOM, soft hyphen, bidi marks, fillers) is empty.
* ``metadata`` attached to a decision is JSON of bounded depth and size, with
  string keys and finite numbers, so that whatever is stored can be read back.
* Taxonomy names follow :data:`NAME_PATTERN` so that each is one URL path segment.

Pure functions; they import nothing of the service.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from triaged.errors import InvalidInput, ValidationFailed

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "NAME_PATTERN",
    "bad_character",
    "check_external_id",
    "check_metadata",
    "check_strings",
    "check_taxonomy_name",
    "check_text",
    "check_window",
    "is_blank",
    "load_json",
]

MAX_METADATA_DEPTH = 8
MAX_METADATA_BYTES = 16_384
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""A taxonomy name: 1-100 ASCII letters, digits, ``.``, ``_``, ``-``, starting with a letter or
digit (so ``.``/``..``, ``%2F``, ``?``, ``#``, spaces and control characters never occur)."""
_NAME = re.compile(NAME_PATTERN)
_BAD = re.compile("[\x00\ud800-\udfff]")
# invisible characters besides whitespace: categories Cf (format: zero-width space/joiners,
# BOM, bidi marks, soft hyphen), Cc (controls), Mn alone, plus fillers that render as blank
_BLANK_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me"})
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def bad_character(value: str) -> str | None:
    """A description of the first NUL or lone surrogate in ``value``, else None."""
    found = _BAD.search(value)
    if found is None:
        return None
    char = found.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def load_json(text: str | bytes) -> Any:
    """:func:`json.loads` for untrusted input: JSON nested too deep for the parser (a few
    thousand ``[``) raises :class:`json.JSONDecodeError` like any malformed JSON, not
    RecursionError (which made an examples upload or a bulk job a 500).  ``NaN`` and
    ``Infinity`` (not JSON, but Python writes them) are read as floats: each field's reader
    decides (an id: NaN is no id, as pandas' missing number; infinity is refused)."""
    doc = text if isinstance(text, str) else ""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None


def check_text(value: str, field: str) -> None:
    """Refuse NUL and lone surrogates (422)."""
    bad = bad_character(value)
    if bad is not None:
        raise ValidationFailed(
            f"{field} contains {bad}", details={"field": field, "reason": "bad_character"}
        )


def is_blank(text: str) -> bool:
    """Whether ``text`` holds nothing visible (whitespace and invisible characters only)."""
    for char in text:
        if char.isspace() or char in _FILLERS:
            continue
        if unicodedata.category(char) in _BLANK_CATEGORIES:
            continue
        return False
    return True


def check_external_id(value: str | None, field: str = "external_id") -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string", details={"field": field})
    check_text(value, field)
    if len(value) > 200:
        raise ValidationFailed(
            f"{field} has at most 200 characters", details={"field": field, "limit": 200}
        )


def check_metadata(
    value: Any,
    field: str = "metadata",
    *,
    max_depth: int = MAX_METADATA_DEPTH,
    max_bytes: int = MAX_METADATA_BYTES,
) -> None:
    """Refuse metadata that could not be stored and read back (422).

    An object at the top; nested objects and lists at most ``max_depth`` levels deep
    (the top object is level 1); string keys; strings without NUL or lone
    surrogates; finite numbers; at most ``max_bytes`` bytes as compact JSON."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must be a JSON object", details={"field": field})
    stack: list[tuple[Any, int, str]] = [(value, 1, field)]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            raise ValidationFailed(
                f"{field} nests deeper than {max_depth} levels",
                details={"field": where, "limit": max_depth, "reason": "too_deep"},
            )
        if isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise ValidationFailed(
                        f"{field} keys must be strings", details={"field": where}
                    )
                check_text(key, f"{where} key")
                stack.append((item, depth + 1, f"{where}.{key[:50]}"))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                stack.append((item, depth + 1, f"{where}[{i}]"))
        elif isinstance(node, str):
            check_text(node, where)
        elif isinstance(node, bool) or node is None or isinstance(node, int):
            continue
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise ValidationFailed(f"{where} is not a finite number", details={"field": where})
        else:
            raise ValidationFailed(
                f"{where} is not a JSON value ({type(node).__name__})", details={"field": where}
            )
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        raise ValidationFailed(
            f"{field} is {size} bytes as JSON; the limit is {max_bytes}",
            details={"field": field, "limit": max_bytes, "got": size, "reason": "too_large"},
        )


def check_strings(value: Any, field: str = "body") -> None:
    """Refuse NUL and lone surrogates in every string (keys too) of parsed JSON (422)."""
    stack: list[tuple[Any, str]] = [(value, field)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            check_text(node, where)
        elif isinstance(node, dict):
            for key, item in node.items():
                if isinstance(key, str):
                    check_text(key, f"{where} key")
                stack.append((item, f"{where}.{str(key)[:50]}"))
        elif isinstance(node, list | tuple):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))


def check_taxonomy_name(name: str, field: str = "name") -> None:
    """Refuse a taxonomy name outside :data:`NAME_PATTERN` (422)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationFailed(
            f"{field}: a taxonomy name is 1-100 characters of A-Z, a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit",
            details={"field": field, "pattern": NAME_PATTERN},
        )


def check_window(since: datetime | None, until: datetime | None) -> None:
    """A time window with both ends must start before it ends (400, as what-if answers):
    ``since`` after ``until`` is a mistake in the request, not an empty window."""
    if since is None or until is None:
        return
    start = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    end = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
    if start >= end:
        raise InvalidInput(
            "since must be before until",
            details={"since": since.isoformat(), "until": until.isoformat()},
        )
