"""Methods of both clients on the workspace's views: review items and progress, the bulk
jobs list and the workspace.  :class:`~triaged.client.Client` inherits :class:`SyncViews`,
:class:`~triaged.client.AsyncClient` :class:`AsyncViews`; each pair has the same methods."""

from __future__ import annotations

from typing import Any

from triaged.client import _ops_views as views
from triaged.client import jobs as job_ops
from triaged.client._runner import AsyncRunner, SyncRunner
from triaged.client.jobs import Job
from triaged.client.results import ReviewItem
from triaged.client.review_results import ReviewItemPage, ReviewProgress
from triaged.client.workspace_results import Workspace

__all__ = ["AsyncViews", "SyncViews"]


class SyncViews(SyncRunner):
    """The synchronous methods (the client supplies ``_run``)."""

    def review_items(
        self, *, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> ReviewItemPage:
        """One page of review items, oldest first, with the counts per queue; filters:
        taxonomy, queue, status, claimed_by, decision_id, q (text contains), label,
        confidence_min, confidence_max, since, until, decision_ids (a list)."""
        return self._run(views.review_items(cursor, limit, filters))

    def review_item(self, item_id: str) -> ReviewItem:
        """One review item with its decision; its full history is in ``extra["history"]``."""
        return self._run(views.review_item(item_id))

    def review_progress(self, *, taxonomy: str | None = None) -> ReviewProgress:
        """Your answers today, the open items left and your rate per hour."""
        return self._run(views.review_progress(taxonomy))

    def jobs(self) -> list[Job]:
        """Every bulk job of the workspace, newest first (all pages)."""
        return self._all(job_ops.jobs_page)

    def workspace(self) -> Workspace:
        """The calling key's workspace and its plan."""
        return self._run(views.workspace())


class AsyncViews(AsyncRunner):
    """The same methods, awaitable (the client supplies ``_run``)."""

    async def review_items(
        self, *, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> ReviewItemPage:
        """One page of review items, oldest first, with the counts per queue; filters:
        taxonomy, queue, status, claimed_by, decision_id, q (text contains), label,
        confidence_min, confidence_max, since, until, decision_ids (a list)."""
        return await self._run(views.review_items(cursor, limit, filters))

    async def review_item(self, item_id: str) -> ReviewItem:
        """One review item with its decision; its full history is in ``extra["history"]``."""
        return await self._run(views.review_item(item_id))

    async def review_progress(self, *, taxonomy: str | None = None) -> ReviewProgress:
        """Your answers today, the open items left and your rate per hour."""
        return await self._run(views.review_progress(taxonomy))

    async def jobs(self) -> list[Job]:
        """Every bulk job of the workspace, newest first (all pages)."""
        return await self._all(job_ops.jobs_page)

    async def workspace(self) -> Workspace:
        """The calling key's workspace and its plan."""
        return await self._run(views.workspace())
