"""API keys of the caller's workspace (admin): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from triaged.api.deps import PrincipalDep, ServiceDep
from triaged.api.paging import Cursor, Limit, page_of
from triaged.api.schemas import KeyCreate, KeyCreated, KeyList, KeyOut

router = APIRouter(tags=["keys"])


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Create a key; the secret is in this response only."""
    return service.create_key_for(principal, body.role, body.name).to_dict()


@router.get("/keys", response_model=KeyList)
def list_keys(
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """List keys (never their secrets), oldest first, a page at a time."""
    keys = sorted((k.to_dict() for k in service.list_keys_for(principal)), key=lambda k: k["id"])
    return page_of("keys", keys, lambda k: str(k["id"]), limit, cursor)


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Revoke a key; it stops working at once."""
    return service.revoke_key_for(principal, key_id).to_dict()
