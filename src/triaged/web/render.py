"""Templates, filters and the page response (with its security headers).

Every page extends ``base.html``.  Its blocks: ``title``, ``head`` (extra
``<link>`` tags), ``content`` (the page body, inside ``<main>``) and
``scripts`` (``<script src>`` tags; inline scripts are refused by the
Content-Security-Policy).  The layout shows the navigation links registered with
:func:`add_nav_link`, the signed-in workspace and a sign-out button.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from triaged import __version__
from triaged.wording import plural

__all__ = [
    "NAV_LINKS",
    "SECURITY_HEADERS",
    "STATIC_PATH",
    "NavLink",
    "add_nav_link",
    "error_page",
    "human_age",
    "page",
    "redirect",
    "templates",
]

HERE = Path(__file__).parent
STATIC_PATH = "/ui/static"  # same-origin, relative to the host: right behind any proxy

#: Content-Security-Policy of every page: only this origin, no inline script or style
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    path: str
    #: the role values (``"admin"``, ``"reviewer"``) that see the link; None: every role
    roles: tuple[str, ...] | None = None

    def shown_to(self, session: Any) -> bool:
        """Whether the signed-in ``session`` (a :class:`~triaged.web.session.Session`) may
        follow the link (a link that answers 403 is not shown)."""
        if self.roles is None:
            return True
        role = getattr(getattr(session, "principal", None), "role", None)
        return getattr(role, "value", role) in self.roles


#: the layout's navigation, in order; other pages (the dashboard) add theirs
NAV_LINKS: list[NavLink] = [NavLink("Queues", "/ui/")]


def add_nav_link(label: str, path: str, *, roles: tuple[str, ...] | None = None) -> None:
    """Show a link to ``path`` in the layout's navigation (idempotent); ``roles``: only to
    sessions of these roles (default: all)."""
    link = NavLink(label, path, roles)
    if link not in NAV_LINKS:
        NAV_LINKS.append(link)


def human_age(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 d``; an em dash for nothing."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{int(s)} s"
    if s < 3600:
        return f"{int(s // 60)} min"
    if s < 86400:
        return f"{int(s // 3600)} h"
    return f"{int(s // 86400)} d"


def _since(iso: str | None) -> str:
    if not iso:
        return "—"
    then = datetime.fromisoformat(iso)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return human_age((datetime.now(UTC) - then).total_seconds())


def _until(iso: str | None) -> str:
    if not iso:
        return "—"
    then = datetime.fromisoformat(iso)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return human_age((then - datetime.now(UTC)).total_seconds())


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * float(value):.0f}%"


def _build() -> Jinja2Templates:
    tpl = Jinja2Templates(directory=str(HERE / "templates"))
    tpl.env.filters["age"] = human_age
    tpl.env.filters["since"] = _since
    tpl.env.filters["until"] = _until
    tpl.env.filters["percent"] = _percent
    tpl.env.filters["plural"] = plural
    tpl.env.globals["version"] = __version__
    tpl.env.globals["asset"] = lambda name: f"{STATIC_PATH}/{name}"
    tpl.env.globals["nav_links"] = NAV_LINKS
    return tpl


templates = _build()


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    session: Any = None,
) -> HTMLResponse:
    """Render template ``name``; ``session`` (a :class:`~triaged.web.session.Session`) fills
    the layout's workspace, sign-out form and CSRF token."""
    ctx: dict[str, Any] = {"session": session, "csrf_token": getattr(session, "csrf", "")}
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(
    request: Request,
    message: str,
    *,
    status_code: int,
    session: Any = None,
    back: tuple[str, str] | None = None,
) -> HTMLResponse:
    """The UI's error page (``error.html``): ``message`` and a link back (``back``: its
    path and text; default: the queues)."""
    path, text = back or ("/ui/", "Back to the queues")
    context = {"message": message, "back_path": path, "back_text": text}
    return page(request, "error.html", context, status_code=status_code, session=session)


def redirect(url: str) -> RedirectResponse:
    """A 303 to ``url`` with the pages' security headers: ``Cache-Control: no-store`` keeps
    the browser from replaying a redirect it saw while signed in (Back after signing out
    would otherwise loop between the sign-in page and the queues)."""
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response
