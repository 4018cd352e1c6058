"""Operator commands for a server that runs triaged for other teams (issue 14):
``triaged workspaces list|suspend|activate|delete|erase|set-plan`` and ``triaged invites
create``.

They join the ``workspaces`` group of :mod:`triaged.cli_service` (whose ``create`` stays
there); ``list`` here replaces its shorter listing with status, contact and usage.

``triaged keys list`` and ``keys revoke ID`` replace the ``keys`` group's versions with ones
whose ``--workspace`` is optional, as the README shows them: without it ``list`` lists the
keys of every workspace (with a workspace column) and ``revoke`` finds the workspace from the
key id (ids are unique).  The operator CLI works on the database itself and can already
create an admin key in any workspace, so listing key metadata (ids, prefixes, never secrets)
across workspaces shows it nothing it could not see before.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from triaged.cli_console import console as make_console
from triaged.cli_service import (
    AsJson,
    DatabaseUrl,
    DataDir,
    database_shown,
    keys_app,
    operator_service,
    workspaces_app,
)
from triaged.settings import is_base_url

__all__ = ["register"]

err = make_console(stderr=True)
out = make_console()

invites_app = typer.Typer(help="Sign-up invites (TRIAGED_SIGNUP=invite).", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="Workspace name.")]


MAX_INVITE_HOURS = 8760  # a year, the API's bound


def workspaces_list(
    database_url: DatabaseUrl = None, data_dir: DataDir = None, as_json: AsJson = False
) -> None:
    """List workspaces: plan, status, contact email, active keys, requests this month
    (`--json` adds ids and creation times)."""
    with operator_service(database_url, data_dir) as svc:
        rows = svc.workspaces_overview()
    if as_json:
        print(json.dumps(rows))
        return
    table = Table()
    for column in ("name", "plan", "status", "contact", "keys", "this month"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            Text(r["name"]),
            r["plan"],
            r["status"],
            Text(r["contact_email"] or ""),
            str(r["keys"]),
            str(r["used_this_month"]),
        )
    out.print(table)


def workspaces_suspend(
    name: Name, database_url: DatabaseUrl = None, data_dir: DataDir = None, as_json: AsJson = False
) -> None:
    """Suspend a workspace: its keys are refused (403 workspace_inactive) until activated."""
    with operator_service(database_url, data_dir) as svc:
        res = svc.set_workspace_status(name, "suspended")
    print(json.dumps(res)) if as_json else out.print(f"suspended workspace {res['name']}")


def workspaces_activate(
    name: Name, database_url: DatabaseUrl = None, data_dir: DataDir = None, as_json: AsJson = False
) -> None:
    """Re-activate a suspended workspace (or one whose email was never verified)."""
    with operator_service(database_url, data_dir) as svc:
        res = svc.set_workspace_status(name, "active")
    print(json.dumps(res)) if as_json else out.print(f"activated workspace {res['name']}")


def workspaces_delete(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Delete a workspace and every row of it: decisions, reviews, webhooks, keys, taxonomies."""
    where = database_shown(database_url, data_dir)  # said, so a stray setting is seen in time
    if not yes and not typer.confirm(
        f"Delete workspace {name!r} and all its data from {where}? This cannot be undone"
    ):
        raise typer.Exit(1)
    with operator_service(database_url, data_dir) as svc:
        res = svc.delete_workspace(name)
    if as_json:
        print(json.dumps(res))
        return
    rows = sum(n for t, n in res["deleted"].items() if t != "workspaces")
    out.print(
        Text(f"deleted workspace {res['name']} ({res['id']}) and {rows} rows of it from {where}")
    )


def workspaces_erase(
    name: Name,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A decision id (repeat for more).")
    ] = None,
    external_ids: Annotated[
        list[str] | None,
        typer.Option("--external-id", help="Every decision sent with this external id (repeat)."),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Erase the text and metadata of a workspace's decisions (a person's right to
    erasure), as POST /v1/decisions/erase does: labels and review outcomes stay."""
    with operator_service(database_url, data_dir) as svc:
        res = svc.erase_workspace_decisions(
            name, ids=list(ids or []), external_ids=list(external_ids or [])
        )
    if as_json:
        print(json.dumps(res))
        return
    out.print(
        Text(
            f"erased {res['erased']} decision(s) of workspace {res['workspace']} "
            f"({len(res['decisions'])} matched) in {database_shown(database_url, data_dir)}"
        )
    )


def workspaces_set_plan(
    name: Name,
    plan: Annotated[str, typer.Argument(help="free, unlimited or an operator plan.")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Move a workspace to another plan (its quota changes at once; the count stays)."""
    with operator_service(database_url, data_dir) as svc:
        res = svc.set_workspace_plan(name, plan)
    if as_json:
        print(json.dumps(res))
    else:
        out.print(f"workspace {res['name']}: plan {res['previous']} -> {res['plan']}")


def invites_create(
    workspace: Annotated[str, typer.Option(help="The admin workspace that hands it out.")],
    note: Annotated[str, typer.Option(help="Who it is for.")] = "",
    hours: Annotated[
        float | None, typer.Option(help="Lifetime in hours (more than 0, at most 8760).")
    ] = None,
    base_url: Annotated[
        str, typer.Option(envvar="TRIAGED_PUBLIC_URL", help="Base URL of the link.")
    ] = "http://127.0.0.1:8000",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Create a single-use sign-up invite; its link is printed once."""
    if hours is not None and not 0 < hours <= MAX_INVITE_HOURS:  # as the API's bound
        raise typer.BadParameter(
            f"an invite lives more than 0 and at most {MAX_INVITE_HOURS} hours, got {hours}",
            param_hint="--hours",
        )
    if not is_base_url(base_url):  # the link printed is built on it
        raise typer.BadParameter(
            f"give an http:// or https:// URL such as https://triaged.example.com, got "
            f"{base_url!r}",
            param_hint="--base-url",
        )
    with operator_service(database_url, data_dir) as svc:
        res = svc.operator_invite(workspace, base_url=base_url, note=note, hours=hours)
        signup_off = svc.settings.signup == "off"
    if signup_off:
        err.print(
            "[yellow]warning[/yellow]: sign-up is off: this link answers 404 until the server "
            "runs with TRIAGED_SIGNUP=invite (or open)"
        )
    if as_json:
        print(json.dumps(res))
        return
    err.print(f"invite {res['id']}, single use, expires {res['expires_at']} (shown once):")
    print(res["url"])


KeyWorkspace = Annotated[
    str | None,
    typer.Option("--workspace", help="Workspace name \\[default: every workspace]."),
]


def _all_keys(svc: Any, workspace: str | None) -> list[Any]:
    """The keys of ``workspace``, or of every workspace (in workspace order)."""
    if workspace is not None:
        return list(svc.list_keys(workspace))
    return [info for ws in svc.list_workspaces() for info in svc.list_keys(ws["name"])]


def keys_list(
    workspace: KeyWorkspace = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List API keys (prefixes only) of a workspace, or of every workspace."""
    with operator_service(database_url, data_dir) as svc:
        infos = _all_keys(svc, workspace)
    if as_json:
        print(json.dumps([i.to_dict() for i in infos]))
        return
    # ids in full, never cut to fit the terminal: they are pasted into `keys revoke`
    table = Table()
    table.add_column("id", no_wrap=True, min_width=max([3, *(len(i.id) for i in infos)]))
    columns: tuple[str, ...] = ("role", "prefix", "name", "created", "revoked")
    if workspace is None:
        columns = ("workspace", *columns)
    for column in columns:
        table.add_column(column, overflow="fold")  # cut, never: a name lost its end
    for i in infos:
        cells = [
            i.role.value,
            i.prefix + "…",
            Text(i.name),
            i.created_at.isoformat(),
            i.revoked_at.isoformat() if i.revoked_at else "",
        ]
        if workspace is None:
            cells.insert(0, Text(i.workspace))
        table.add_row(i.id, *cells)
    out.print(table)


def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (key_...).")],
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", help="Workspace of the key (found from the id when omitted)."),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Revoke a key; it stops working at once."""
    from triaged.errors import NotFound

    with operator_service(database_url, data_dir) as svc:
        if workspace is None:
            owner = next((i.workspace for i in _all_keys(svc, None) if i.id == key_id), None)
            if owner is None:
                raise NotFound(f"no key {key_id!r} in any workspace", details={"key_id": key_id})
            workspace = owner
        info = svc.revoke_key(workspace, key_id)
    if as_json:
        print(json.dumps(info.to_dict()))
    else:
        out.print(f"revoked {info.id} (workspace {info.workspace})")


def register(app: typer.Typer) -> None:
    """Add the sign-up operator commands to ``triaged workspaces`` and ``triaged invites``."""
    workspaces_app.registered_commands[:] = [
        c for c in workspaces_app.registered_commands if c.name != "list"
    ]
    workspaces_app.command("list")(workspaces_list)
    workspaces_app.command("suspend")(workspaces_suspend)
    workspaces_app.command("activate")(workspaces_activate)
    workspaces_app.command("delete")(workspaces_delete)
    workspaces_app.command("erase")(workspaces_erase)
    workspaces_app.command("set-plan")(workspaces_set_plan)
    invites_app.command("create")(invites_create)
    keys_app.registered_commands[:] = [
        c for c in keys_app.registered_commands if c.name not in ("list", "revoke")
    ]
    keys_app.command("list")(keys_list)
    keys_app.command("revoke")(keys_revoke)
    app.add_typer(invites_app, name="invites")
