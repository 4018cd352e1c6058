"""The dashboard's model panel: which model version serves the taxonomy, a training in
progress (its stage, steps and ETA, as ``services/training_progress`` records them), the
latest failed training when it is newer than the active model, and the last versions.

An admin retrains from it (``POST /ui/dashboard/train``, see :mod:`triaged.web.dashboard`)
the way ``POST /v1/taxonomies/{name}/train`` does: on the examples plus the reviewed
decisions, with ``dashboard`` as the version's trigger.  A training already running for
the taxonomy's current version is joined, not doubled: that is a notice, not an error.
"""

from __future__ import annotations

from typing import Any

from triaged.errors import TriagedError
from triaged.service import Principal, Role, Service

__all__ = ["NOTICES", "RECENT", "TRIGGER", "model_panel", "retrain", "summarise"]

#: how many versions the panel lists
RECENT = 5
#: the trigger recorded on a version the dashboard's button started
TRIGGER = "dashboard"
NOTICES = {
    "training_started": (
        "Training started: a new model version is training on the examples and the "
        "reviewed decisions; it becomes active once it is ready."
    ),
    "training_running": (
        "This taxonomy is already training its current version: no second training was "
        "started (its progress is below)."
    ),
}
TRIGGERS = {
    "api": "the API (POST …/train)",
    "auto": "new reviews (automatic retrain)",
    TRIGGER: "the dashboard (Retrain now)",
}


def model_panel(service: Service, principal: Principal, taxonomy: str) -> dict[str, Any]:
    """The panel's context: ``active``, ``training``, ``failed``, ``recent`` and ``total``
    (or ``error`` and its ``status``: the versions could not be read)."""
    try:
        versions = service.review.versions(principal, taxonomy)
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        return {"error": exc.message, "status": exc.status}
    return summarise(versions)


def summarise(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """``versions`` newest first (``service.review.versions``), as the panel shows them."""
    shown = [_version(v) for v in versions]
    active = next((v for v in shown if v["active"]), None)
    training = next((v for v in shown if v["status"] == "training"), None)
    failed = next((v for v in shown if v["status"] == "failed"), None)
    if failed is not None and active is not None and not _newer(failed, active):
        failed = None  # an old failure the active model has replaced since
    return {
        "active": active,
        "training": training,
        "failed": failed,
        "recent": shown[:RECENT],
        "total": len(shown),
    }


def _version(row: dict[str, Any]) -> dict[str, Any]:
    """One version with what the template shows: a short id and model version, the
    trigger in words, and the progress as a whole percent."""
    progress = row.get("progress")
    trigger = row.get("trigger")
    mid = str(row["id"])
    return {
        **row,
        "active": bool(row.get("active")),
        # ids start with their time (versions share a prefix): the tail tells them apart
        "short_id": mid if len(mid) <= 16 else f"{mid[:4]}…{mid[-8:]}",
        "short_version": str(row.get("model_version") or "")[:12],
        "trigger_text": TRIGGERS.get(trigger, trigger) if trigger else "a new taxonomy version",
        "percent": None if not progress else round(100 * float(progress["fraction"])),
    }


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` was created after ``b`` (ISO times in UTC, as the service writes them)."""
    return str(a.get("created_at") or "") > str(b.get("created_at") or "")


def retrain(service: Service, principal: Principal, taxonomy: str) -> str:
    """Start a training of ``taxonomy`` (admin): the notice to show, ``training_started``,
    or ``training_running`` when one for its current version was running already (the
    service returns that one instead of starting another)."""
    principal.require(Role.ADMIN)
    running = {
        v["id"] for v in service.review.versions(principal, taxonomy) if v["status"] == "training"
    }
    job = service.review.retrain(principal, taxonomy, trigger=TRIGGER)
    return "training_running" if job["id"] in running else "training_started"
