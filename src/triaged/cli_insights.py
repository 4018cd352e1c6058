"""``triaged insights NAME``: the insights report of a served taxonomy, from its decision log.

    triaged insights support --since 2026-01-01 --format markdown
    triaged insights support --format json --database-url sqlite:///data/triaged.db

Acts on the served database (``--database-url``, default ``TRIAGED_DATABASE_URL`` or
SQLite in the data folder).  ``--workspace`` is needed only when several workspaces
have a taxonomy of that name.  ``triaged.cli`` calls :func:`register`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from triaged.cli_console import console as make_console
from triaged.cli_service import DatabaseUrl, DataDir, _errors, operator_service

__all__ = ["register"]

MAX_WINDOW_HOURS = 24 * 366 * 10  # ten years: far beyond any decision log, far below overflow

err = make_console(stderr=True)


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"
    JSON = "json"


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from None
    if parsed.tzinfo is not None:
        try:  # the window is read in UTC: 0001-01-01T00:00+01:00 has no UTC time
            parsed.astimezone(UTC)
        except OverflowError:
            raise typer.BadParameter(f"out of range in UTC: {value!r}") from None
    return parsed


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
    start, end = _parse_time(since), _parse_time(until)
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        # before the report is computed (seconds), not as a traceback after it
        raise typer.BadParameter(
            f"{output}: not a file in an existing folder", param_hint="'--output' / '-o'"
        )
    with operator_service(database_url, data_dir) as svc:
        operator = svc.operator_for_taxonomy(name, workspace)
        data = svc.taxonomy_insights(operator, name, since=start, until=end)
    with _errors():  # a file the system refuses to write: one line and exit code 2
        _emit(data, fmt, output)


def _emit(data: dict[str, Any], fmt: Format, output: Path | None) -> None:
    from triaged.insights.render import render_text, to_html, to_markdown

    if fmt is Format.TEXT:
        if output is None:
            render_text(data, Console(width=max(Console().width, 120)))
        else:
            with output.open("w", encoding="utf-8") as fh:
                render_text(data, Console(file=fh, width=140))
            err.print(f"wrote {output}", soft_wrap=True, markup=False)
        return
    if fmt is Format.JSON:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    elif fmt is Format.MARKDOWN:
        text = to_markdown(data)
    else:
        text = to_html(data)
    if output is not None:
        output.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        err.print(f"wrote {output}", soft_wrap=True, markup=False)
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
    recent_hours: Annotated[
        float | None,
        typer.Option(
            help="Recent window (hours, > 0) \\[default: TRIAGED_DRIFT_RECENT_HOURS, 24]."
        ),
    ] = None,
    baseline_hours: Annotated[
        float | None,
        typer.Option(
            help="Baseline window before it (hours, > 0) \\[default: TRIAGED_DRIFT_BASELINE_HOURS, "
            "168]."
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="Significance, between 0 and 1 (Bonferroni-corrected) \\[default: "
            "TRIAGED_DRIFT_ALPHA, 0.01]."
        ),
    ] = None,
    min_volume: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Decisions needed per window \\[default: TRIAGED_DRIFT_MIN_VOLUME, 100].",
        ),
    ] = None,
    min_change: Annotated[
        float | None,
        typer.Option(
            help="Smallest absolute change of a share reported, 0 to 1 \\[default: "
            "TRIAGED_DRIFT_MIN_CHANGE, 0.02].",
        ),
    ] = None,
    per_label: Annotated[
        bool | None,
        typer.Option(
            "--per-label/--no-per-label",
            help="Also test each label's share \\[default: TRIAGED_DRIFT_PER_LABEL, false].",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Check every taxonomy; record each new alert and send it to the `alert.drift` webhooks."""
    with _errors():  # a bad option is one line and exit code 2, before the database is opened
        cfg = _drift_config(recent_hours, baseline_hours, alpha, min_volume, min_change, per_label)
    with operator_service(database_url, data_dir) as svc:
        found = svc.check_drift(cfg, workspace)
    if as_json:
        sys.stdout.write(json.dumps({"alerts": found}, indent=2) + "\n")
        return
    for a in found:
        what = escape(f"{a['workspace']}/{a['taxonomy']}: {a['message']}")
        err.print(f"[yellow]drift[/yellow] {what}")
    err.print(f"{len(found)} new drift alert(s)")


def _drift_config(
    recent_hours: float | None,
    baseline_hours: float | None,
    alpha: float | None,
    min_volume: int | None,
    min_change: float | None,
    per_label: bool | None,
) -> Any:
    """The options given, else the server's ``TRIAGED_DRIFT_*``; a bad one is refused."""
    from triaged.errors import InvalidInput
    from triaged.service import drift_config
    from triaged.settings import Settings

    s = Settings()
    recent = s.drift_recent_hours if recent_hours is None else recent_hours
    baseline = s.drift_baseline_hours if baseline_hours is None else baseline_hours
    windows = {"--recent-hours": recent, "--baseline-hours": baseline}
    for option, hours in windows.items():
        if not 0 < hours <= MAX_WINDOW_HOURS:
            raise InvalidInput(
                f"{option} must be above 0 and at most {MAX_WINDOW_HOURS}, got {hours:g}",
                details={"field": option.lstrip("-").replace("-", "_")},
            )
    if min_change is not None and not 0 <= min_change <= 1:
        raise InvalidInput(
            f"--min-change must be from 0 to 1, got {min_change:g}",
            details={"field": "min_change"},
        )
    return drift_config(
        s,
        recent_hours=recent,
        baseline_hours=baseline,
        alpha=alpha,
        min_volume=min_volume,
        min_change=min_change,
        per_label=per_label,
    )


def register(app: typer.Typer) -> None:
    app.command("insights")(insights)
    app.add_typer(drift_app, name="drift")
