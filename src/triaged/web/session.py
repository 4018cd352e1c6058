"""The reviewer's browser session: a signed cookie, CSRF tokens, and who is signed in.

The cookie (``triaged_session``) holds a random server-side session id and a CSRF
token, signed with itsdangerous under ``TRIAGED_SESSION_SECRET`` or, when none is
configured, a random secret generated on first start and kept in the database
(:mod:`triaged.services.secrets_store`) — never anything derived from a public
default.  It never holds the API key itself.  Every request looks the session
up (sign-out revokes it) and re-checks its key (revoking the key signs the
browser out).  Flags: ``HttpOnly``, ``SameSite=Lax``,
``Secure`` when the request came over https.

Forms carry the session's CSRF token; the sign-in form, which has no session
yet, uses a short-lived signed token that must match a cookie (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from triaged.errors import Forbidden, Unauthenticated
from triaged.service import Principal, Role, Service

__all__ = [
    "LOGIN_COOKIE",
    "REVIEW_ROLES",
    "SESSION_COOKIE",
    "CsrfFailed",
    "Session",
    "SessionCodec",
    "SignInRequired",
    "message_params",
    "read_message",
    "read_signed",
    "signed_params",
]

SESSION_COOKIE = "triaged_session"
LOGIN_COOKIE = "triaged_login"
SESSION_MAX_AGE_S = 12 * 3600
LOGIN_MAX_AGE_S = 3600
REVIEW_ROLES = (Role.REVIEWER, Role.ADMIN)


class SignInRequired(Unauthenticated):
    """No valid session: the web UI answers with a redirect to the sign-in page."""

    code = "sign_in_required"


class CsrfFailed(Forbidden):
    """A form came without the right CSRF token."""

    code = "csrf_failed"


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str
    sid: str = ""


class SessionCodec:
    """Signs and reads the two cookies of the web UI."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="triaged.web.session")
        self._login = URLSafeTimedSerializer(secret, salt="triaged.web.login")

    @staticmethod
    def for_request(request: Request) -> SessionCodec:
        codec = getattr(request.app.state, "web_session_codec", None)
        if codec is None:
            service: Service = request.app.state.service
            secret = service.web_session_secret()
            codec = SessionCodec(secret)
            request.app.state.web_session_codec = codec
        return codec

    # ----------------------------------------------------------- the session
    def read(self, request: Request) -> Session:
        """The signed-in reviewer, re-checked against the key table; else SignInRequired."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            raise SignInRequired("sign in with a reviewer key")
        try:
            data: dict[str, Any] = self._session.loads(raw, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            raise SignInRequired("your session has expired; sign in again") from None
        service: Service = request.app.state.service
        sid = str(data.get("sid", "")) if isinstance(data, dict) else ""
        try:
            principal = service.web_session_principal(sid)
        except Unauthenticated:
            raise SignInRequired("this key was revoked; sign in again") from None
        if principal is None:
            raise SignInRequired("your session has ended; sign in again")
        if principal.role not in REVIEW_ROLES:
            raise SignInRequired("this key may not review")
        return Session(principal, str(data.get("csrf", "")), sid)

    def start(self, request: Request, response: Response, principal: Principal) -> None:
        service: Service = request.app.state.service
        sid = service.start_web_session(principal, SESSION_MAX_AGE_S)
        value = self._session.dumps({"sid": sid, "csrf": secrets.token_urlsafe(24)})
        _set(request, response, SESSION_COOKIE, value, SESSION_MAX_AGE_S)

    @staticmethod
    def end(request: Request, response: Response, session: Session) -> None:
        """Sign out: the session is revoked server-side (a copied cookie stops working)."""
        service: Service = request.app.state.service
        service.end_web_session(session.sid)
        response.delete_cookie(SESSION_COOKIE, path="/")

    # -------------------------------------------------------- sign-in form
    def login_token(self, request: Request) -> tuple[str, bool]:
        """A CSRF token for the sign-in form and whether it is new (then set it as a cookie)."""
        nonce = request.cookies.get(LOGIN_COOKIE) or ""
        try:
            self._login.loads(nonce, max_age=LOGIN_MAX_AGE_S // 2)
            return nonce, False
        except BadSignature:
            return self.new_login_token(), True

    def new_login_token(self) -> str:
        """A fresh sign-in/sign-up form token (set it as the cookie to spend the old one)."""
        return str(self._login.dumps(secrets.token_urlsafe(16)))

    @staticmethod
    def set_login_cookie(request: Request, response: Response, token: str) -> None:
        _set(request, response, LOGIN_COOKIE, token, LOGIN_MAX_AGE_S)

    def check_login_token(self, request: Request, token: str) -> None:
        cookie = request.cookies.get(LOGIN_COOKIE) or ""
        try:
            self._login.loads(token, max_age=LOGIN_MAX_AGE_S)
        except BadSignature:
            raise CsrfFailed("the sign-in form expired; reload the page") from None
        if not cookie or not hmac.compare_digest(cookie.encode(), token.encode()):
            raise CsrfFailed("the sign-in form expired; reload the page")


def check_csrf(session: Session, token: str) -> None:
    if not session.csrf or not hmac.compare_digest(session.csrf.encode(), token.encode()):
        raise CsrfFailed("this form is stale or forged; reload the page and try again")


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def message_params(session: Session, text: str) -> dict[str, str]:
    """Query parameters carrying a message to the page a form redirects to: the text and its
    HMAC under the session's CSRF token, so that a link from anyone else (a crafted
    ``?error=...`` that would put a phishing line on a real page) shows nothing."""
    return signed_params(session, error=text[:300])


def read_message(session: Session, params: Any) -> str | None:
    """The message of :func:`message_params` when its signature is this session's."""
    return read_signed(session, params, "error")


def signed_params(session: Session, **fields: str) -> dict[str, str]:
    """Each field and its signature (``<field>_sig``) for this session (see above)."""
    out: dict[str, str] = {}
    for name, text in fields.items():
        out[name] = text
        out[f"{name}_sig"] = _message_sig(session, name, text)
    return out


def read_signed(session: Session, params: Any, name: str) -> str | None:
    """The field ``name`` of :func:`signed_params` when its signature is this session's."""
    text, sig = params.get(name), params.get(f"{name}_sig")
    if not text or not sig or not session.csrf:
        return None
    good = hmac.compare_digest(_message_sig(session, name, str(text)), str(sig))
    return str(text) if good else None


def _message_sig(session: Session, name: str, text: str) -> str:
    key = (session.csrf or "").encode()
    payload = name.encode() + b"\0" + text.encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()[:32]
