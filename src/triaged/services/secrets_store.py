"""Server-wide secrets generated on first start, and the web UI's server-side sessions.

When the operator configures no ``TRIAGED_SESSION_SECRET`` the web session cookies
are signed with a random secret generated once and kept in ``server_secrets``, so
every worker process (and every restart) signs with the same secret and nothing
derives from a public default.  The ``/metrics`` token, when none is configured,
is generated once and only its SHA-256 is kept.

A web session is a row in ``web_sessions`` keyed by the SHA-256 of a random id
(the cookie carries the id, signed): sign-out revokes the row, so a copied cookie
stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from triaged.services.ids import as_utc, utcnow
from triaged.settings import DEV_KEY_PEPPER, Settings
from triaged.storage import secrets_repo
from triaged.storage.db import Database

__all__ = [
    "METRICS_TOKEN_PREFIX",
    "announce",
    "check_metrics_token",
    "create_web_session",
    "ensure_metrics_token",
    "get_or_create_secret",
    "revoke_web_session",
    "rotate_metrics_token",
    "session_secret",
    "web_session_key_id",
]

log = logging.getLogger("triaged.security")
SESSION_SECRET = "session_secret"
METRICS_TOKEN_SHA256 = "metrics_token_sha256"
METRICS_TOKEN_PREFIX = "trm_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def get_or_create_secret(db: Database, name: str, make: Callable[[], str]) -> tuple[str, bool]:
    """The stored value of ``name``, created with ``make()`` when absent; (value, created).

    Several processes may race on the first start: one insert wins, the others read it."""
    with db.read() as conn:
        found = secrets_repo.secret_value(conn, name)
    if found is not None:
        return found, False
    value = make()
    try:
        with db.write() as conn:
            secrets_repo.insert_secret(conn, name, value)
        return value, True
    except IntegrityError:
        with db.read() as conn:
            stored = secrets_repo.secret_value(conn, name)
        if stored is None:  # pragma: no cover - the insert that won is committed
            raise RuntimeError(f"server secret {name!r} clashed on insert but is absent") from None
        return stored, False


def session_secret(db: Database, configured: str | None) -> str:
    """The configured session secret, else the generated one kept in the database."""
    if configured:
        return configured
    return get_or_create_secret(db, SESSION_SECRET, lambda: secrets.token_urlsafe(48))[0]


def _new_metrics_token() -> str:
    return METRICS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def ensure_metrics_token(db: Database) -> str | None:
    """Generate the ``/metrics`` token on first start; returns it (to print once) or None."""
    holder: list[str] = []

    def make() -> str:
        holder.append(_new_metrics_token())
        return _sha256(holder[0])

    _, created = get_or_create_secret(db, METRICS_TOKEN_SHA256, make)
    return holder[0] if created else None


def rotate_metrics_token(db: Database) -> str:
    """Replace the generated ``/metrics`` token; returns the new one (shown once)."""
    token = _new_metrics_token()
    with db.write() as conn:
        secrets_repo.delete_secret(conn, METRICS_TOKEN_SHA256)
        secrets_repo.insert_secret(conn, METRICS_TOKEN_SHA256, _sha256(token))
    return token


def check_metrics_token(db: Database, configured: str | None, given: str) -> bool:
    """Whether ``given`` is the configured token or, when none is, the generated one."""
    if not given:
        return False
    if configured:
        return hmac.compare_digest(given.encode(), configured.encode())
    with db.lookup() as conn:
        stored = secrets_repo.secret_value(conn, METRICS_TOKEN_SHA256)
    return stored is not None and hmac.compare_digest(_sha256(given), stored)


# ----------------------------------------------------------------- web sessions
def create_web_session(conn: Connection, key_id: str, max_age_s: float) -> str:
    """A new session of ``key_id``; returns its id (for the signed cookie)."""
    now = utcnow()
    secrets_repo.delete_expired_sessions(conn, now)
    sid = secrets.token_urlsafe(32)
    secrets_repo.insert_session(
        conn, _sha256(sid), key_id, created_at=now, expires_at=now + timedelta(seconds=max_age_s)
    )
    return sid


def web_session_key_id(conn: Connection, sid: str) -> str | None:
    """The key of a live session (not revoked, not expired), else None."""
    if not sid:
        return None
    row = secrets_repo.session_row(conn, _sha256(sid))
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) < utcnow():
        return None
    return str(row.key_id)


def revoke_web_session(conn: Connection, sid: str) -> None:
    secrets_repo.revoke_session(conn, _sha256(sid))


def announce(db: Database, settings: Settings) -> list[str]:
    """First-start work and warnings, printed when the app starts; returns the lines printed.

    Generates the web session secret and the ``/metrics`` token when none is
    configured (the token is shown once) and warns
    loudly when the development key pepper is in use (anyone can read it)."""
    lines: list[str] = []
    session_secret(db, settings.session_secret)  # generated now, not on the first sign-in
    if settings.key_pepper == DEV_KEY_PEPPER:
        lines.append(
            "triaged: WARNING: development defaults in use: TRIAGED_KEY_PEPPER is the public "
            "development value, so API key hashes are keyed by a known secret. Set "
            "TRIAGED_KEY_PEPPER (and TRIAGED_ENV=production, which refuses unsafe defaults) "
            "before this service holds real data."
        )
    if settings.metrics_token is None and not settings.metrics_public:
        token = ensure_metrics_token(db)
        if token is not None:
            lines.append(
                "triaged: GET /metrics needs this bearer token (Prometheus: "
                "`authorization: {credentials: ...}`); it is shown only once "
                f"(`triaged metrics-token --rotate` makes a new one):\n\n    {token}\n"
            )
    logged = log.hasHandlers()  # `triaged serve` configures logging; a bare CLI run does not
    for line in lines:
        if "WARNING" in line and logged:
            log.warning(line)  # once: the log handler writes it (it was also printed: twice)
        else:
            print(line, file=sys.stderr if "WARNING" in line else sys.stdout, flush=True)
    return lines
