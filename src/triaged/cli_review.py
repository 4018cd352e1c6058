"""Review and learning commands of the ``triaged`` CLI (operator side).

``triaged review stats|lanes|train|versions|rollback`` act on a served database
(``--database-url``, default ``TRIAGED_DATABASE_URL`` or SQLite in the data
folder) as the workspace's operator; ``triaged train --taxonomy NAME`` is the
same as ``triaged review train NAME``.  ``triaged.cli`` calls :func:`register`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from triaged.cli_console import console as make_console
from triaged.cli_service import DatabaseUrl, DataDir, operator_service
from triaged.cli_training_bar import served_progress, training_bar
from triaged.wording import plural

__all__ = ["register", "train_served"]

err = make_console(stderr=True)
out = make_console()

review_app = typer.Typer(help="Review queue and learning loop (operator).", no_args_is_help=True)

Workspace = Annotated[
    str, typer.Option("--workspace", "-w", envvar="TRIAGED_WORKSPACE", help="Workspace name.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _operator(svc: Any, workspace: str) -> Any:
    """An admin principal for the operator of ``workspace`` (the CLI holds no API key)."""
    return svc.operator(workspace)


def train_served(
    taxonomy: str,
    *,
    workspace: str,
    database_url: str | None,
    data_dir: Path | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    """Retrain and recalibrate a served taxonomy on its examples plus reviews; waits."""
    with operator_service(database_url, data_dir) as svc:
        principal = _operator(svc, workspace)
        with training_bar(served_progress(svc, principal, taxonomy)):
            version: dict[str, Any] = svc.review.retrain(
                principal, taxonomy, wait=True, trigger="cli"
            )
    if as_json:
        print(json.dumps(version))
    else:
        ev = version.get("evaluation") or {}
        err.print(
            f"model {version['id']} ({version['status']}, "
            f"{plural(version['n_examples'], 'example')}, "
            f"{version.get('n_review_examples') or 0} from review); held-out reviewed: "
            f"n={ev.get('n_eval', 0)} accuracy={_fmt(ev.get('accuracy'))} ece={_fmt(ev.get('ece'))}"
        )
    return version


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


@review_app.command("train")
def review_train(
    taxonomy: Annotated[str, typer.Argument(help="Taxonomy name.")],
    workspace: Workspace = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Retrain + recalibrate a served taxonomy on its examples plus reviewed decisions."""
    train_served(
        taxonomy,
        workspace=workspace,
        database_url=database_url,
        data_dir=data_dir,
        as_json=as_json,
    )


@review_app.command("versions")
def review_versions(
    taxonomy: Annotated[str, typer.Argument(help="Taxonomy name.")],
    workspace: Workspace = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Model versions of a taxonomy with their evaluation on held-out reviews."""
    with operator_service(database_url, data_dir) as svc:
        versions = svc.review.versions(_operator(svc, workspace), taxonomy)
    if as_json:
        print(json.dumps(versions))
        return
    table = Table(title=Text(f"model versions of {taxonomy}"))
    # ids whole on any terminal width: they are what `review rollback` takes
    table.add_column("id", no_wrap=True, min_width=max([2, *(len(v["id"]) for v in versions)]))
    for col in ("status", "active", "trigger", "examples", "from review", "accuracy", "ece"):
        table.add_column(col)
    for v in versions:
        ev = v.get("evaluation") or {}
        table.add_row(
            v["id"],
            v["status"],
            "yes" if v["active"] else "",
            v.get("trigger") or "-",
            str(v["n_examples"]),
            str(v.get("n_review_examples") or 0),
            _fmt(ev.get("accuracy")),
            _fmt(ev.get("ece")),
        )
    out.print(table)


@review_app.command("rollback")
def review_rollback(
    taxonomy: Annotated[str, typer.Argument(help="Taxonomy name.")],
    model_id: Annotated[str, typer.Argument(help="A ready model id (see `review versions`).")],
    workspace: Workspace = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Make an earlier model version the active one."""
    with operator_service(database_url, data_dir) as svc:
        version = svc.review.rollback(_operator(svc, workspace), taxonomy, model_id)
    print(json.dumps(version))


@review_app.command("stats")
def review_stats(
    workspace: Workspace = "default",
    taxonomy: Annotated[str | None, typer.Option(help="Only this taxonomy.")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Queue depth and age, reviewer throughput, agreement and lane error, as JSON."""
    with operator_service(database_url, data_dir) as svc:
        stats = svc.review.stats(_operator(svc, workspace), taxonomy=taxonomy)
    print(json.dumps(stats, indent=1))


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
