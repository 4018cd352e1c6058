"""Methods of both clients on one webhook endpoint's log (the endpoint, its deliveries, a
delivery's tries, a retry) and on the agreement between reviewers.
:class:`~triaged.client.Client` inherits :class:`SyncWebhookLog`,
:class:`~triaged.client.AsyncClient` :class:`AsyncWebhookLog`; each pair has the same
methods."""

from __future__ import annotations

from triaged.client import _ops_webhooks as hooks
from triaged.client._runner import AsyncRunner, SyncRunner
from triaged.client.pages import Page
from triaged.client.review_results import ReviewAgreement
from triaged.client.webhook_results import Webhook, WebhookAttempt, WebhookDelivery

__all__ = ["AsyncWebhookLog", "SyncWebhookLog"]


class SyncWebhookLog(SyncRunner):
    """The synchronous methods (the client supplies ``_run``)."""

    def webhook(self, webhook_id: str) -> Webhook:
        """One webhook endpoint (never its secret)."""
        return self._run(hooks.webhook(webhook_id))

    def webhook_deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WebhookDelivery]:
        """One page of the endpoint's deliveries, newest first (``status``: only those in
        that state); pass ``next_cursor`` back as ``cursor`` for the next."""
        return self._run(hooks.deliveries(webhook_id, status, cursor, limit))

    def delivery_attempts(self, webhook_id: str, delivery_id: str) -> list[WebhookAttempt]:
        """Every try of one delivery, first try first (all pages)."""
        return self._all(lambda cursor: hooks.attempts_page(webhook_id, delivery_id, cursor))

    def retry_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a failed (or cancelled) delivery again now, with a fresh budget of tries."""
        return self._run(hooks.retry_delivery(webhook_id, delivery_id))

    def review_agreement(self, *, taxonomy: str | None = None) -> ReviewAgreement:
        """Cohen's kappa between reviewers over the items two of them answered."""
        return self._run(hooks.review_agreement(taxonomy))


class AsyncWebhookLog(AsyncRunner):
    """The same methods, awaitable (the client supplies ``_run``)."""

    async def webhook(self, webhook_id: str) -> Webhook:
        """One webhook endpoint (never its secret)."""
        return await self._run(hooks.webhook(webhook_id))

    async def webhook_deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[WebhookDelivery]:
        """One page of the endpoint's deliveries, newest first (``status``: only those in
        that state); pass ``next_cursor`` back as ``cursor`` for the next."""
        return await self._run(hooks.deliveries(webhook_id, status, cursor, limit))

    async def delivery_attempts(self, webhook_id: str, delivery_id: str) -> list[WebhookAttempt]:
        """Every try of one delivery, first try first (all pages)."""
        return await self._all(lambda cursor: hooks.attempts_page(webhook_id, delivery_id, cursor))

    async def retry_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a failed (or cancelled) delivery again now, with a fresh budget of tries."""
        return await self._run(hooks.retry_delivery(webhook_id, delivery_id))

    async def review_agreement(self, *, taxonomy: str | None = None) -> ReviewAgreement:
        """Cohen's kappa between reviewers over the items two of them answered."""
        return await self._run(hooks.review_agreement(taxonomy))
