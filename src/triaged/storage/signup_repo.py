"""Rows that a self-service sign-up reads and writes: the sign-up lock, the attempts that
the rate limits count, invites, email verifications and the new workspace's contact.

:mod:`triaged.services.signup` holds the policy (modes, limits, tokens, errors); every
function here runs in the caller's write transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, text, update

from triaged.storage.ids import new_id
from triaged.storage.rows import AnyRow
from triaged.storage.signup import email_verifications, invites, signup_attempts
from triaged.storage.tables import workspaces

__all__ = [
    "SIGNUP_LOCK",
    "attempts_since",
    "count_contact_email",
    "delete_attempts_before",
    "insert_attempt",
    "insert_invite",
    "insert_verification",
    "invite_by_hash",
    "invite_state",
    "lock_signups",
    "mark_verification_used",
    "name_taken",
    "set_status_and_contact",
    "spend_invite",
    "stale_pending_workspaces",
    "unspend_invites",
    "verification_with_workspace",
    "workspace_invites",
]

SIGNUP_LOCK = 727375014  # PostgreSQL advisory lock that serialises sign-ups


def lock_signups(conn: Connection) -> None:
    """Serialise sign-ups: a transaction-scoped advisory lock on PostgreSQL (SQLite's write
    transaction holds the database's write lock already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SIGNUP_LOCK})


# ----------------------------------------------------------------- attempts
def delete_attempts_before(conn: Connection, since: datetime) -> None:
    conn.execute(signup_attempts.delete().where(signup_attempts.c.created_at < since))


def attempts_since(
    conn: Connection, since: datetime, client_hash: str | None = None
) -> tuple[int, datetime | None]:
    """How many sign-ups since ``since`` (from ``client_hash`` only, when given) and the
    time of the oldest of them."""
    t = signup_attempts
    query = select(func.count(), func.min(t.c.created_at)).where(t.c.created_at >= since)
    if client_hash is not None:
        query = query.where(t.c.client_hash == client_hash)
    count, oldest = conn.execute(query).one()
    return int(count), oldest


def insert_attempt(conn: Connection, client_hash: str, now: datetime) -> None:
    conn.execute(
        insert(signup_attempts).values(id=new_id("sgn"), client_hash=client_hash, created_at=now)
    )


# ----------------------------------------------------------------- invites
def invite_by_hash(conn: Connection, token_hash: str) -> AnyRow | None:
    """The invite row whose token has this SHA-256, or None."""
    return conn.execute(select(invites).where(invites.c.token_hash == token_hash)).first()


def invite_state(conn: Connection, token_hash: str) -> AnyRow | None:
    """``used_at``, ``expires_at`` and the inviting workspace's ``status`` of the invite whose
    token has this SHA-256, or None."""
    return conn.execute(
        select(invites.c.used_at, invites.c.expires_at, workspaces.c.status)
        .join(workspaces, workspaces.c.id == invites.c.workspace_id)
        .where(invites.c.token_hash == token_hash)
    ).first()


def unspend_invites(conn: Connection, workspace_id: str) -> int:
    """Hand back the invite a sign-up used (the sign-up is being undone); returns rows."""
    done = conn.execute(
        update(invites).where(invites.c.used_by == workspace_id).values(used_at=None, used_by=None)
    )
    return int(done.rowcount)


def spend_invite(conn: Connection, invite_id: str, workspace_id: str, now: datetime) -> int:
    """Mark the invite used by ``workspace_id`` unless it is used; returns rows changed."""
    done = conn.execute(
        update(invites)
        .where(invites.c.id == invite_id, invites.c.used_at.is_(None))
        .values(used_at=now, used_by=workspace_id)
    )
    return int(done.rowcount)


def insert_invite(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(invites).values(**row))


def workspace_invites(conn: Connection, workspace_id: str) -> list[RowMapping]:
    """The invites the workspace handed out, by id."""
    rows = conn.execute(
        select(invites).where(invites.c.workspace_id == workspace_id).order_by(invites.c.id)
    ).mappings()
    return list(rows)


# ----------------------------------------------------------------- workspaces
def _same_mailbox(mailbox: str) -> Any:
    """Contacts that are the mailbox ``mailbox`` (``local@domain``, lowercase, no ``+tag``):
    the address itself or a plus-addressed variant of it (``local+anything@domain``).
    Contacts are stored lowercase (:func:`triaged.services.signup.validate`)."""
    local, _, domain = mailbox.rpartition("@")
    esc = [re.sub(r"([\\%_])", r"\\\1", part) for part in (local, domain)]
    contact = workspaces.c.contact_email
    return (contact == mailbox) | contact.like(f"{esc[0]}+%@{esc[1]}", escape="\\")


def stale_pending_workspaces(conn: Connection, name: str, mailbox: str, now: datetime) -> list[str]:
    """Ids of the pending workspaces named ``name`` or whose contact is ``mailbox`` (a
    ``+tag`` variant too: :func:`count_contact_email`) that have no unused, unexpired
    verification link."""
    live = (
        select(email_verifications.c.workspace_id)
        .where(email_verifications.c.expires_at > now)
        .where(email_verifications.c.used_at.is_(None))
    )
    stale = conn.execute(
        select(workspaces.c.id).where(
            workspaces.c.status == "pending",
            (workspaces.c.name == name) | _same_mailbox(mailbox),
            workspaces.c.id.not_in(live),
        )
    ).all()
    return [workspace_id for (workspace_id,) in stale]


def count_contact_email(conn: Connection, mailbox: str) -> int:
    """How many workspaces have the mailbox ``mailbox`` as their contact: the address
    ``local@domain`` itself or any ``local+tag@domain`` (plus-addressed variants reach the
    same inbox at the providers that offer them, and each counted apart until 6 December)."""
    n: int = conn.execute(
        select(func.count()).select_from(workspaces).where(_same_mailbox(mailbox))
    ).scalar_one()
    return n


def name_taken(conn: Connection, name: str) -> bool:
    """Whether a workspace has ``name``, case aside ("ACME" beside "acme")."""
    found = select(workspaces.c.id).where(func.lower(workspaces.c.name) == name.lower())
    return conn.execute(found).first() is not None


def set_status_and_contact(conn: Connection, workspace_id: str, status: str, email: str) -> None:
    conn.execute(
        update(workspaces)
        .where(workspaces.c.id == workspace_id)
        .values(status=status, contact_email=email)
    )


# ----------------------------------------------------------------- email verifications
def insert_verification(
    conn: Connection,
    token_hash: str,
    workspace_id: str,
    email: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(email_verifications).values(
            token_hash=token_hash,
            workspace_id=workspace_id,
            email=email,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def verification_with_workspace(conn: Connection, token_hash: str) -> AnyRow | None:
    """The verification row with this token hash plus its workspace's ``name`` and
    ``status``, or None."""
    return conn.execute(
        select(email_verifications, workspaces.c.name, workspaces.c.status)
        .join(workspaces, workspaces.c.id == email_verifications.c.workspace_id)
        .where(email_verifications.c.token_hash == token_hash)
    ).first()


def mark_verification_used(conn: Connection, token_hash: str, now: datetime) -> None:
    conn.execute(
        update(email_verifications)
        .where(email_verifications.c.token_hash == token_hash)
        .values(used_at=now)
    )
