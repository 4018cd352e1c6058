"""Sign-up (``/ui/signup``), the verification link (``/ui/signup/verify``) and the usage page.

The sign-up form has no session yet, so it carries the sign-in form's double-submit
token (:meth:`SessionCodec.login_token`).  A successful sign-up shows the admin key
once, with the quick-start call filled in; nothing else ever shows it again.  That page
is never cached, and a success spends the form's token (a new one is set), so reloading it,
which re-sends the form, creates nothing: it answers 409 naming the
workspace the form already created (from a short-lived cookie) instead of a second sign-up
refused as a taken name and counted against the address's limit.  Any other form with a
spent or expired token (another tab opened before that sign-up) comes back filled in with
a fresh token (403).  The
usage page (``/ui/usage``, admins) shows this month's classify requests against the
plan's quota, per day and per key, the reset date and what happens at the limit.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from triaged.errors import RateLimited, TriagedError
from triaged.http.deps import ServiceDep, client_subject
from triaged.service import Role
from triaged.web.deps import WebSession
from triaged.web.render import add_nav_link, page
from triaged.web.session import CsrfFailed, SessionCodec
from triaged.web.usage_chart import daily_requests_chart

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Names the workspace a sign-up form created, so that the form sent again (a reload of the
#: page that showed the key) is answered for what it is.  Not a secret: the name only.
DONE_COOKIE = "triaged_signed_up"
DONE_MAX_AGE_S = 3600
#: Where an error page of sign-up sends a visitor, who has no session ("Back to the queues"
#: led to a sign-in wall)
SIGN_IN = {"back_path": "/ui/login", "back_text": "Sign in"}
add_nav_link("Usage", "/ui/usage", roles=(Role.ADMIN.value,))  # 403 for reviewers


def _form(
    request: Request, service: Any, context: dict[str, Any], status_code: int = 200
) -> Response:
    settings = service.settings
    if settings.signup == "off":
        return page(
            request,
            "error.html",
            {"message": "Self-service sign-up is off on this server; ask its operator.", **SIGN_IN},
            status_code=404,
        )
    codec = SessionCodec.for_request(request)
    token, fresh = codec.login_token(request)
    plan = service.plan(settings.signup_plan)
    response = page(
        request,
        "signup.html",
        {
            "login_token": token,
            "mode": settings.signup,
            "plan": plan,
            "verify": bool(settings.smtp_url),
            **context,
        },
        status_code=status_code,
    )
    if fresh:
        codec.set_login_cookie(request, response, token)
    return response


@router.get("/ui/signup", response_class=HTMLResponse)
def signup_form(request: Request, service: ServiceDep, invite: str = "") -> Response:
    return _form(request, service, {"invite": invite[:200], "name": "", "email": ""})


@router.post("/ui/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    service: ServiceDep,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=300)] = "",
    invite: Annotated[str, Form(max_length=200)] = "",
    login_token: Annotated[str, Form()] = "",
) -> Response:
    codec = SessionCodec.for_request(request)
    try:
        codec.check_login_token(request, login_token)
    except CsrfFailed:
        done = request.cookies.get(DONE_COOKIE, "")[:200]
        if done and done.lower() == name.strip().lower():  # the key page, reloaded
            message = (
                f"This form already created the workspace {done}; its admin key was shown "
                "once, on the page you reloaded. If it was not copied, an operator can issue "
                "a new key (triaged keys create)."
            )
            return page(request, "error.html", {"message": message, **SIGN_IN}, status_code=409)
        # a form opened before another sign-up in this browser, or left open past its
        # token's life (or forged): nothing is done; it comes back filled in, with a fresh
        # token (reloading an error page would send the stale token again)
        again = "This form had expired; nothing was created. Check it and send it again."
        context = {"error": again, "name": name, "email": email, "invite": invite}
        return _form(request, service, context, status_code=403)
    base = str(request.base_url).rstrip("/")
    try:
        result = service.signup(
            name, email, client=client_subject(request), base_url=base, invite=invite or None
        )
    except TriagedError as exc:
        context = {"error": exc.message, "name": name, "email": email, "invite": invite}
        response = _form(request, service, context, status_code=exc.status)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    response = page(request, "signup_done.html", {"result": result}, status_code=201)
    response.headers["Cache-Control"] = "no-store"  # the key is in this page
    codec.set_login_cookie(request, response, codec.new_login_token())  # this form's token is spent
    response.set_cookie(
        DONE_COOKIE,
        str(result["workspace"]["name"]),
        max_age=DONE_MAX_AGE_S,
        path="/ui/signup",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/ui/signup/verify", response_class=HTMLResponse)
def verify_form(request: Request, token: str = "") -> Response:
    """The emailed link: a page with a button, so that a mail scanner or a browser's
    prefetch opening the link does not activate the workspace (a GET changes nothing)."""
    response = page(request, "signup_verify.html", {"token": token[:200]})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@router.post("/ui/signup/verify", response_class=HTMLResponse)
def verify(
    request: Request, service: ServiceDep, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        result = service.verify_signup(token)
    except TriagedError as exc:
        context = {"message": exc.message, **SIGN_IN}
        return page(request, "error.html", context, status_code=exc.status)
    return page(request, "signup_verified.html", {"result": result})


@router.get("/ui/usage", response_class=HTMLResponse)
def usage(request: Request, session: WebSession, service: ServiceDep) -> Response:
    if session.principal.role != Role.ADMIN:
        return page(
            request,
            "error.html",
            {"message": "The usage page is for the workspace's admins; sign in with an admin key."},
            status_code=403,
            session=session,
        )
    report = service.usage_report(session.principal)
    return page(
        request,
        "usage.html",
        {"u": report, "chart": daily_requests_chart(report["per_day"])},
        session=session,
    )
