"""Python SDK for a triaged server, on httpx (sync :class:`Client`, async :class:`AsyncClient`).

Usage::

    >>> from triaged.client import Client
    >>> with Client("http://127.0.0.1:8000", api_key="tri_...") as client:   # doctest: +SKIP
    ...     res = client.classify("I was charged twice", taxonomy="support")
    ...     res.label, res.confidence, res.bucket
    ('billing', 0.93, <Bucket.AUTO: 'auto'>)
    ...     client.route("I was charged twice", "support",
    ...                  on_auto=act, on_review=act_and_flag, on_hold=ask_a_human)

The SDK stands alone: importing it loads httpx and the standard library, nothing of the
server or the ML stack (``tests/test_sdk_standalone.py``; the contract ``sdk`` in
``.importlinter``).  Both clients have the same methods (``AsyncClient``'s are awaitable) and
every method returns a typed result (:mod:`triaged.client.results`), mirrored from the API's
schemas and tested against ``/openapi.json``; lists come as :class:`Page` (``data``,
``next_cursor``, ``has_more``) and the list methods fetch every page.  Errors are the
library's own (:mod:`triaged.errors`), chosen by the error code the server sends, with the
answer's ``request_id`` (to quote to the server's operator); no answer at all is
:class:`~triaged.errors.ConnectFailed` or :class:`~triaged.errors.RequestTimeout`.
Requests that get 429 or 5xx (or a connection error) are retried with
exponential backoff, honouring ``Retry-After``; every classify carries an ``Idempotency-Key``
(generated unless given), so a retry never makes a second decision or a second count.  Pass
``transport=`` (for example ``httpx.ASGITransport(app)``) to talk to an app in-process.
"""

from triaged.client._http import DEFAULT_URL, RETRY_STATUSES
from triaged.client.aio import AsyncClient
from triaged.client.insights_results import GapCluster, Insights, LabelHealth, LabelOverlap
from triaged.client.jobs import Job, JobResult
from triaged.client.metrics_results import (
    BucketMetrics,
    BucketPoint,
    BucketTotals,
    DriftAlert,
    DriftReport,
)
from triaged.client.pages import DecisionPage, Page
from triaged.client.results import (
    AutoErrorEstimate,
    BucketShares,
    Classification,
    Decision,
    Erased,
    Evaluation,
    Key,
    LaneError,
    ModelInfo,
    ReviewAlternative,
    ReviewItem,
    ReviewStats,
    Routing,
    RoutingBound,
    TaxonomyInfo,
    TrainingProgress,
    Usage,
    Webhook,
    WebhookDelivery,
    WhatIf,
)
from triaged.client.review_results import (
    LabelAgreement,
    QueueCounts,
    ReviewAgreement,
    ReviewerPairAgreement,
    ReviewItemPage,
    ReviewProgress,
)
from triaged.client.sync import Client
from triaged.client.taxonomy_results import (
    LabelDefinition,
    ReviewedExample,
    ReviewSettings,
    RoutingVersion,
    TaxonomyDefinition,
    TaxonomyVersion,
)
from triaged.client.webhook_results import WebhookAttempt
from triaged.client.workspace_results import Plan, Workspace
from triaged.signing import verify_signature
from triaged.types import Alternative, Bucket

__all__ = [
    "DEFAULT_URL",
    "RETRY_STATUSES",
    "Alternative",
    "AsyncClient",
    "AutoErrorEstimate",
    "Bucket",
    "BucketMetrics",
    "BucketPoint",
    "BucketShares",
    "BucketTotals",
    "Classification",
    "Client",
    "Decision",
    "DecisionPage",
    "DriftAlert",
    "DriftReport",
    "Erased",
    "Evaluation",
    "GapCluster",
    "Insights",
    "Job",
    "JobResult",
    "Key",
    "LabelAgreement",
    "LabelDefinition",
    "LabelHealth",
    "LabelOverlap",
    "LaneError",
    "ModelInfo",
    "Page",
    "Plan",
    "QueueCounts",
    "ReviewAgreement",
    "ReviewAlternative",
    "ReviewItem",
    "ReviewItemPage",
    "ReviewProgress",
    "ReviewSettings",
    "ReviewStats",
    "ReviewedExample",
    "ReviewerPairAgreement",
    "Routing",
    "RoutingBound",
    "RoutingVersion",
    "TaxonomyDefinition",
    "TaxonomyInfo",
    "TaxonomyVersion",
    "TrainingProgress",
    "Usage",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WhatIf",
    "Workspace",
    "verify_signature",
]
