"""Rows of ``server_secrets`` (generated server-wide secrets) and ``web_sessions`` (the web
UI's server-side sessions, keyed by the SHA-256 of the id the cookie carries)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from triaged.storage.ids import utcnow
from triaged.storage.rows import AnyRow
from triaged.storage.security import server_secrets, web_sessions

__all__ = [
    "delete_expired_sessions",
    "delete_secret",
    "insert_secret",
    "insert_session",
    "revoke_session",
    "secret_value",
    "session_row",
]


def secret_value(conn: Connection, name: str) -> str | None:
    """The stored value of the secret ``name``, or None."""
    found = conn.execute(
        select(server_secrets.c.value).where(server_secrets.c.name == name)
    ).scalar()
    return None if found is None else str(found)


def insert_secret(conn: Connection, name: str, value: str) -> None:
    """A second insert of the same name raises IntegrityError (the primary key)."""
    conn.execute(insert(server_secrets).values(name=name, value=value, created_at=utcnow()))


def delete_secret(conn: Connection, name: str) -> None:
    conn.execute(delete(server_secrets).where(server_secrets.c.name == name))


def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))


def insert_session(
    conn: Connection, session_hash: str, key_id: str, created_at: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(web_sessions).values(
            id=session_hash,
            key_id=key_id,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def session_row(conn: Connection, session_hash: str) -> AnyRow | None:
    """``key_id``, ``expires_at`` and ``revoked_at`` of the session, or None."""
    return conn.execute(
        select(web_sessions.c.key_id, web_sessions.c.expires_at, web_sessions.c.revoked_at).where(
            web_sessions.c.id == session_hash
        )
    ).first()


def revoke_session(conn: Connection, session_hash: str) -> None:
    """Mark the session revoked now (a revoked one keeps its first revocation time)."""
    conn.execute(
        update(web_sessions)
        .where(web_sessions.c.id == session_hash, web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
