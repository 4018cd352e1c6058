"""The one exception tree of triaged.

Every error carries an HTTP status and a stable machine-readable ``code``;
the API turns them into ``{"error": {"code", "message", "details"}}`` in exactly
one place (``triaged.api.errors``).  The library and CLI raise the same classes.

    TriagedError (500, internal_error)
    ├── InvalidInput (400, invalid_input)
    │   ├── TaxonomyError (400, invalid_taxonomy)
    │   ├── DatasetError (400, invalid_dataset)
    │   └── InvalidCursor (400, invalid_cursor)
    ├── ValidationFailed (422, validation_error)
    ├── Unauthenticated (401, unauthenticated)
    │   └── WorkspaceInactive (403, workspace_inactive)  pending or suspended workspace
    ├── Forbidden (403, forbidden)
    ├── NotFound (404, not_found)
    ├── Conflict (409, conflict)
    │   ├── IdempotencyKeyReused (409, idempotency_key_reused)
    │   ├── NotFittedError (409, model_not_ready)
    │   └── LimitReached (409, limit_reached)   a workspace already has the most it may
    ├── PayloadTooLarge (413, payload_too_large)
    ├── UnsupportedMediaType (415, unsupported_media_type)  an upload of an unknown type
    ├── RateLimited (429, rate_limited)
    │   └── QuotaExceeded (429, quota_exceeded)
    ├── MailFailed (502, mail_failed)           the sign-up verification email
    ├── Unavailable (503, unavailable)          the server's database cannot be reached
    ├── ModelError (500, model_error)
    └── TransportError (503, transport_error)      the SDK could not reach the server
        ├── ConnectFailed (503, connect_failed)    refused, DNS, TLS: nothing was sent
        └── RequestTimeout (504, timeout)          no answer in time
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "ConnectFailed",
    "DatasetError",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidCursor",
    "InvalidInput",
    "LimitReached",
    "MailFailed",
    "ModelError",
    "NotFittedError",
    "NotFound",
    "NotReady",
    "PayloadTooLarge",
    "QuotaExceeded",
    "RateLimited",
    "RequestTimeout",
    "TaxonomyError",
    "TransportError",
    "TriagedError",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WorkspaceInactive",
]


class TriagedError(Exception):
    """Base of every error triaged raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        # the HTTP status of the answer it came from (the SDK sets it; else the class's)
        self.status_code: int = self.status
        # the server's Request-Id of that answer, to quote when reporting it (the SDK sets it)
        self.request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(TriagedError):
    status = 400
    code = "invalid_input"


class TaxonomyError(InvalidInput):
    """A taxonomy definition is invalid; ``details`` names the file/line/field."""

    code = "invalid_taxonomy"


class DatasetError(InvalidInput):
    """A dataset folder or file is malformed; ``details`` names the file and line."""

    code = "invalid_dataset"


class InvalidCursor(InvalidInput):
    """A list cursor that this server did not hand out (or for another list)."""

    code = "invalid_cursor"


class ValidationFailed(TriagedError):
    status = 422
    code = "validation_error"


class Unauthenticated(TriagedError):
    status = 401
    code = "unauthenticated"


class Forbidden(TriagedError):
    status = 403
    code = "forbidden"


class NotFound(TriagedError):
    status = 404
    code = "not_found"


class Conflict(TriagedError):
    status = 409
    code = "conflict"


class IdempotencyKeyReused(Conflict):
    """An ``Idempotency-Key`` sent again with another request (a client bug, not a clash of
    names: it shared ``conflict`` with those until 7 December)."""

    code = "idempotency_key_reused"


class NotFittedError(Conflict):
    """The model was used before ``fit`` (or before a trained version exists)."""

    code = "model_not_ready"


class LimitReached(Conflict):
    """A workspace already has the most taxonomies (or webhooks) the server allows;
    ``details`` names the ``limit``, the ``setting`` and how many it has (``count``)."""

    code = "limit_reached"


class PayloadTooLarge(TriagedError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(TriagedError):
    """A body whose media type says nothing this endpoint reads."""

    status = 415
    code = "unsupported_media_type"


class RateLimited(TriagedError):
    status = 429
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    code = "quota_exceeded"


class ModelError(TriagedError):
    status = 500
    code = "model_error"


class TransportError(TriagedError):
    """The SDK got no HTTP answer (raised by :mod:`triaged.client`, never sent by the API);
    the underlying httpx exception is ``__cause__``."""

    status = 503
    code = "transport_error"


class ConnectFailed(TransportError):
    """The server could not be reached (connection refused, unknown host, TLS failure)."""

    code = "connect_failed"


class RequestTimeout(TransportError):
    """The server did not answer within the client's timeout."""

    status = 504
    code = "timeout"


class MailFailed(TriagedError):
    """The mail server refused or could not be reached (sign-up verification email)."""

    status = 502
    code = "mail_failed"


class Unavailable(TriagedError):
    """The server is up but cannot serve now (its database cannot be reached): retry."""

    status = 503
    code = "unavailable"


class NotReady(Unavailable):
    """``GET /readyz`` while the database cannot be reached.  A load balancer asks every
    few seconds, so the service logs the outage once, when it starts and when it ends, not
    at every answer."""


class WorkspaceInactive(Unauthenticated):
    """A valid key of a workspace that is pending email verification or suspended."""

    status = 403
    code = "workspace_inactive"
