"""Webhook signatures, for the server's deliverer: the code lives in :mod:`triaged.signing`
(standard library only, so the SDK and receivers import it without the server)."""

from triaged.signing import (
    DEFAULT_TOLERANCE_S,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign_payload,
    signature_header,
    verify_signature,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "sign_payload",
    "signature_header",
    "verify_signature",
]
