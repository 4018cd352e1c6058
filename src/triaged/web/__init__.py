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

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from triaged.web import dashboard, pages, review_items_page, review_pages, signup_pages
from triaged.web.deps import WebSession, web_session
from triaged.web.render import HERE, STATIC_PATH, add_nav_link, page
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


async def _sign_in(request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/ui/login", status_code=303)


async def _csrf(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, CsrfFailed) else "forbidden"
    return page(request, "error.html", {"message": message}, status_code=403)


def mount_web(app: FastAPI) -> None:
    """Serve the UI from ``app``: pages, ``/ui/static`` and the sign-in redirect."""
    app.include_router(web_router())
    app.mount(STATIC_PATH, StaticFiles(directory=str(HERE / "static")), name="ui-static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfFailed, _csrf)
