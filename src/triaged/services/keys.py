"""Workspaces, API keys and authentication.

A key is ``tri_`` plus 43 URL-safe random characters.  It is shown once; the
database keeps an HMAC-SHA256 of it (keyed by ``TRIAGED_KEY_PEPPER``) and a short
prefix for display.  Keys carry one role and can be revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from triaged import inputs
from triaged.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    ValidationFailed,
    WorkspaceInactive,
)
from triaged.services.ids import as_utc, new_id, utcnow
from triaged.storage import key_repo, review_repo, workspace_repo

__all__ = [
    "KeyInfo",
    "Principal",
    "Role",
    "authenticate",
    "authenticate_key_id",
    "authenticate_with_taxonomy",
    "create_key",
    "create_workspace",
    "get_workspace",
    "hash_key",
    "list_keys",
    "revoke_key",
]

KEY_PREFIX = "tri_"
MAX_NAME = 100


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its role, its workspace and a snapshot of its counters."""

    key_id: str
    role: Role
    workspace_id: str
    workspace: str
    plan: str
    period: str | None = None
    period_used: int = 0
    minute: int | None = None
    minute_used: int = 0

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(
                f"this needs a key with role {allowed}; yours is {self.role.value}",
                details={"role": self.role.value, "allowed": [r.value for r in roles]},
            )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    workspace: str
    role: Role
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    key: str | None = None  # only right after creation

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "workspace": self.workspace,
            "role": self.role.value,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
        if self.key is not None:
            data["key"] = self.key
        return data


def hash_key(key: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; use one of {[r.value for r in Role]}", details={"role": role}
        ) from None


def create_workspace(conn: Connection, name: str, plan: str) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a workspace name needs 1 to {MAX_NAME} characters")
    try:  # the rule sign-up applies, for every way a workspace is made (the CLI's too)
        inputs.check_taxonomy_name(name, "name")
    except ValidationFailed:
        raise InvalidInput(
            f"invalid workspace name {name!r}: 1-100 characters of A-Z, a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit",
            details={"field": "name", "pattern": inputs.NAME_PATTERN},
        ) from None
    same = workspace_repo.name_in_use(conn, name)
    if same is not None:
        raise Conflict(f"workspace {same!r} already exists", details={"workspace": same})
    row = {"id": new_id("ws"), "name": name, "plan": plan, "created_at": utcnow()}
    try:
        with conn.begin_nested():
            workspace_repo.insert_workspace(conn, row)
    except IntegrityError:
        raise Conflict(f"workspace {name!r} already exists", details={"workspace": name}) from None
    return row


def get_workspace(conn: Connection, name: str) -> dict[str, Any]:
    row = workspace_repo.workspace_named(conn, name)
    if row is None:
        raise NotFound(f"no workspace {name!r}", details={"workspace": name})
    return row


def get_workspace_by_id(conn: Connection, workspace_id: str) -> dict[str, Any]:
    row = workspace_repo.workspace_by_id(conn, workspace_id)
    if row is None:
        raise NotFound(f"no workspace {workspace_id!r}", details={"workspace_id": workspace_id})
    return row


def create_key(
    conn: Connection, workspace_id: str, workspace: str, role: Role, name: str, pepper: str
) -> KeyInfo:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    info = KeyInfo(
        id=new_id("key"),
        workspace=workspace,
        role=role,
        name=name[:200],
        prefix=secret[:12],
        created_at=utcnow(),
        revoked_at=None,
        key=secret,
    )
    key_repo.insert_key(
        conn,
        key_id=info.id,
        workspace_id=workspace_id,
        name=info.name,
        role=role.value,
        prefix=info.prefix,
        key_hash=hash_key(secret, pepper),
        created_at=info.created_at,
    )
    return info


def _key_info(row: Any, workspace: str) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        workspace=workspace,
        role=Role(row.role),
        name=row.name,
        prefix=row.prefix,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


def list_keys(conn: Connection, workspace_id: str, workspace: str) -> list[KeyInfo]:
    return [_key_info(r, workspace) for r in key_repo.keys_of_workspace(conn, workspace_id)]


def revoke_key(conn: Connection, workspace_id: str, workspace: str, key_id: str) -> KeyInfo:
    row = key_repo.key_of_workspace(conn, workspace_id, key_id)
    if row is None:
        raise NotFound(f"no key {key_id!r}", details={"key_id": key_id})
    if row.revoked_at is None and row.role == Role.ADMIN.value:
        # locked, so two admins revoking each other at once cannot both succeed
        admins = key_repo.live_keys_with_role_for_update(conn, workspace_id, Role.ADMIN.value)
        if len(admins) <= 1:
            raise Conflict(
                "this is the workspace's last admin key; create another admin key first",
                details={"key_id": key_id, "reason": "last_admin_key"},
            )
    if row.revoked_at is None:
        key_repo.mark_revoked(conn, key_id)
        # its claimed items go back to the queue now, not when their leases run out
        now = utcnow()
        released = review_repo.release_claims_of(conn, key_id, now)
        review_repo.insert_events(conn, released, "released", key_id, now, {"reason": "revoked"})
        row = key_repo.key_by_id(conn, key_id)
    return _key_info(row, workspace)


def authenticate(conn: Connection, key: str, pepper: str) -> Principal:
    return _principal(key_repo.auth_row_by_hash(conn, hash_key(key, pepper)))


def authenticate_with_taxonomy(
    conn: Connection, key: str, pepper: str, taxonomy: str
) -> tuple[Principal, Any]:
    """:func:`authenticate`, and in the same statement the row of the key's workspace's
    taxonomy called ``taxonomy`` (see :func:`triaged.services.taxonomies.record_in`)."""
    row = key_repo.auth_row_with_taxonomy(conn, hash_key(key, pepper), taxonomy)
    return _principal(row), row


def authenticate_key_id(conn: Connection, key_id: str) -> Principal:
    """The principal of a key already authenticated once (the web UI's session holds its id)."""
    return _principal(key_repo.auth_row_by_id(conn, key_id))


def _principal(row: Any) -> Principal:
    if row is None or row.revoked_at is not None:
        raise Unauthenticated(
            "invalid or revoked API key", details={"reason": "revoked" if row else "unknown_key"}
        )
    if row.status != "active":  # sign-up (issue 14): email not verified yet, or suspended
        raise WorkspaceInactive(
            f"workspace {row.workspace!r} is {row.status}: "
            + (
                "follow the link in the verification email first"
                if row.status == "pending"
                else "an operator suspended it"
            ),
            details={"reason": f"workspace_{row.status}", "workspace": row.workspace},
        )
    return Principal(
        key_id=row.id,
        role=Role(row.role),
        workspace_id=row.workspace_id,
        workspace=row.workspace,
        plan=row.plan,
        period=row.period,
        period_used=row.period_used or 0,
        minute=row.minute,
        minute_used=row.minute_used or 0,
    )
