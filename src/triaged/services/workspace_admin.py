"""Operator and admin views of workspaces: list, suspend, re-plan, delete, usage.

:func:`usage_report` is what the usage page shows a workspace admin: this month's
classify requests against the plan's quota (the exact counter the quota is enforced
on), the requests per day and per key (from the decision log, which gets one row per
counted request in the same transaction), the reset date and what happens at the
limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput
from triaged.services import keys, quota
from triaged.services.ids import as_utc
from triaged.services.plans import Plan
from triaged.storage import decision_repo, key_repo, quota_repo, workspace_repo
from triaged.storage.purge_repo import purge_workspace

__all__ = [
    "STATUSES",
    "at_limit_text",
    "delete_workspace",
    "overview",
    "set_plan",
    "set_status",
    "usage_report",
]

STATUSES = ("active", "pending", "suspended")


def overview(conn: Connection, win: quota.Window) -> list[dict[str, Any]]:
    """Every workspace with its status, contact, keys and this month's count."""
    rows = workspace_repo.overview_rows(conn)
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "plan": r["plan"],
            "status": r["status"],
            "contact_email": r["contact_email"],
            "created_at": as_utc(r["created_at"]).isoformat(),
            "keys": int(r["n"] or 0),
            "used_this_month": int(r["period_used"] or 0) if r["period"] == win.period else 0,
        }
        for r in rows
    ]


def set_status(conn: Connection, name: str, status: str) -> dict[str, Any]:
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; use one of {list(STATUSES)}")
    ws = keys.get_workspace(conn, name)
    workspace_repo.set_status(conn, ws["id"], status)
    return {"id": ws["id"], "name": ws["name"], "status": status, "previous": ws["status"]}


def set_plan(conn: Connection, name: str, plan: Plan) -> dict[str, Any]:
    ws = keys.get_workspace(conn, name)
    workspace_repo.set_plan(conn, ws["id"], plan.name)
    return {"id": ws["id"], "name": ws["name"], "plan": plan.name, "previous": ws["plan"]}


def delete_workspace(conn: Connection, name: str) -> dict[str, Any]:
    """Remove the workspace and every row of it (decisions, reviews, webhooks, keys, ...)."""
    ws = keys.get_workspace(conn, name)
    deleted = purge_workspace(conn, ws["id"])
    return {"id": ws["id"], "name": ws["name"], "deleted": deleted}


def at_limit_text(plan: Plan) -> str:
    if plan.monthly_quota is None:
        return f"Plan {plan.name} has no monthly quota" + (
            f"; above {plan.per_minute} requests a minute the API answers 429 rate_limited "
            "with Retry-After."
            if plan.per_minute
            else "."
        )
    return (
        f"After {plan.monthly_quota} classify requests in a calendar month (UTC) the API "
        "answers 429 with the error code quota_exceeded and a Retry-After header until the "
        "quota resets; nothing is classified or counted meanwhile. An operator can move the "
        "workspace to another plan (triaged workspaces set-plan)."
    )


def usage_report(
    conn: Connection, workspace_id: str, plan: Plan, win: quota.Window
) -> dict[str, Any]:
    """The usage page's numbers: the month against the quota, per day, per key."""
    base = quota.usage(conn, workspace_id, plan, win)
    now = datetime.fromtimestamp(win.now, UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    first_day = start.date().isoformat()
    by_day = decision_repo.requests_per_day(conn, workspace_id, start)
    for day, n in quota_repo.daily_per_day(conn, workspace_id, first_day).items():
        by_day[day] = by_day.get(day, 0) + n  # + bulk rows run with log=false
    days = []
    d = start
    while d.date() <= now.date():
        iso = d.date().isoformat()
        days.append({"day": iso, "requests": by_day.get(iso, 0)})
        d += timedelta(days=1)
    per_key_n: dict[str, int] = {
        str(r.key_id or ""): int(r.n)
        for r in decision_repo.requests_per_key(conn, workspace_id, start)
    }
    for key_id, n in quota_repo.daily_per_key(conn, workspace_id, first_day):
        per_key_n[key_id] = per_key_n.get(key_id, 0) + n
    names = key_repo.key_names(conn, workspace_id)
    per_key = []
    for key_id, n in sorted(per_key_n.items(), key=lambda r: (-r[1], r[0])):
        info = names.get(key_id)
        per_key.append(
            {
                "key_id": key_id,
                "name": info.name if info else "",
                "prefix": info.prefix if info else "",
                "role": info.role if info else "",
                "requests": int(n),
            }
        )
    limit = plan.monthly_quota
    return {
        **base,
        "plan_info": plan.to_dict(),
        "share": None if not limit else min(1.0, base["used"] / limit),
        "per_day": days,
        "per_key": per_key,
        "at_limit": at_limit_text(plan),
    }
