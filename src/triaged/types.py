"""Small value types shared by the engine, the server and the SDK (standard library only).

The SDK (:mod:`triaged.client`) imports these, so this module must never import numpy,
the engine, storage or the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Alternative", "Bucket"]


class Bucket(StrEnum):
    """Where a decision goes: act (``auto``), act and spot-check (``review``), wait (``hold``)."""

    AUTO = "auto"
    REVIEW = "review"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Alternative:
    """A runner-up label and its share of the confidence."""

    label: str
    confidence: float
