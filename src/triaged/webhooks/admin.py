"""What the app lifespan runs for webhooks: :func:`start_worker`.

Managing endpoints (admin keys, one workspace) is the service's: ``Service.create_webhook``
and its neighbours in :mod:`triaged.services.facade.operations`.
"""

from __future__ import annotations

from triaged.storage.db import Database
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.worker import WebhookWorker

__all__ = ["start_worker"]


def start_worker(db: Database, settings: WebhookSettings | None = None) -> WebhookWorker | None:
    """Start the delivery thread unless ``TRIAGED_WEBHOOK_WORKER=false``; None when disabled."""
    config = settings or WebhookSettings()
    if not config.worker:
        return None
    return WebhookWorker(db, config).start()
