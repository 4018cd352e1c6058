"""Signing and verifying webhook payloads (HMAC-SHA256, replay-safe); standard library only.

Every delivery carries ``Triaged-Signature: t=<unix seconds>,v1=<hex>``, where the
hex digest is ``HMAC-SHA256(secret, f"{t}.{body}")`` over the exact raw body, and
``Triaged-Event-Id`` (use it to drop duplicates: delivery is at least once).

A receiver checks it with :func:`verify_signature` (re-exported as
``triaged.verify_signature`` and ``triaged.client.verify_signature``); importing it loads
nothing of the server::

    from triaged import verify_signature

    if not verify_signature(request_body, headers["Triaged-Signature"], secret):
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "sign_payload",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "Triaged-Signature"
EVENT_ID_HEADER = "Triaged-Event-Id"
DEFAULT_TOLERANCE_S = 300


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + payload`` keyed by ``secret``."""
    message = str(int(timestamp)).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(
    payload: bytes, secret: str, timestamp: int | None = None, *, also: Sequence[str] = ()
) -> str:
    """The ``Triaged-Signature`` value for ``payload`` signed now (or at ``timestamp``):
    one ``v1=`` per secret, ``secret`` first, then those in ``also`` (a rotated secret in
    its overlap window)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digests = ",".join(f"v1={sign_payload(payload, s, ts)}" for s in (secret, *also))
    return f"t={ts},{digests}"


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` is a valid, fresh signature of the raw ``payload`` bytes.

    Refuses a timestamp more than ``tolerance_s`` seconds away from ``now`` (a
    replayed old delivery), a malformed header, and any digest that does not
    match (compared in constant time).  Several ``v1=`` entries are accepted: after a
    secret rotation (``POST /v1/webhooks/{id}/rotate-secret``) triaged signs with the new
    and the old secret until the old one's overlap window ends, so a receiver that knows
    either accepts the delivery.
    """
    if not isinstance(payload, bytes | bytearray) or not header or not secret:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign_payload(bytes(payload), secret, timestamp)
    matched = False
    for candidate in candidates:
        # no early exit: every candidate is compared in constant time
        matched |= hmac.compare_digest(expected.encode(), candidate.lower().encode())
    return matched
