"""The rules a taxonomy definition follows: names, descriptions and the keys of a file.

Kept apart from :mod:`triaged.taxonomy` (the value objects and their loading) so that the
review queue can hold a proposed category to the same name rule without the loader.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from triaged.errors import TaxonomyError
from triaged.inputs import bad_character, is_blank

__all__ = [
    "MAX_LABEL_NAME",
    "LineLoader",
    "at",
    "check_chars",
    "check_description",
    "check_keys",
    "check_name",
    "example_problem",
    "folded",
    "line_of_key",
    "same_name",
]

MAX_LABEL_NAME = 100


def at(obj: Any) -> str:
    """``line N: `` for a mapping the YAML loader marked with its line, else nothing."""
    line = obj.get("__line__") if isinstance(obj, Mapping) else None
    return f"line {line}: " if line else ""


#: Unicode categories refused in names: control, format, line and paragraph separators
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_description(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise TaxonomyError(f"{where}: descriptions must be strings", details={"field": where})
    check_chars(value, where)


def check_chars(value: str, where: str) -> None:
    bad = bad_character(value)
    if bad is not None:
        raise TaxonomyError(f"{where}: contains {bad}", details={"field": where})


def example_problem(text: Any, label: Any) -> str | None:
    """What is wrong with a dataset line's text and label, None when nothing. A text of
    invisible characters only is empty (it was scored by ``triaged eval``, and failed training
    naming no line); a NUL or a lone surrogate is refused, as ``/v1/classify`` refuses it (a
    surrogate was a tokenizer traceback)."""
    if not isinstance(text, str) or is_blank(text):
        return "'text' must be a non-empty string (a visible character)"
    if not isinstance(label, str) or not label:
        return "'label' must be a non-empty string"
    for name, value in (("text", text), ("label", label)):
        bad = bad_character(value)
        if bad is not None:
            return f"{name!r} contains {bad}"
    return None


def check_name(value: Any, where: str) -> None:
    """A taxonomy or label name: a non-empty string of at most ``MAX_LABEL_NAME`` visible
    characters, no surrounding whitespace.  Control and format characters (line breaks, tabs,
    bidi overrides, zero-width joiners) are refused: a name is shown in lists, CSV files and
    webhooks, where such a character breaks the line or hides what the name says."""
    if not isinstance(value, str) or is_blank(value):
        raise TaxonomyError(f"{where}: names must be non-empty strings", details={"field": where})
    check_chars(value, where)
    hidden = next((ch for ch in value if unicodedata.category(ch) in _HIDDEN), None)
    if hidden is not None:
        raise TaxonomyError(
            f"{where}: name {value!r} contains the control or format character U+{ord(hidden):04X}",
            details={"field": where},
        )
    if value != value.strip():
        raise TaxonomyError(
            f"{where}: name {value!r} has leading or trailing whitespace", details={"field": where}
        )
    if len(value) > MAX_LABEL_NAME:
        raise TaxonomyError(
            f"{where}: names are at most {MAX_LABEL_NAME} characters", details={"field": where}
        )


TAXONOMY_KEYS = (
    "name",
    "description",
    "version",
    "thresholds",
    "labels",
    "examples",
    "out_of_scope",
)
LABEL_KEYS = ("name", "description", "examples")
EXAMPLE_KEYS = ("text", "label")


def _known_keys(obj: Any, allowed: Sequence[str], where: str) -> None:
    """Refuse a key that is not one of ``allowed`` (a typo would be silently ignored),
    naming its line and the closest allowed key."""
    if not isinstance(obj, Mapping):
        return
    for key in obj:
        if key == "__line__" or key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
        raise TaxonomyError(
            f"{at(obj)}unknown key {key!r} in {where}{hint}",
            details={
                "field": where,
                "key": str(key),
                "line": obj.get("__line__"),
                "did_you_mean": close[0] if close else None,
            },
        )


def check_keys(data: Mapping[str, Any]) -> None:
    """Every key of a taxonomy file is one the loader reads."""
    _known_keys(data, TAXONOMY_KEYS, "the taxonomy")
    labels = data.get("labels")
    if isinstance(labels, Sequence) and not isinstance(labels, str):
        for i, item in enumerate(labels):
            _known_keys(item, LABEL_KEYS, f"labels[{i}]")
    examples = data.get("examples")
    if isinstance(examples, Sequence) and not isinstance(examples, str):
        for j, ex in enumerate(examples):
            _known_keys(ex, EXAMPLE_KEYS, f"examples[{j}]")


def folded(name: str) -> str:
    """A label name as a reader sees it: case and Unicode form set aside."""
    return unicodedata.normalize("NFKC", name).casefold()


def same_name(names: Sequence[str], name: str) -> str | None:
    """The name of ``names`` that ``name`` differs from only in case or Unicode form (or
    equals); None when there is none."""
    key = folded(name)
    return next((n for n in names if folded(n) == key), None)


class LineLoader(yaml.SafeLoader):
    """SafeLoader that records the 1-based line of each mapping under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def line_of_key(text: str, key: str, after: int = 1) -> int | None:
    """The line of the first ``key:`` (YAML) or ``"key":`` (JSON) at or after line ``after``
    (the parsers keep no position per key)."""
    pattern = r'(^[ \t-]*|[{,][ \t]*)["\']?' + re.escape(key) + r'["\']?[ \t]*:'
    lines = text.splitlines()
    for number in range(max(1, after), len(lines) + 1):
        if re.search(pattern, lines[number - 1]):
            return number
    return None
