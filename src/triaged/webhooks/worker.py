"""Webhook delivery: claim due deliveries from the outbox, post them signed, log, retry.

At least once, never lost: a delivery is claimed with a lease (``claim_token``,
``claimed_until``) in a short transaction — ``SELECT … FOR UPDATE SKIP LOCKED``
on PostgreSQL, a serialised (``BEGIN IMMEDIATE``) conditional update on SQLite —
posted outside any transaction, then settled with an update guarded by the same
token.  A worker that dies in between leaves the claim to expire; the delivery
is then claimed again.  Failures are retried with exponential backoff and jitter
up to ``max_attempts``; every try is logged in ``webhook_attempts``.  The
delivery runs as the ``webhooks`` job (:func:`triaged.services.jobs_tasks.webhooks`).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from triaged.storage import webhook_repo
from triaged.storage.db import Database
from triaged.storage.ids import new_id, utcnow
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.netguard import (
    BlockedDestination,
    GuardedTransport,
    Resolver,
    system_resolver,
)
from triaged.webhooks.retention import prune
from triaged.webhooks.verify import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

__all__ = [
    "Claim",
    "WebhookWorker",
    "backoff_delay",
    "claim_due",
    "deliver",
    "error_class",
    "settle",
]

log = logging.getLogger("triaged.webhooks")
USER_AGENT = "triaged-webhooks/1"
EXCERPT_CHARS = 500
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Claim:
    """One claimed delivery, with everything needed to send it."""

    delivery_id: str
    token: str
    attempt: int
    event_id: str
    event_type: str
    url: str
    secret: str
    payload: dict[str, Any]
    previous_secret: str | None = None  # a rotated secret still in its overlap window


def backoff_delay(
    attempt: int, base_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): exponential, equal jitter."""
    delay = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return float(delay / 2 + (rng or random).uniform(0, delay / 2))


def claim_due(
    db: Database, *, limit: int, lease_s: float, now: datetime | None = None
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries (pending, or with an expired claim) for this worker."""
    now = now or utcnow()
    token = new_id("clm")
    with db.read() as conn:  # cheap check first: an idle poll takes no write lock
        if not webhook_repo.any_due(conn, now):
            return []
    with db.write() as conn:
        ids = webhook_repo.due_ids_for_update(conn, now, limit)
        if not ids:
            return []
        # conditional: only still-due rows are taken
        webhook_repo.take_due(conn, ids, now, token, now + timedelta(seconds=lease_s))
        rows = webhook_repo.claimed_rows(conn, token)
    return [
        Claim(
            delivery_id=r.id,
            token=token,
            attempt=r.attempts + 1,
            event_id=r.event_id,
            event_type=r.type,
            url=r.url,
            secret=r.secret,
            payload=dict(r.payload),
            previous_secret=(
                r.previous_secret
                if r.previous_secret and webhook_repo.previous_until(r, now)
                else None
            ),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def error_class(exc: httpx.HTTPError) -> str:
    """A short, generic name for a failed try: never the OS or receiver text (a port scanner)."""
    if isinstance(exc, BlockedDestination):
        return "blocked_destination"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.ProtocolError):
        return "protocol_error"
    return "transport_error"


def deliver(client: httpx.Client, claim: Claim, *, excerpts: bool = False) -> Outcome:
    """POST one signed delivery; never raises (a transport error is an outcome).

    A failed try records its status code and a generic error class
    (``http_status``, ``timeout``, ``connect_error``, ``blocked_destination``…);
    the response's first characters only with ``excerpts``."""
    body = json.dumps(claim.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(
            body, claim.secret, also=(claim.previous_secret,) if claim.previous_secret else ()
        ),
        EVENT_ID_HEADER: claim.event_id,
        "Triaged-Event-Type": claim.event_type,
        "Triaged-Delivery-Attempt": str(claim.attempt),
    }
    started_at = utcnow()
    t0 = time.perf_counter()
    excerpt: str | None = None
    try:
        response = client.post(claim.url, content=body, headers=headers)
        status: int | None = response.status_code
        error = None if 200 <= response.status_code < 300 else "http_status"
        if excerpts:
            excerpt = response.text[:EXCERPT_CHARS]
    except httpx.HTTPError as exc:
        status, error = None, error_class(exc)
    return Outcome(started_at, (time.perf_counter() - t0) * 1000, status, error, excerpt)


def settle(db: Database, claim: Claim, outcome: Outcome, config: WebhookSettings) -> str:
    """Log the attempt and move the delivery on; returns its new status."""
    now = utcnow()
    if outcome.ok:
        status, next_at = "delivered", now
    elif claim.attempt >= config.max_attempts:
        status, next_at = "failed", now
    else:
        status = "pending"
        delay = backoff_delay(claim.attempt, config.backoff_base_s, config.backoff_max_s)
        next_at = now + timedelta(seconds=delay)
    with db.write() as conn:
        webhook_repo.insert_attempt(
            conn,
            delivery_id=claim.delivery_id,
            attempt=claim.attempt,
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error,
            response_excerpt=outcome.excerpt,
        )
        webhook_repo.settle_delivery(  # guarded: only while this claim's token holds
            conn,
            claim.delivery_id,
            claim.token,
            status=status,
            attempts=claim.attempt,
            next_attempt_at=next_at,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            finished_at=now if status in {"delivered", "failed"} else None,
        )
    return status


class WebhookWorker:
    """The deliverer behind the ``webhooks`` job: an HTTP client behind the SSRF guard and a
    pool of ``concurrency`` senders, kept for the life of a process.

    ``run_once()`` does one claim-and-deliver round; ``drain()`` does rounds until
    nothing is due (the job's body).  Where it runs is the job runner's business:
    a thread of ``triaged serve`` (inline mode) or a periodic job of ``triaged
    worker`` (queue mode, :mod:`triaged.services.jobs_worker`).
    """

    def __init__(
        self,
        db: Database,
        config: WebhookSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.db = db
        self.config = config or WebhookSettings()
        guarded = GuardedTransport(self.config.url_policy(), resolver, transport)
        self._client = httpx.Client(
            timeout=self.config.timeout_s, transport=guarded, follow_redirects=False
        )
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.concurrency, thread_name_prefix="triaged-webhook"
        )
        self._prune_lock = threading.Lock()
        self._next_prune = 0.0  # monotonic time of the next retention sweep

    def run_once(self) -> int:
        """Claim one batch of due deliveries and send them; returns how many were tried."""
        claims = claim_due(self.db, limit=self.config.batch_size, lease_s=self.config.claim_lease_s)
        if not claims:
            return 0
        list(self._pool.map(self._send, claims))
        return len(claims)

    def drain(self, budget_s: float, stop: threading.Event | None = None) -> int:
        """Rounds until nothing is due, ``budget_s`` has passed or ``stop`` is set (the
        round in flight finishes); the outbox is pruned first when an hour has passed.
        Returns how many deliveries were tried."""
        self._prune_if_due()
        deadline = time.monotonic() + budget_s
        tried = 0
        while not (stop is not None and stop.is_set()):
            n = self.run_once()
            tried += n
            if not n or time.monotonic() >= deadline:
                break
        return tried

    def _send(self, claim: Claim) -> str:
        outcome = deliver(self._client, claim, excerpts=self.config.response_excerpts)
        status = settle(self.db, claim, outcome, self.config)
        log.info(
            "webhook %s attempt %d to %s: %s (%s)",
            claim.event_id,
            claim.attempt,
            url_origin(claim.url),
            status,
            outcome.status_code or outcome.error,
        )
        return status

    def _prune_if_due(self) -> None:
        with self._prune_lock:
            now = time.monotonic()
            if now < self._next_prune:
                return
            self._next_prune = now + PRUNE_EVERY_S
        removed = prune(self.db, older_than=timedelta(days=self.config.retention_days))
        if removed:
            log.info("webhook outbox: pruned %d settled rows", removed)

    def close(self) -> None:
        """Stop the senders (a round in flight is not waited for: its claims expire)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def url_origin(url: str) -> str:
    """The scheme, host and port of ``url``, for the log: receivers often carry a secret in
    the path or query (``/hooks/T0KEN?sig=...``), and the full URL went to every line."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    origin = f"{parts.scheme}://{parts.hostname or '?'}{port}"
    return origin + "/…" if parts.path not in ("", "/") or parts.query else origin
