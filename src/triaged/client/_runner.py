"""What every part of both clients shares: ``_run`` (one API operation; each client defines
its own, over its HTTP transport) and ``_all`` (every page of a cursor list).  The method
mixins of :mod:`triaged.client` inherit these, so the page loop is written once per flavour."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from triaged.client._ops import Op
from triaged.client.pages import Page

__all__ = ["AsyncRunner", "SyncRunner"]

R = TypeVar("R")
T = TypeVar("T")


class SyncRunner:
    def _run(self, op: Op[R]) -> R:  # pragma: no cover - Client defines the real one
        raise NotImplementedError

    def _all(self, op: Callable[[str | None], Op[Page[T]]]) -> list[T]:
        """Every item of a list, fetching page after page (``op(cursor)`` is one page)."""
        out: list[T] = []
        cursor: str | None = None
        while True:
            page = self._run(op(cursor))
            out.extend(page.data)
            if not page.has_more:
                return out
            cursor = page.next_cursor


class AsyncRunner:
    async def _run(self, op: Op[R]) -> R:  # pragma: no cover - AsyncClient defines the real one
        raise NotImplementedError

    async def _all(self, op: Callable[[str | None], Op[Page[T]]]) -> list[T]:
        """Every item of a list, fetching page after page (``op(cursor)`` is one page)."""
        out: list[T] = []
        cursor: str | None = None
        while True:
            page = await self._run(op(cursor))
            out.extend(page.data)
            if not page.has_more:
                return out
            cursor = page.next_cursor
