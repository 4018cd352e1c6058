"""``Request-Id`` on every response, in every error body and in the log lines of a request.

A caller's own ``Request-Id`` (or ``X-Request-Id``) is kept when it is sane — 1 to 128
characters of letters, digits and ``-_.:`` — so ids can be followed across services;
otherwise one is generated (``req_`` and 24 hex digits).  The id is held in a context
variable for the request: :func:`current` reads it (error bodies), and :class:`RequestIdFilter`
and :func:`install_log_filter` put it on every log record as ``request_id`` (``-`` outside a
request); :func:`log_config` is uvicorn's logging configuration with the id on every line
(``triaged serve`` uses it), access lines included.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HEADER",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "current",
    "install_log_filter",
    "log_config",
]

HEADER = "Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return _current.get()


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name in (b"request-id", b"x-request-id"):
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _SANE.match(text) else None
    return None


class RequestIdMiddleware:
    """Outermost middleware: sets the id before anything else runs (body limits included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming(scope) or new_request_id()
        token = _current.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"request-id", b"x-request-id")
                ]
                headers.append((b"request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # keep the id: Starlette's outermost error middleware answers the 500 in this same
            # task, after this one, and its handler puts the id in the body and the header
            raise
        _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current request's id, or ``-``) for formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current.get() or "-"
        return True


def install_log_filter() -> None:
    """Every log record made from now on carries ``request_id`` (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_triaged_request_id", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = _current.get() or "-"
        return record

    make._triaged_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the request id on every line, and the
    ``triaged`` loggers (access lines, errors) written to stderr like uvicorn's own."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": "triaged.api.request_id.RequestIdFilter"}}
    for formatter in config["formatters"].values():
        formatter["fmt"] = formatter["fmt"] + " request_id=%(request_id)s"
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["loggers"]["triaged"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
