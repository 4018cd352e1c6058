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

from sqlalchemy import Connection, func, select, update

from triaged.errors import InvalidInput
from triaged.services import keys, quota
from triaged.services.ids import as_utc
from triaged.services.plans import Plan
from triaged.storage.signup import purge_workspace
from triaged.storage.tables import api_keys, decisions, quota_counters, workspaces

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
    n_keys = (
        select(api_keys.c.workspace_id, func.count().label("n"))
        .where(api_keys.c.revoked_at.is_(None))
        .group_by(api_keys.c.workspace_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            workspaces,
            quota_counters.c.period,
            quota_counters.c.period_used,
            n_keys.c.n,
        )
        .outerjoin(quota_counters, quota_counters.c.workspace_id == workspaces.c.id)
        .outerjoin(n_keys, n_keys.c.workspace_id == workspaces.c.id)
        .order_by(workspaces.c.name)
    ).mappings()
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
    conn.execute(update(workspaces).where(workspaces.c.id == ws["id"]).values(status=status))
    return {"id": ws["id"], "name": ws["name"], "status": status, "previous": ws["status"]}


def set_plan(conn: Connection, name: str, plan: Plan) -> dict[str, Any]:
    ws = keys.get_workspace(conn, name)
    conn.execute(update(workspaces).where(workspaces.c.id == ws["id"]).values(plan=plan.name))
    return {"id": ws["id"], "name": ws["name"], "plan": plan.name, "previous": ws["plan"]}


def delete_workspace(conn: Connection, name: str) -> dict[str, Any]:
    """Remove the workspace and every row of it (decisions, reviews, webhooks, keys, ...)."""
    ws = keys.get_workspace(conn, name)
    deleted = purge_workspace(conn, ws["id"])
    return {"id": ws["id"], "name": ws["name"], "deleted": deleted}


def _day(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", decisions.c.created_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", decisions.c.created_at)


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
    day = _day(conn).label("day")
    in_month = (decisions.c.workspace_id == workspace_id, decisions.c.created_at >= start)
    by_day = {
        str(d): int(n)
        for d, n in conn.execute(select(day, func.count()).where(*in_month).group_by(day)).all()
    }
    days = []
    d = start
    while d.date() <= now.date():
        iso = d.date().isoformat()
        days.append({"day": iso, "requests": by_day.get(iso, 0)})
        d += timedelta(days=1)
    key_rows = conn.execute(
        select(decisions.c.key_id, func.count().label("n"))
        .where(*in_month)
        .group_by(decisions.c.key_id)
    ).all()
    names = {
        r.id: r
        for r in conn.execute(
            select(api_keys.c.id, api_keys.c.name, api_keys.c.prefix, api_keys.c.role).where(
                api_keys.c.workspace_id == workspace_id
            )
        )
    }
    per_key = []
    for key_id, n in sorted(key_rows, key=lambda r: (-int(r.n), str(r.key_id))):
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
