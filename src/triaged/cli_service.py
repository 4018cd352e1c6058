"""Service commands of the ``triaged`` CLI: ``serve``, ``db``, ``workspaces``, ``keys``.

``triaged.cli`` calls :func:`register` to add them.  Every command takes
``--database-url`` (default ``TRIAGED_DATABASE_URL``, else SQLite in the data
folder) and brings the schema up to date first unless ``TRIAGED_MIGRATE_ON_START``
is false.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from triaged.errors import TriagedError

__all__ = ["register"]

err = Console(stderr=True)
out = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TRIAGED_DATABASE_URL", help="SQLAlchemy database URL."),
]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="TRIAGED_DATA_DIR", help="Data folder.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
workspaces_app = typer.Typer(help="Workspaces (operator).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (operator).", no_args_is_help=True)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except TriagedError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.message}", soft_wrap=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        err.print(f"[red]error[/red] (invalid_settings): {exc}")
        raise typer.Exit(2) from None


def _settings(database_url: str | None, data_dir: Path | None = None, **extra: Any) -> Any:
    from triaged.settings import Settings

    return Settings().with_overrides(database_url=database_url, data_dir=data_dir, **extra)


def _service(database_url: str | None, data_dir: Path | None = None) -> Any:
    from triaged.cli_db import require_database
    from triaged.service import Service

    settings = _settings(database_url, data_dir, bootstrap_admin=False)
    require_database(settings)  # never a new, empty database (`triaged db upgrade` makes one)
    svc = Service(settings)
    svc.start()
    return svc


@contextmanager
def operator_service(database_url: str | None, data_dir: Path | None = None) -> Iterator[Any]:
    """A started Service for an operator command, closed afterwards; errors exit with code 2."""
    with _errors():
        svc = _service(database_url, data_dir)
        try:
            yield svc
        finally:
            svc.close()


def serve(
    host: Annotated[str | None, typer.Option(envvar="TRIAGED_HOST", help="Interface.")] = None,
    port: Annotated[int | None, typer.Option(envvar="TRIAGED_PORT", help="Port.")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations on start.")] = True,
) -> None:
    """Run the HTTP API (FastAPI on uvicorn); first start prints an admin key once."""
    import uvicorn

    from triaged.api import create_app
    from triaged.api.request_id import log_config
    from triaged.service import Service

    with _errors():
        settings = _settings(database_url, data_dir, host=host, port=port, migrate_on_start=migrate)
        service = Service(settings)
        service.start()  # migrate and bootstrap once, before any worker starts
    err.print(
        f"triaged serving on http://{settings.host}:{settings.port} "
        f"(review UI at /ui/, docs at /docs, database "
        f"{service.database_label()})"
    )
    if workers > 1:
        service.close()
        os.environ.update(
            TRIAGED_DATABASE_URL=settings.resolved_database_url,
            TRIAGED_MIGRATE_ON_START="false",
            TRIAGED_BOOTSTRAP_ADMIN="false",
        )
        uvicorn.run(
            "triaged.api:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            # a child loads the encoder and the active models before it answers the
            # supervisor's health check: on a busy box that takes longer than the 5 s default
            timeout_worker_healthcheck=60,
            log_level=settings.log_level,
            access_log=settings.access_log,
            log_config=log_config(),  # every line names its Request-Id
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        )
        return
    uvicorn.run(
        create_app(service=service),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        log_config=log_config(),
        # a request that never ends (a stalled upload) does not keep the process alive
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from triaged.service import Service

    with _errors():
        settings = _settings(database_url, data_dir)
        current = Service.upgrade_database(settings.resolved_database_url, revision)
    out.print(f"database at revision {current}")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Print the schema revision of the database and the newest one available."""
    from triaged.service import Service

    with _errors():
        settings = _settings(database_url, data_dir)
        current, head = Service.database_revisions(settings.resolved_database_url)
        out.print(f"current {current}, head {head}")


@workspaces_app.command("create")
def workspaces_create(
    name: Annotated[str, typer.Argument(help="Workspace name.")],
    plan: Annotated[str, typer.Option(help="free, unlimited or an operator plan.")] = "free",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Create a workspace on a plan."""
    with operator_service(database_url, data_dir) as svc:
        ws = svc.create_workspace(name, plan)
    if as_json:
        print(json.dumps(ws))
    else:
        out.print(f"created workspace [bold]{ws['name']}[/bold] ({ws['id']}) on plan {ws['plan']}")


@workspaces_app.command("list")
def workspaces_list(
    database_url: DatabaseUrl = None, data_dir: DataDir = None, as_json: AsJson = False
) -> None:
    """List workspaces."""
    with operator_service(database_url, data_dir) as svc:
        rows = svc.list_workspaces()
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("name", "plan", "id")
    for r in rows:
        table.add_row(r["name"], r["plan"], r["id"])
    out.print(table)


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace name.")],
    role: Annotated[str, typer.Option(help="admin, reviewer or client.")] = "client",
    name: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Create an API key; the secret is printed once and never stored."""
    with operator_service(database_url, data_dir) as svc:
        info = svc.create_key(workspace, role, name=name)
    if as_json:
        print(json.dumps(info.to_dict()))
    else:
        out.print(f"{info.role.value} key {info.id} for workspace {info.workspace} (shown once):")
        print(info.key)


@keys_app.command("list")
def keys_list(
    workspace: Annotated[str, typer.Option(help="Workspace name.")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List a workspace's keys (prefixes only)."""
    with operator_service(database_url, data_dir) as svc:
        infos = svc.list_keys(workspace)
    if as_json:
        print(json.dumps([i.to_dict() for i in infos]))
        return
    # ids in full, never cut to fit the terminal: they are pasted into `keys revoke`
    table = Table()
    table.add_column("id", no_wrap=True, min_width=max([3, *(len(i.id) for i in infos)]))
    for column in ("role", "prefix", "name", "created", "revoked"):
        table.add_column(column)
    for i in infos:
        table.add_row(
            i.id,
            i.role.value,
            i.prefix + "…",
            i.name,
            i.created_at.isoformat(),
            i.revoked_at.isoformat() if i.revoked_at else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (key_...).")],
    workspace: Annotated[str, typer.Option(help="Workspace name.")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Revoke a key; it stops working at once."""
    with operator_service(database_url, data_dir) as svc:
        info = svc.revoke_key(workspace, key_id)
    if as_json:
        print(json.dumps(info.to_dict()))
    else:
        out.print(f"revoked {info.id}")


def metrics_token(
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the generated token (the old one stops).")
    ] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The token GET /metrics requires: generated on first start and printed once."""
    with operator_service(database_url, data_dir) as svc:
        if svc.settings.metrics_token:
            out.print("GET /metrics uses TRIAGED_METRICS_TOKEN (configured, not generated)")
            return
        if not rotate:
            created = svc.ensure_metrics_token()
            if created is None:
                err.print("a token exists and is kept hashed; --rotate replaces it")
                raise typer.Exit(1)
            print(created)
            return
        print(svc.rotate_metrics_token())


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``db``, ``workspaces``, ``keys`` and ``metrics-token`` to ``triaged``."""
    app.command("serve")(serve)
    app.command("metrics-token")(metrics_token)
    app.add_typer(db_app, name="db")
    app.add_typer(workspaces_app, name="workspaces")
    app.add_typer(keys_app, name="keys")
