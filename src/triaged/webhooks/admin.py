"""What the API (and any other front end) calls to manage webhooks: role checks and transactions.

Managing endpoints needs an ``admin`` key; every call is confined to the
caller's workspace.  :func:`start_worker` is what the app lifespan runs.
"""

from __future__ import annotations

from typing import Any

from triaged.services.keys import Principal, Role
from triaged.storage.db import Database
from triaged.webhooks import endpoints
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.endpoints import Endpoint
from triaged.webhooks.worker import WebhookWorker

__all__ = [
    "create_webhook",
    "delete_webhook",
    "delivery_attempts",
    "get_webhook",
    "list_webhooks",
    "retry_delivery",
    "start_worker",
    "webhook_deliveries",
]


def create_webhook(
    db: Database, principal: Principal, url: str, events: list[str], description: str = ""
) -> Endpoint:
    principal.require(Role.ADMIN)
    with db.write() as conn:
        return endpoints.create_endpoint(conn, principal.workspace_id, url, events, description)


def list_webhooks(db: Database, principal: Principal) -> list[Endpoint]:
    principal.require(Role.ADMIN)
    with db.read() as conn:
        return endpoints.list_endpoints(conn, principal.workspace_id)


def get_webhook(db: Database, principal: Principal, webhook_id: str) -> Endpoint:
    principal.require(Role.ADMIN)
    with db.read() as conn:
        return endpoints.get_endpoint(conn, principal.workspace_id, webhook_id)


def delete_webhook(db: Database, principal: Principal, webhook_id: str) -> None:
    principal.require(Role.ADMIN)
    with db.write() as conn:
        endpoints.delete_endpoint(conn, principal.workspace_id, webhook_id)


def webhook_deliveries(
    db: Database,
    principal: Principal,
    webhook_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> list[dict[str, Any]]:
    principal.require(Role.ADMIN)
    with db.read() as conn:
        return endpoints.list_deliveries(
            conn, principal.workspace_id, webhook_id, status=status, limit=limit, before=before
        )


def delivery_attempts(
    db: Database, principal: Principal, webhook_id: str, delivery_id: str
) -> list[dict[str, Any]]:
    principal.require(Role.ADMIN)
    with db.read() as conn:
        return endpoints.list_attempts(conn, principal.workspace_id, webhook_id, delivery_id)


def retry_delivery(
    db: Database, principal: Principal, webhook_id: str, delivery_id: str
) -> dict[str, Any]:
    principal.require(Role.ADMIN)
    with db.write() as conn:
        return endpoints.retry_delivery(conn, principal.workspace_id, webhook_id, delivery_id)


def start_worker(db: Database, settings: WebhookSettings | None = None) -> WebhookWorker | None:
    """Start the delivery thread unless ``TRIAGED_WEBHOOK_WORKER=false``; None when disabled."""
    config = settings or WebhookSettings()
    if not config.worker:
        return None
    return WebhookWorker(db, config).start()
