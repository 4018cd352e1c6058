"""The SDK's typed workspace result: the calling key's workspace and its plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triaged.client.results import _opt_int

__all__ = ["Plan", "Workspace"]


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan and its limits (``monthly_quota``, ``per_minute``: None when unlimited)."""

    name: str
    monthly_quota: int | None
    per_minute: int | None
    description: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            name=str(data["name"]),
            monthly_quota=_opt_int(data.get("monthly_quota")),
            per_minute=_opt_int(data.get("per_minute")),
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True, slots=True)
class Workspace:
    """The workspace of the calling key (``GET /v1/workspace``)."""

    id: str
    name: str
    plan: Plan
    created_at: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workspace:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            plan=Plan.from_dict(data["plan"]),
            created_at=str(data["created_at"]),
        )
