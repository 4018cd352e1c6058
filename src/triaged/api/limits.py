"""Request body limits, enforced before the app reads (let alone works on) a body.

A URL whose path or query holds a NUL character is refused (422) first.

A declared ``Content-Length`` over the limit is refused at once; a body without
one (chunked) is read up to the limit and refused as soon as it passes it.
Example uploads (``.../examples``) get their own, larger limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from triaged.api.errors import error_body
from triaged.errors import PayloadTooLarge

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body: int, max_upload: int, max_job_upload: int | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.max_job_upload = max_job_upload or max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _nul_in_url(scope):
            await _refuse_url(send, page=str(scope.get("path", "")).startswith("/ui/"))
            return
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            await self.app(scope, receive, send)
            return
        limit = (
            self.max_upload if scope["path"].rstrip("/").endswith("/examples") else self.max_body
        )
        if scope["path"].rstrip("/") == "/v1/jobs":  # bulk uploads: streamed, never buffered
            await self._stream_counted(scope, receive, send, self.max_job_upload)
            return
        length = _content_length(scope)
        if length is not None:
            if length > limit:
                await _refuse(send, limit, length)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, limit, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _stream_counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the body through as it comes, failing the read once it passes ``limit``."""
        length = _content_length(scope)
        if length is not None and length > limit:
            await _refuse(send, limit, length)
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise PayloadTooLarge(
                        f"the upload is larger than {limit} bytes",
                        details={"limit_bytes": limit},
                    )
            return message

        await self.app(scope, counted, send)


def _nul_in_url(scope: Scope) -> bool:
    """A NUL in the path or the query string fits no database column (PostgreSQL refuses it)."""
    query = scope.get("query_string", b"") or b""
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


#: A page of the web UI asked for with a NUL in its address: a page, not the API's JSON
#: (this guard runs before the app, so before the UI's own error page could)
_NUL_PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad address</title>'
    b"</head><body><main><h1>Bad address</h1><p>The address contains a NUL character.</p>"
    b'<p><a href="/ui/">Back to the queues</a></p></main></body></html>'
)


async def _refuse_url(send: Send, *, page: bool = False) -> None:
    if page:
        body, status, kind = _NUL_PAGE, 400, b"text/html; charset=utf-8"
    else:
        body = json.dumps(
            error_body(
                "validation_error",
                "the URL contains a NUL character",
                {"reason": "bad_character"},
            )
        ).encode()
        status, kind = 422, b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int, got: int | None) -> None:
    details: dict[str, Any] = {"limit_bytes": limit}
    if got is not None:
        details["got_bytes"] = got
    body = json.dumps(
        error_body("payload_too_large", f"request body over the limit of {limit} bytes", details)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
