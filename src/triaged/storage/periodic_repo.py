"""Rows of the background rounds: the claim of a period in ``periodic_runs`` (one process
per period runs a round) and the workspaces a round visits.

Plain functions on a ``Connection``: the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from triaged.storage.ids import utcnow
from triaged.storage.jobs import periodic_runs
from triaged.storage.tables import workspaces

__all__ = ["claim_period", "workspace_ids"]


def claim_period(conn: Connection, name: str, period: int) -> bool:
    """True when this transaction moved ``name``'s claim to ``period`` (or made the first);
    False when ``period`` (or a later one) is already claimed."""
    t = periodic_runs.c
    moved = conn.execute(
        update(periodic_runs)
        .where(t.name == name, t.period < period)
        .values(period=period, ran_at=utcnow())
    )
    if moved.rowcount:
        return True
    if conn.execute(select(t.period).where(t.name == name)).first() is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(insert(periodic_runs).values(name=name, period=period, ran_at=utcnow()))
    except IntegrityError:  # another process inserted it first
        return False
    return True


def workspace_ids(conn: Connection) -> list[str]:
    """Every workspace's id, in order."""
    return [
        str(w) for w in conn.execute(select(workspaces.c.id).order_by(workspaces.c.id)).scalars()
    ]
