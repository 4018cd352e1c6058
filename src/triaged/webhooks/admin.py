"""The deliverer of one process's ``webhooks`` job: :func:`deliverer`.

Managing endpoints (admin keys, one workspace) is the service's: ``Service.create_webhook``
and its neighbours in :mod:`triaged.services.facade.operations`.
"""

from __future__ import annotations

from triaged.storage.db import Database
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.worker import WebhookWorker

__all__ = ["deliverer"]


def deliverer(db: Database, settings: WebhookSettings | None = None) -> WebhookWorker | None:
    """A deliverer with the ``TRIAGED_WEBHOOK_*`` settings; None when
    ``TRIAGED_WEBHOOK_WORKER=false`` (this process delivers nothing)."""
    config = settings or WebhookSettings()
    if not config.worker:
        return None
    return WebhookWorker(db, config)
