"""Plans: a monthly classify quota (calendar month, UTC) and a per-minute rate.

Two are built in (``free``: 100 a month and 120 a minute; ``unlimited``); an
operator adds others through ``TRIAGED_PLANS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triaged.errors import InvalidInput, TriagedError
from triaged.settings import Settings

__all__ = ["BUILTIN_PLANS", "Plan", "all_plans", "get_plan", "workspace_plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    monthly_quota: int | None
    per_minute: int | None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "monthly_quota": self.monthly_quota,
            "per_minute": self.per_minute,
            "description": self.description,
        }


BUILTIN_PLANS: dict[str, Plan] = {
    "free": Plan("free", 100, 120, "100 classify requests a month, 120 a minute"),
    "unlimited": Plan("unlimited", None, None, "no quota"),
}


def all_plans(settings: Settings) -> dict[str, Plan]:
    plans = dict(BUILTIN_PLANS)
    for name, spec in settings.plans.items():
        plans[name] = Plan(name, spec.monthly_quota, spec.per_minute, spec.description)
    return plans


def get_plan(settings: Settings, name: str) -> Plan:
    plans = all_plans(settings)
    if name not in plans:
        raise InvalidInput(
            f"unknown plan {name!r}; known plans: {sorted(plans)}",
            details={"plan": name, "known": sorted(plans)},
        )
    return plans[name]


def workspace_plan(settings: Settings, name: str) -> Plan:
    """The plan a workspace is on, for a request it makes.  A plan name the server does
    not define (the operator removed it from ``TRIAGED_PLANS``) is the server's fault, not
    the caller's: a 500 that says so, not the 400 ``unknown plan`` an operator gets when
    choosing one."""
    plans = all_plans(settings)
    if name not in plans:
        raise TriagedError(
            f"this workspace's plan {name!r} is not configured on the server; its operator "
            "must define it in TRIAGED_PLANS or move the workspace to another plan "
            "(triaged workspaces set-plan)",
            details={"plan": name},
        )
    return plans[name]
