"""Security tables: server-wide secrets and the web UI's server-side sessions.

``server_secrets`` holds what the service generates on first start when the
operator configured nothing: the web session signing secret (``session_secret``)
and the SHA-256 of the generated ``/metrics`` token (``metrics_token_sha256``).
``web_sessions`` holds one row per signed-in browser, keyed by the SHA-256 of the
random session id its cookie carries; sign-out revokes the row.
``auth_failures`` holds recent failed authentications (API key lookups, web sign-ins) per
subject (``ip:...``, ``key:<prefix>``), so that every API process counts them together.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from triaged.storage.tables import Stamp, metadata

__all__ = ["auth_failures", "server_secrets", "web_sessions"]

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's session id
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False, index=True),
    Column("revoked_at", Stamp, nullable=True),
)

# one row per failure (a surrogate key only), read by subject and time, pruned once old
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(200), nullable=False),
    Column("failed_at", Float, nullable=False),  # epoch seconds: compared across processes
    Index("ix_auth_failures_subject_failed_at", "subject", "failed_at"),
    Index("ix_auth_failures_failed_at", "failed_at"),
)
