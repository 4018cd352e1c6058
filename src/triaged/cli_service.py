"""Service commands of the ``triaged`` CLI: ``serve``, ``db``, ``workspaces``, ``keys``.

``triaged.cli`` calls :func:`register` to add them.  Every command takes
``--database-url`` (default ``TRIAGED_DATABASE_URL``, else SQLite in the data
folder) and brings the schema up to date first unless ``TRIAGED_MIGRATE_ON_START``
is false.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from triaged.cli_console import console as make_console
from triaged.errors import InvalidInput, TriagedError

__all__ = ["register"]

err = make_console(stderr=True)
out = make_console()

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


# the database URL the current command resolved (for a one-line connection error)
_database: dict[str, str | None] = {"url": None}


def _fail(code: str, message: str) -> typer.Exit:
    """Print the one-line error and return the exit to raise (code 2: the convention)."""
    err.print(f"[red]error[/red] ({code}): {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


@contextmanager
def _errors() -> Iterator[None]:
    """One line on stderr and exit code 2 for the errors a command expects: triaged's own,
    invalid settings, a database that cannot be reached, a file system refusal."""
    try:
        yield
    except TriagedError as exc:
        raise _fail(exc.code, exc.message) from None
    except ValidationError as exc:
        for problem in _validation_problems(exc):
            err.print(f"[red]error[/red] (invalid_settings): {escape(problem)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        described = _describe(exc)
        if described is None:
            raise
        raise _fail(*described) from None


_SECRET = re.compile(r"pepper|secret|token|password|url", re.IGNORECASE)


def _validation_problems(exc: ValidationError) -> list[str]:
    """One line per problem: ``TRIAGED_PORT: Input should be ... (got 99999)``."""
    prefix = {"Settings": "TRIAGED_", "WebhookSettings": "TRIAGED_WEBHOOK_"}.get(exc.title)
    problems = []
    for e in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in e.get("loc", ()))
        name = f"{prefix}{loc.split('.')[0].upper()}" if prefix and loc else loc
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        given = e.get("input")
        shown = isinstance(given, int | float) or (
            isinstance(given, str) and len(given) <= 60 and not _SECRET.search(loc)
        )
        if loc and shown:
            msg += f" (got {given!r})"
        problems.append(f"{name}: {msg}" if name else msg)
    return problems or [str(exc).splitlines()[0]]


def _describe(exc: Exception) -> tuple[str, str] | None:
    """(code, one-line message) for an error a command may meet, else None (re-raised)."""
    from pydantic_settings import SettingsError

    from triaged.service import describe_database_error

    if isinstance(exc, SettingsError):
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"TRIAGED_{found.group(1).upper()}" if found else "a TRIAGED_* setting"
        cause = exc.__cause__ or exc.__context__
        why = f" ({_first_line(cause)})" if cause is not None else ""
        return "invalid_settings", f"{name} is not valid JSON{why}"
    described = describe_database_error(exc, _database["url"])
    if described is not None:
        return described
    if isinstance(exc, OSError):
        what = f" {exc.filename}" if exc.filename else ""
        return "os_error", f"cannot use{what}: {exc.strerror or _first_line(exc)}"
    return None


def database_shown(database_url: str | None, data_dir: Path | None = None) -> str:
    """The database a command with these options uses, as said to a person (no password)."""
    from sqlalchemy.exc import ArgumentError

    from triaged.db_url import shown_url

    url = _settings(database_url, data_dir).resolved_database_url
    try:
        return shown_url(url)
    except ArgumentError:
        return "the database given"


def _typed_over_environment(data_dir: Path, database_url: str | None) -> bool:
    """Whether ``--data-dir`` was typed on the command line while the database URL came
    from TRIAGED_DATABASE_URL: told apart by value (typer reads both options from the
    environment too, and does not say where a value came from)."""
    env_url = os.environ.get("TRIAGED_DATABASE_URL") or None
    env_dir = os.environ.get("TRIAGED_DATA_DIR") or None
    url_from_env = database_url is None or database_url == env_url
    return url_from_env and env_url is not None and (env_dir is None or Path(env_dir) != data_dir)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _settings(database_url: str | None, data_dir: Path | None = None, **extra: Any) -> Any:
    from triaged.settings import Settings

    settings = Settings().with_overrides(database_url=database_url, data_dir=data_dir, **extra)
    if data_dir is not None and _typed_over_environment(data_dir, database_url):
        # --data-dir typed on the command line beats TRIAGED_DATABASE_URL from the
        # environment (until 7 December the variable won, and `workspaces delete --data-dir
        # other` deleted from the database the shell pointed at)
        settings = Settings(**{**settings.model_dump(), "database_url": None})
    _database["url"] = settings.resolved_database_url
    folder = settings.data_dir
    if settings.database_url is None and folder.exists() and not folder.is_dir():
        raise InvalidInput(
            f"the data folder {folder} (--data-dir or TRIAGED_DATA_DIR) is a file, not a folder",
            details={"data_dir": str(folder)},
        )
    return settings


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
    port: Annotated[
        int | None, typer.Option(envvar="TRIAGED_PORT", min=1, max=65535, help="Port.")
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Apply migrations on start \\[default: TRIAGED_MIGRATE_ON_START, true].",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (FastAPI on uvicorn); first start prints an admin key once."""
    import uvicorn

    from triaged.api import create_app
    from triaged.api.request_id import log_config
    from triaged.service import Service

    with _errors():
        settings = _settings(database_url, data_dir, host=host, port=port, migrate_on_start=migrate)
        if settings.job_queue == "postgres" and not _is_postgres(settings):
            raise InvalidInput(
                "TRIAGED_JOB_QUEUE=postgres needs a PostgreSQL database (--database-url or "
                "TRIAGED_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB); on the "
                "embedded SQLite default leave TRIAGED_JOB_QUEUE unset: `triaged serve` then "
                "runs jobs itself",
                details={"job_queue": "postgres"},
            )
        # before the database is touched: a taken port must not migrate or print keys first
        _check_listen(settings.host, settings.port)
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
    try:
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
    finally:
        if service.abandoned_jobs:  # Ctrl-C: Python would wait for the training thread
            logging.shutdown()
            os._exit(130)


def _is_postgres(settings: Any) -> bool:
    return str(settings.resolved_database_url).startswith(("postgresql:", "postgresql+"))


def _check_listen(host: str, port: int) -> None:
    """Fail with one line when ``host:port`` cannot be bound (taken, not local, no right),
    as uvicorn binds it (SO_REUSEADDR), instead of uvicorn's failure after start-up."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host/--port or "
            "TRIAGED_HOST/TRIAGED_PORT)",
            details={"host": host, "port": port},
        ) from None


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
    from triaged.cli_db import require_database
    from triaged.errors import NotFound
    from triaged.service import Service

    with _errors():
        settings = _settings(database_url, data_dir)
        try:  # never creates one (`triaged db upgrade` does); one without the schema is shown
            require_database(settings)
        except NotFound as exc:
            if exc.details.get("reason") != "no_schema":
                raise
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
        name = escape(ws["name"])
        out.print(f"created workspace [bold]{name}[/bold] ({ws['id']}) on plan {ws['plan']}")


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
        table.add_row(Text(r["name"]), r["plan"], r["id"])
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
        table.add_column(column, overflow="fold")  # cut, never: a name lost its end
    for i in infos:
        table.add_row(
            i.id,
            i.role.value,
            i.prefix + "…",
            Text(i.name),
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
