"""Sign-in, sign-out and the queue overview."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import unquote, urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from triaged.errors import RateLimited, Unauthenticated, WorkspaceInactive
from triaged.http.deps import ServiceDep, auth_subjects, auth_throttle
from triaged.service import Principal, Service
from triaged.web.deps import WebSession
from triaged.web.render import page, redirect
from triaged.web.session import REVIEW_ROLES, SessionCodec, SignInRequired, check_csrf

__all__ = [
    "NOTICES",
    "QUEUES",
    "login_url",
    "queue_overview",
    "router",
    "safe_next",
    "see_other",
    "taxonomy_queues",
]

router = APIRouter(include_in_schema=False)

QUEUES = ("hold", "review", "audit")
QUEUE_HELP = {
    "hold": "No action until you decide",
    "review": "Acted on; check the label",
    "audit": "Random sample of automatic decisions",
}
NOTICES = {
    "empty": "Nothing left to review here. Well done.",
    "skipped_last": (
        "Nothing else is waiting here: the only item left is the one you just skipped. "
        "Take it again when you are ready."
    ),
    "lost": "That item is no longer yours: its lease ran out or it was resolved.",
    "invalid": "That needs a valid label or a name for the new category.",
    "signed_out": "You are signed out.",
    "saved": "Saved.",
    "session_ended": "Your session had ended, so that was not saved: sign in and do it again.",
}
#: the notices that say something was refused or lost: shown as an error (role "alert")
REFUSALS = frozenset(
    {"lost", "invalid", "reopen_refused", "nothing_to_undo", "forbidden", "session_ended"}
)


def see_other(url: str) -> RedirectResponse:
    """A 303 to ``url`` that no browser caches (with the pages' security headers)."""
    return redirect(url)


def safe_next(target: str | None) -> str:
    """``target`` when it is a page of this UI (a local path under ``/ui/``), else ``/ui/``:
    no other host (``//evil``, ``/\\evil``, ``https://...``), no control characters."""
    if not target or len(target) > 2000 or not target.startswith("/ui/"):
        return "/ui/"
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/ui/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or "//" in parts.path:
        return "/ui/"
    # "%2e%2e" is a ".." to the browser, which would leave /ui/ (to /docs, say)
    decoded = parts.path
    for _ in range(3):
        decoded = unquote(decoded)
    if any(seg in (".", "..") for seg in decoded.split("/")):
        return "/ui/"
    if parts.path in ("/ui/login", "/ui/logout"):
        return "/ui/"
    return target


def login_url(target: str | None) -> str:
    """The sign-in page, with ``next`` when ``target`` is a page worth coming back to."""
    target = safe_next(target)
    return "/ui/login" + ("?" + urlencode({"next": target}) if target != "/ui/" else "")


@router.get("/")
def root() -> RedirectResponse:
    """The service's home page is the review UI."""
    return see_other("/ui/")


def _login_page(request: Request, context: dict[str, Any], status_code: int = 200) -> Response:
    codec = SessionCodec.for_request(request)
    token, fresh = codec.login_token(request)
    response = page(
        request, "login.html", {**context, "login_token": token}, status_code=status_code
    )
    if fresh:
        codec.set_login_cookie(request, response, token)
    return response


@router.get("/ui/login", response_class=HTMLResponse)
def login_form(request: Request, notice: str | None = None, next: str = "") -> Response:
    target = safe_next(next)
    try:
        SessionCodec.for_request(request).read(request)
        return see_other(target)
    except SignInRequired:
        context = {"notice": NOTICES.get(notice or ""), "notice_failed": notice in REFUSALS}
        return _login_page(request, {**context, "next": target})


@router.post("/ui/login", response_class=HTMLResponse)
def login(
    request: Request,
    service: ServiceDep,
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Sign in, then go to ``next`` (the page asked for while signed out; only a page of
    this UI) or the queues."""
    codec = SessionCodec.for_request(request)
    target = safe_next(next)
    codec.check_login_token(request, login_token)
    error = None
    principal: Principal | None = None
    throttle = auth_throttle(request)
    subjects = auth_subjects(request, api_key.strip())
    try:
        throttle.check(subjects[:1])  # the client: see auth_subjects
        try:
            principal = service.authenticate(api_key.strip())
        except WorkspaceInactive as exc:  # pending email verification, or suspended
            error = exc.message
            throttle.fail(subjects)
        except Unauthenticated:
            error = "That key is not valid (or was revoked)."
            throttle.fail(subjects)  # past the limit: 429 (a burst all passed the check)
    except RateLimited as exc:
        response = _login_page(request, {"error": exc.message, "next": target}, status_code=429)
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    if principal is not None and principal.role not in REVIEW_ROLES:
        error = f"A {principal.role.value} key cannot review; use a reviewer or admin key."
    if error is not None or principal is None:
        return _login_page(request, {"error": error, "next": target}, status_code=401)
    response = see_other(target)
    codec.start(request, response, principal)
    return response


@router.post("/ui/logout")
def logout(
    request: Request, session: WebSession, csrf_token: Annotated[str, Form()] = ""
) -> RedirectResponse:
    check_csrf(session, csrf_token)
    response = see_other("/ui/login?notice=signed_out")
    SessionCodec.end(request, response, session)
    return response


def taxonomy_queues(service: Service, principal: Principal, taxonomy: str) -> dict[str, Any]:
    """Counts and oldest age per queue of one taxonomy (from the review service)."""
    counts = service.review.items(principal, taxonomy=taxonomy, limit=1)["counts"]
    return {
        "taxonomy": taxonomy,
        "queues": [{"name": q, **counts.get(q, {})} for q in QUEUES],
        "open": sum(int(counts.get(q, {}).get("open", 0)) for q in QUEUES),
    }


def queue_overview(service: Service, principal: Principal) -> list[dict[str, Any]]:
    """One row per taxonomy of the caller's workspace."""
    return [
        taxonomy_queues(service, principal, tax["name"])
        for tax in service.list_taxonomies(principal)
    ]


@router.get("/ui/", response_class=HTMLResponse)
def overview(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    notice: str | None = None,
    taxonomy: str = "",
    queue: str = "",
) -> Response:
    rows = queue_overview(service, session.principal)
    # after skipping the last item: a button that takes it again (same taxonomy and queue)
    take_again = (
        {"taxonomy": taxonomy, "queue": queue if queue in QUEUES else ""}
        if notice == "skipped_last"
        else None
    )
    return page(
        request,
        "overview.html",
        {
            "rows": rows,
            "queue_help": QUEUE_HELP,
            "notice": NOTICES.get(notice or ""),
            "notice_failed": notice in REFUSALS,
            "total_open": sum(r["open"] for r in rows),
            "take_again": take_again,
        },
        session=session,
    )
