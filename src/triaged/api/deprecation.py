"""Deprecated aliases kept for one release: every answer of an alias route, its errors
included, carries ``Deprecation: true`` and a ``Link`` to the successor (RFC 8594 style),
with this request's path parameters filled in, so a client can follow it.

A route is an alias when its ``operation_id`` was registered with :func:`deprecated_alias`;
:class:`DeprecatedAliasMiddleware` reads the route the router matched from the ASGI scope
(FastAPI puts it there) when the answer starts, so error handlers need not know about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DeprecatedAliasMiddleware", "alias_headers", "deprecated_alias"]

#: operation id of an alias route -> its successor's path template ("/v1/.../{name}/train")
_SUCCESSORS: dict[str, str] = {}


def deprecated_alias(operation_id: str, successor: str) -> str:
    """Register the route with ``operation_id`` as an alias of ``successor`` (a path template
    with the alias's own parameters); returns ``operation_id`` for ``add_api_route``."""
    _SUCCESSORS[operation_id] = successor
    return operation_id


def alias_headers(scope: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """The headers an answer to ``scope`` gets: none unless its route is an alias."""
    operation_id = getattr(scope.get("route"), "operation_id", None)
    successor = _SUCCESSORS.get(operation_id) if isinstance(operation_id, str) else None
    if successor is None:
        return []
    params = {k: quote(str(v), safe="") for k, v in (scope.get("path_params") or {}).items()}
    try:
        target = successor.format(**params)
    except (KeyError, IndexError):  # a template naming a parameter this route lacks
        return [(b"deprecation", b"true")]
    link = f'<{scope.get("root_path", "")}{target}>; rel="successor-version"'
    return [(b"deprecation", b"true"), (b"link", link.encode("latin-1"))]


class DeprecatedAliasMiddleware:
    """Adds :func:`alias_headers` to every answer (successes and errors alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = alias_headers(scope)
                if extra:
                    names = {name for name, _ in extra}
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                    message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, send_marked)
