"""``Cache-Control: no-store`` on every ``/v1`` answer that does not set its own.

API answers are one key's data, and some carry secrets shown once (a new key, a sign-up's
admin key, a webhook secret): no shared or browser cache should keep them.  The web pages
set the same header themselves (:mod:`triaged.web.render`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoStoreMiddleware"]


class NoStoreMiddleware:
    """Adds ``Cache-Control: no-store`` to ``/v1`` responses without a ``Cache-Control``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
