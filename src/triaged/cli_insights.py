"""``triaged insights NAME``: the insights report of a served taxonomy, from its decision log.

    triaged insights support --since 2026-01-01 --format markdown
    triaged insights support --format json --database-url sqlite:///data/triaged.db

Reads the database directly (``--database-url``, default ``TRIAGED_DATABASE_URL`` or
SQLite in the data folder).  ``--workspace`` is needed only when several workspaces
have a taxonomy of that name.  ``triaged.cli`` calls :func:`register`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from triaged.cli_service import DatabaseUrl, DataDir, operator_service

__all__ = ["register"]

err = Console(stderr=True)


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    JSON = "json"


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from None


def _find_record(svc: Any, name: str, workspace: str | None) -> Any:
    from sqlalchemy import select

    from triaged.errors import InvalidInput, NotFound
    from triaged.services import keys
    from triaged.services.taxonomies import TaxonomyRecord, get_record
    from triaged.storage.tables import taxonomies

    with svc.db.read() as conn:
        if workspace is not None:
            ws = keys.get_workspace(conn, workspace)
            return get_record(conn, ws["id"], name)
        rows = conn.execute(select(taxonomies).where(taxonomies.c.name == name)).all()
    if not rows:
        raise NotFound(f"no taxonomy {name!r}", details={"taxonomy": name})
    if len(rows) > 1:
        raise InvalidInput(
            f"{len(rows)} workspaces have a taxonomy {name!r}; pick one with --workspace",
            details={"taxonomy": name},
        )
    return TaxonomyRecord.from_row(rows[0])


def insights(
    name: Annotated[str, typer.Argument(help="Taxonomy name.")],
    since: Annotated[
        str | None, typer.Option(help="ISO date/time, inclusive (default: 30 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="ISO date/time, exclusive.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TEXT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", envvar="TRIAGED_WORKSPACE", help="Workspace name."),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Gap clusters, overlapping labels and label health of a taxonomy's recent decisions."""
    from triaged.insights.render import render_text, to_html, to_markdown
    from triaged.services.insights import taxonomy_insights

    start, end = _parse_time(since), _parse_time(until)
    with operator_service(database_url, data_dir) as svc:
        record = _find_record(svc, name, workspace)
        with svc.db.read() as conn:
            data = taxonomy_insights(conn, record, since=start, until=end)
    if fmt is Format.TEXT:
        if output is None:
            render_text(data, Console(width=max(Console().width, 120)))
        else:
            with output.open("w", encoding="utf-8") as fh:
                render_text(data, Console(file=fh, width=140))
            err.print(f"wrote {output}")
        return
    if fmt is Format.JSON:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    elif fmt is Format.MARKDOWN:
        text = to_markdown(data)
    else:
        text = to_html(data)
    if output is not None:
        output.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))


drift_app = typer.Typer(help="Drift of the bucket shares (for a scheduler).", no_args_is_help=True)


@drift_app.command("check")
def drift_check(
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="TRIAGED_WORKSPACE",
            help="Workspace name (default: every workspace).",
        ),
    ] = None,
    recent_hours: Annotated[float, typer.Option(help="Recent window.")] = 24,
    baseline_hours: Annotated[float, typer.Option(help="Baseline window before it.")] = 168,
    alpha: Annotated[float, typer.Option(help="Significance (Bonferroni-corrected).")] = 0.01,
    min_volume: Annotated[int, typer.Option(help="Decisions needed per window.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Check every taxonomy; record each new alert and send it to the ``alert.drift`` webhooks."""
    from datetime import timedelta

    from triaged.drift import DriftConfig
    from triaged.services import keys
    from triaged.services.insights import record_drift_alerts

    cfg = DriftConfig(
        recent=timedelta(hours=recent_hours),
        baseline=timedelta(hours=baseline_hours),
        alpha=alpha,
        min_volume=min_volume,
    )
    found: list[dict[str, Any]] = []
    with operator_service(database_url, data_dir) as svc:
        with svc.db.read() as conn:
            spaces = [keys.get_workspace(conn, workspace)] if workspace else svc.list_workspaces()
        for ws in spaces:
            with svc.db.write() as conn:
                for alert in record_drift_alerts(conn, ws["id"], config=cfg):
                    found.append({**alert, "workspace": ws["name"]})
    if as_json:
        sys.stdout.write(json.dumps({"alerts": found}, indent=2) + "\n")
        return
    for a in found:
        err.print(f"[yellow]drift[/yellow] {a['workspace']}/{a['taxonomy']}: {a['message']}")
    err.print(f"{len(found)} new drift alert(s)")


def register(app: typer.Typer) -> None:
    app.command("insights")(insights)
    app.add_typer(drift_app, name="drift")
