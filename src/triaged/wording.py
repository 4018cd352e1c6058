"""Counts in words, for the CLI, the web pages and the rendered reports."""

from __future__ import annotations

from typing import Any

__all__ = ["plural", "taxonomy_size"]


def plural(count: Any, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, in the plural (``many``, else ``word`` + "s") unless the
    count is one: "1 gap cluster", "3 gap clusters" (a missing count reads as 0)."""
    n = 0 if count is None else count
    return f"{n} {word if n == 1 else (many or word + 's')}"


def taxonomy_size(tax: Any) -> str:
    """A taxonomy's size in words: "3 labels, 1 example"."""
    return f"{plural(len(tax.labels), 'label')}, {plural(tax.n_examples, 'example')}"
