"""What a refused form keeps for the page it goes back to, kept out of the address.

A comment, a proposed name or a selection of items is typed work: when the service refuses
the answer the page comes back with it, so nothing has to be typed again.  It travels in
a short-lived cookie (``triaged_form``), never in the URL, where a comment would land in
the browser's history and every access log on the way (until 6 December a 2,000-character
comment made an 18,000-character address).  The cookie is

* signed under the session secret and bound to this session (a hash of its CSRF token):
  nobody else's cookie, or an old one, puts words in a form;
* ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over https, and scoped to the page it is for
  (``Path=/ui/review/<id>``, ``/ui/items``), so no other page sees it;
* gone after 10 minutes, and cleared by the page that showed it.

A cookie holds about 4 kB: what does not fit is dropped, the largest part first (the
comment, then the selection), and the page still says why the answer was refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from triaged.service import Service
from triaged.web.session import Session

__all__ = ["COOKIE", "MAX_AGE_S", "forget", "keep", "recall", "text"]

COOKIE = "triaged_form"
MAX_AGE_S = 600
MAX_BYTES = 3800  # browsers keep a cookie of up to 4096 bytes, name and attributes included
#: dropped in this order when the values do not fit in one cookie
DROP_ORDER = ("note", "item_ids")


def _serializer(request: Request) -> URLSafeTimedSerializer:
    cached = getattr(request.app.state, "web_form_serializer", None)
    if cached is None:
        service: Service = request.app.state.service
        cached = URLSafeTimedSerializer(service.web_session_secret(), salt="triaged.web.form")
        request.app.state.web_form_serializer = cached
    return cached


def _bound_to(session: Session) -> str:
    return hashlib.sha256(b"triaged.web.form\0" + session.csrf.encode()).hexdigest()[:24]


def _encode(request: Request, session: Session, values: dict[str, Any]) -> str | None:
    payload = dict(values)
    serializer = _serializer(request)
    for drop in (None, *DROP_ORDER):
        if drop is not None:
            payload.pop(drop, None)
        value = str(serializer.dumps({"s": _bound_to(session), "v": payload}))
        if len(value) <= MAX_BYTES:
            return value
    return None


def keep(
    request: Request, response: Response, session: Session, path: str, values: dict[str, Any]
) -> None:
    """Keep ``values`` (JSON-able) for the next ``recall`` on ``path`` in this session."""
    if not session.csrf:
        return
    value = _encode(request, session, values)
    if value is None:
        return
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_S,
        path=path,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def recall(request: Request, session: Session) -> dict[str, Any]:
    """The values kept for this page in this session; empty when there are none."""
    raw = request.cookies.get(COOKIE)
    if not raw or not session.csrf:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=MAX_AGE_S)
    except BadSignature:
        return {}
    if not isinstance(data, dict) or data.get("s") != _bound_to(session):
        return {}
    values = data.get("v")
    return values if isinstance(values, dict) else {}


def forget(request: Request, response: Response, path: str) -> None:
    """Clear the kept values of ``path`` once its page showed them."""
    if COOKIE in request.cookies:
        response.delete_cookie(
            COOKIE, path=path, httponly=True, samesite="lax", secure=request.url.scheme == "https"
        )


def text(values: dict[str, Any], name: str, limit: int) -> str:
    """The kept string ``name`` (at most ``limit`` characters), or ``""``."""
    value = values.get(name)
    return value[:limit] if isinstance(value, str) else ""
