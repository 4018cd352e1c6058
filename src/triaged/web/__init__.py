"""The web UI served by ``triaged serve``: the reviewer screens, and a layout to build on.

Server-rendered Jinja2 pages under ``/ui``, static assets from this package
(``/ui/static``; nothing is loaded from any other host), sign-in with a
reviewer or admin key into a signed session cookie, CSRF tokens on every form.
Pages call the same service layer as the API (``service.review``, ...) and hold
no business logic.

Adding a page (the dashboard, say)::

    # src/triaged/web/dashboard.py
    from fastapi import APIRouter, Request
    from triaged.http.deps import ServiceDep
    from triaged.web import WebSession, add_nav_link, page

    router = APIRouter(include_in_schema=False)
    add_nav_link("Dashboard", "/ui/dashboard")

    @router.get("/ui/dashboard")
    def dashboard(request: Request, session: WebSession, service: ServiceDep):
        return page(request, "dashboard.html", {"stats": ...}, session=session)

and a template ``templates/dashboard.html`` that starts with
``{% extends "base.html" %}`` and fills ``{% block content %}`` (also
``title``, ``head`` for ``<link>`` tags, ``scripts`` for ``<script src>`` tags;
inline scripts and styles are blocked by the Content-Security-Policy).  Then add
the router to :data:`ROUTERS` below.  Forms must carry
``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">`` and the
handler must call :func:`check_csrf`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from triaged.errors import RateLimited, TriagedError
from triaged.web import dashboard, pages, review_items_page, review_pages, signup_pages
from triaged.web.deps import WebSession, web_session
from triaged.web.render import HERE, STATIC_PATH, add_nav_link, error_page, page, redirect
from triaged.web.session import CsrfFailed, Session, SignInRequired, check_csrf

__all__ = [
    "ROUTERS",
    "CsrfFailed",
    "Session",
    "SignInRequired",
    "WebSession",
    "add_nav_link",
    "check_csrf",
    "mount_web",
    "page",
    "web_router",
    "web_session",
]

#: every router of the UI, in order
ROUTERS: list[APIRouter] = [
    pages.router,
    review_pages.router,
    review_items_page.router,
    dashboard.router,
    signup_pages.router,
]


def web_router() -> APIRouter:
    """All the UI's pages in one router."""
    router = APIRouter(include_in_schema=False)
    for sub in ROUTERS:
        router.include_router(sub)
    return router


Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

#: UI paths that answer JSON (for a script of the page), so errors stay JSON there
JSON_PATHS = frozenset({"/ui/dashboard/what-if"})


async def _sign_in(request: Request, _exc: Exception) -> Response:
    """To the sign-in page, which comes back to the page asked for (a GET of a page), or
    for a form sent after the session ended, to the page it was sent from, saying that
    what it sent was not saved (it went to a bare sign-in page, the answer silently lost)."""
    if request.method != "GET":
        url = pages.login_url(_sent_from(request))
        return redirect(url + ("&" if "?" in url else "?") + "notice=session_ended")
    query = request.url.query
    return redirect(pages.login_url(request.url.path + ("?" + query if query else "")))


def _sent_from(request: Request) -> str | None:
    """The page of this UI a form was sent from (its Referer, same host), if any."""
    parts = urlsplit(request.headers.get("referer") or "")
    if parts.netloc != request.url.netloc:
        return None
    return parts.path + ("?" + parts.query if parts.query else "")


async def _csrf(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, CsrfFailed) else "forbidden"
    return error_page(request, message, status_code=403)


def _is_page(request: Request) -> bool:
    """A request for a page of the UI (answered in HTML, not the API's JSON)."""
    path = request.url.path
    return path.startswith("/ui/") and path not in JSON_PATHS


def _session_or_none(request: Request) -> Session | None:
    try:
        return web_session(request)
    except TriagedError:
        return None


async def _delegate(
    previous: Handler | None, request: Request, exc: Exception, status: int
) -> Response:
    if previous is None:
        body = exc.to_dict() if isinstance(exc, TriagedError) else {"error": str(exc)}
        return JSONResponse(body, status_code=status)
    out = previous(request, exc)
    return await out if isinstance(out, Awaitable) else out


def _ui_errors(app: FastAPI) -> None:
    """The UI's pages answer their errors with the error page, not the API's JSON: an
    unknown taxonomy in a form, a malformed query parameter, a missing form field."""
    on_error: Handler | None = app.exception_handlers.get(TriagedError)
    on_invalid: Handler | None = app.exception_handlers.get(RequestValidationError)

    async def triaged_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TriagedError)
        if not _is_page(request) or exc.status >= 500:
            return await _delegate(on_error, request, exc, exc.status)
        response = error_page(
            request, exc.message, status_code=exc.status, session=_session_or_none(request)
        )
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _is_page(request):
            return await _delegate(on_invalid, request, exc, 422)
        first: dict[str, Any] = next(iter(exc.errors()), {})
        field = str((first.get("loc") or ("", "value"))[-1])
        message = f"That request is not valid ({field}: {first.get('msg', 'invalid value')})."
        return error_page(request, message, status_code=400, session=_session_or_none(request))

    on_http: Handler | None = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        """An unknown page (404) or method (405) under /ui/: the error page, not JSON."""
        assert isinstance(exc, StarletteHTTPException)
        if not _is_page(request) or exc.status_code >= 500:
            return await _delegate(on_http, request, exc, exc.status_code)
        message = {404: "There is no such page.", 405: "That page cannot be used that way."}
        text = message.get(exc.status_code, "That request cannot be answered.")
        response = error_page(
            request, text, status_code=exc.status_code, session=_session_or_none(request)
        )
        for name, value in (exc.headers or {}).items():  # Allow on a 405
            response.headers[name] = value
        return response

    app.add_exception_handler(TriagedError, triaged_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


def mount_web(app: FastAPI) -> None:
    """Serve the UI from ``app``: pages, ``/ui/static``, the sign-in redirect, and error
    pages for the UI's paths (call after the API's own error handlers are installed)."""
    app.include_router(web_router())
    app.mount(STATIC_PATH, StaticFiles(directory=str(HERE / "static")), name="ui-static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfFailed, _csrf)
    _ui_errors(app)
