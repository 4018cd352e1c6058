"""The one place where exceptions become HTTP responses.

Every failure has the shape ``{"error": {"code", "message", "details", "request_id"}}``:
:class:`~triaged.errors.TriagedError` subclasses carry their own status and
code; FastAPI's validation errors become 422 ``validation_error`` (400
``invalid_input`` for a body that is not JSON at all); Starlette's 404/405 and
anything unexpected (500, logged) get the same shape.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from triaged.api.deps import key_refused
from triaged.api.request_id import current as current_request_id
from triaged.errors import NotReady, RateLimited, TriagedError, Unauthenticated, Unavailable

__all__ = ["error_body", "install_error_handlers"]

log = logging.getLogger("triaged.api")

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape; ``request_id`` is the id of the request being answered."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": current_request_id(),
        }
    }


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


async def _triaged_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TriagedError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if isinstance(exc.details.get("quota"), int):  # a plan limit (not failed sign-ins)
            headers["RateLimit-Limit"] = str(exc.details["quota"])
            headers["RateLimit-Remaining"] = "0"
            headers["RateLimit-Reset"] = headers["Retry-After"]
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Unavailable):  # as a database error answered mid-request (/readyz too)
        headers["Retry-After"] = "1"
    if exc.status >= 500 and not isinstance(exc, NotReady):  # NotReady: logged per outage
        log.error("%s: %s (request_id=%s)", exc.code, exc.message, current_request_id())
    body = error_body(exc.code, exc.message, exc.details)
    return JSONResponse(body, status_code=exc.status, headers=headers or None)


def _not_json(request: Request) -> str | None:
    """The request's media type when an API request (``/v1``: no form fields there) says
    its body is something other than JSON (FastAPI then reads no body at all, and validation
    only sees it missing)."""
    if not request.url.path.startswith("/v1/"):
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None
    return media or "no Content-Type"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = await key_refused(request)  # classify: the key before the body (401 first)
    if refused is not None:
        return await _triaged_error(request, refused)
    media = _not_json(request)
    if media is not None and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
        return JSONResponse(
            error_body(
                "unsupported_media_type",
                f"the body must be JSON sent as Content-Type: application/json, got {media}",
                {"content_type": media},
            ),
            status_code=415,
        )
    errors = [
        {
            "field": _loc(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return JSONResponse(
            error_body("invalid_input", "the request body is not valid JSON", {"errors": errors}),
            status_code=400,
        )
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    return JSONResponse(
        error_body("validation_error", f"{first['field']}: {first['message']}", {"errors": errors}),
        status_code=422,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(
        error_body(code, message),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}) or None,
    )


async def _overflow(_request: Request, exc: Exception) -> JSONResponse:
    """A number or date so far out of range that arithmetic on it overflows: the caller's."""
    log.info("overflow on input: %s", exc)
    return JSONResponse(
        error_body("validation_error", "a number or date in the request is out of range"),
        status_code=422,
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database refused or dropped the connection (a restart, a failover, SQLite
    locked beyond its busy timeout): 503 ``unavailable`` with Retry-After, so clients
    and the SDK retry, instead of a 500 that says the request itself was wrong."""
    log.warning("database unavailable (request_id=%s): %s", current_request_id(), exc)
    body = error_body("unavailable", "the database is unavailable; retry shortly")
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    rid = current_request_id()
    log.exception("unhandled error (request_id=%s)", rid, exc_info=exc)
    headers = {"Request-Id": rid} if rid else None  # sent outside RequestIdMiddleware
    return JSONResponse(
        error_body("internal_error", "internal server error"), status_code=500, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TriagedError, _triaged_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _overflow)
    from sqlalchemy.exc import InterfaceError, OperationalError

    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)
    app.add_exception_handler(Exception, _unexpected)
