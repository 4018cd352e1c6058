"""Settings, the database and the accounts: workspaces, plans, API keys, the operator.

The first part of :class:`triaged.service.Service` (see :mod:`triaged.services.facade`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from triaged.errors import InvalidInput, NotFound
from triaged.services import keys, quota
from triaged.services import taxonomies as taxo
from triaged.services.ids import as_utc
from triaged.services.keys import KeyInfo, Principal, Role
from triaged.services.plans import Plan, all_plans, get_plan, workspace_plan
from triaged.services.taxonomies import TaxonomyRecord
from triaged.settings import Settings
from triaged.storage import auth_failure_repo, taxonomy_repo, workspace_repo
from triaged.storage.db import Database

if TYPE_CHECKING:
    from triaged.review import ReviewService
    from triaged.services.jobs import JobRunner
    from triaged.services.training import ClassifierCache

__all__ = ["CLASSIFY_ROLES", "READ_ROLES", "ServiceCore"]

CLASSIFY_ROLES = (Role.ADMIN, Role.CLIENT)
READ_ROLES = (Role.ADMIN, Role.REVIEWER, Role.CLIENT)


class ServiceCore:
    """What every part of the service stands on; :class:`~triaged.service.Service` sets it."""

    settings: Settings
    db: Database
    classifiers: ClassifierCache
    review: ReviewService
    #: why ``/readyz`` last failed (None: it answered ready, or was not asked yet)
    unready_cause: str | None = None

    @property
    def jobs(self) -> JobRunner:
        """The job runner; :class:`~triaged.service.Service` makes it on first use."""
        raise NotImplementedError

    # ----------------------------------------------------------------- accounts
    def plans(self) -> dict[str, Plan]:
        return all_plans(self.settings)

    def plan(self, name: str) -> Plan:
        """The plan called ``name`` (400 ``invalid_input`` when the server has none)."""
        return get_plan(self.settings, name)

    def workspace_plan(self, name: str) -> Plan:
        """The plan a workspace is on, for its requests (500 when the server lost it)."""
        return workspace_plan(self.settings, name)

    def authenticate(self, key: str) -> Principal:
        with self.db.lookup() as conn:
            return keys.authenticate(conn, key, self.settings.key_pepper)

    def record_auth_failures(
        self, subjects: Sequence[str], at: float, window_s: float
    ) -> dict[str, list[float]]:
        """Count one failed authentication at ``at`` (epoch seconds) for each subject and
        return each subject's failures within ``window_s``, from every process."""
        with self.db.write() as conn:
            auth_failure_repo.delete_older_than(conn, at - window_s, subjects)
            auth_failure_repo.record(conn, subjects, at)
            return auth_failure_repo.recent(conn, subjects, at - window_s)

    def create_workspace(self, name: str, plan: str = "free") -> dict[str, Any]:
        self.plan(plan)
        with self.db.write() as conn:
            row = keys.create_workspace(conn, name, plan)
        return {
            "id": row["id"],
            "name": row["name"],
            "plan": row["plan"],
            "created_at": as_utc(row["created_at"]).isoformat(),  # SQLite's are naive
        }

    def workspace(self, principal: Principal) -> dict[str, Any]:
        with self.db.read() as conn:
            row = keys.get_workspace(conn, principal.workspace)
        return {
            "id": row["id"],
            "name": row["name"],
            "plan": self.workspace_plan(row["plan"]).to_dict(),
            "created_at": as_utc(row["created_at"]).isoformat(),  # SQLite's are naive
        }

    def list_workspaces(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = workspace_repo.all_workspaces(conn)
        return [{"id": r["id"], "name": r["name"], "plan": r["plan"]} for r in rows]

    def create_key(
        self, workspace: str, role: Role | str, *, name: str = "", create_plan: str | None = None
    ) -> KeyInfo:
        """Operator entry point (CLI): a key for the workspace called ``workspace``.

        With ``create_plan`` the workspace is created first (in the same transaction).
        """
        role = keys.parse_role(role) if isinstance(role, str) else role
        with self.db.write() as conn:
            if create_plan is not None:
                self.plan(create_plan)
                ws = keys.create_workspace(conn, workspace, create_plan)
            else:
                ws = keys.get_workspace(conn, workspace)
            return keys.create_key(conn, ws["id"], ws["name"], role, name, self.settings.key_pepper)

    def create_key_for(self, principal: Principal, role: Role | str, name: str = "") -> KeyInfo:
        principal.require(Role.ADMIN)
        role = keys.parse_role(role) if isinstance(role, str) else role
        with self.db.write() as conn:
            return keys.create_key(
                conn,
                principal.workspace_id,
                principal.workspace,
                role,
                name,
                self.settings.key_pepper,
            )

    def list_keys(self, workspace: str) -> list[KeyInfo]:
        with self.db.read() as conn:
            ws = keys.get_workspace(conn, workspace)
            return keys.list_keys(conn, ws["id"], ws["name"])

    def list_keys_for(self, principal: Principal) -> list[KeyInfo]:
        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            return keys.list_keys(conn, principal.workspace_id, principal.workspace)

    def revoke_key(self, workspace: str, key_id: str) -> KeyInfo:
        with self.db.write() as conn:
            ws = keys.get_workspace(conn, workspace)
            return keys.revoke_key(conn, ws["id"], ws["name"], key_id)

    def revoke_key_for(self, principal: Principal, key_id: str) -> KeyInfo:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return keys.revoke_key(conn, principal.workspace_id, principal.workspace, key_id)

    def usage(self, principal: Principal) -> dict[str, Any]:
        plan = self.workspace_plan(principal.plan)
        with self.db.read() as conn:
            return quota.usage(conn, principal.workspace_id, plan, quota.window())

    # --------------------------------------------------------------- taxonomies
    def taxonomy_record(self, principal: Principal, name: str) -> TaxonomyRecord:
        """The caller's taxonomy called ``name`` (404 for any other workspace's)."""
        principal.require(*READ_ROLES)
        with self.db.read() as conn:
            return taxo.get_record(conn, principal.workspace_id, name)

    # ----------------------------------------------------------------- operator
    def operator(self, workspace: str) -> Principal:
        """An admin principal for the operator of ``workspace`` (the CLI holds no API key)."""
        with self.db.read() as conn:
            ws = keys.get_workspace(conn, workspace)
        return _operator_of(ws)

    def operator_for_taxonomy(self, name: str, workspace: str | None = None) -> Principal:
        """The operator of the workspace holding taxonomy ``name``; without ``workspace``
        the name must be unique across workspaces (400 otherwise, 404 when nowhere)."""
        if workspace is not None:
            principal = self.operator(workspace)
            self.taxonomy_record(principal, name)  # 404 when that workspace has none
            return principal
        with self.db.read() as conn:
            rows = taxonomy_repo.taxonomies_named(conn, name)
            if len(rows) == 1:
                ws = keys.get_workspace_by_id(conn, TaxonomyRecord.from_row(rows[0]).workspace_id)
        if not rows:
            raise NotFound(f"no taxonomy {name!r}", details={"taxonomy": name})
        if len(rows) > 1:
            raise InvalidInput(
                f"{len(rows)} workspaces have a taxonomy {name!r}; pick one with --workspace",
                details={"taxonomy": name},
            )
        return _operator_of(ws)


def _operator_of(ws: dict[str, Any]) -> Principal:
    return Principal(
        key_id="operator",
        role=Role.ADMIN,
        workspace_id=ws["id"],
        workspace=ws["name"],
        plan=ws["plan"],
    )
