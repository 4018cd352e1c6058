"""Release to the workflow: signed webhooks delivered from a durable outbox.

* :func:`enqueue_event` — called inside the transaction of a change (a review
  item resolved, a decision corrected, a drift alert) to record the event.
* :mod:`~triaged.webhooks.endpoints` — endpoints per workspace and the delivery log.
* :class:`WebhookWorker` — the deliverer the ``webhooks`` job drains the outbox with.
* :func:`verify_signature` — for receivers (re-exported by the SDK).
"""

from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.endpoints import (
    Endpoint,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_attempts,
    list_deliveries,
    list_endpoints,
    retry_delivery,
)
from triaged.webhooks.events import EVENT_TYPES, enqueue_event
from triaged.webhooks.verify import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign_payload,
    signature_header,
    verify_signature,
)
from triaged.webhooks.worker import WebhookWorker

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "Endpoint",
    "WebhookSettings",
    "WebhookWorker",
    "create_endpoint",
    "delete_endpoint",
    "enqueue_event",
    "get_endpoint",
    "list_attempts",
    "list_deliveries",
    "list_endpoints",
    "retry_delivery",
    "sign_payload",
    "signature_header",
    "verify_signature",
]
