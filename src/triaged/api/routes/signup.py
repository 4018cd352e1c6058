"""Self-service sign-up (``TRIAGED_SIGNUP``): POST /v1/signup, the verification link, invites.

``POST /v1/signup`` needs no key: it creates a workspace on the sign-up plan and answers
with its admin key (only in this answer) and a filled-in quick-start call.  Limits:
per client address and server-wide (429 + ``Retry-After``), workspaces per email (409);
a refused attempt creates nothing.  ``POST /v1/signup/verify`` (``{"token"}``) activates
a workspace whose emailed link was followed (the link opens a page with a button: a GET
changes nothing); ``POST /v1/invites`` (admin) makes a
single-use invite when sign-up is by invitation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from triaged.api.deprecation import deprecated_alias
from triaged.api.deps import PrincipalDep, ServiceDep, client_subject
from triaged.api.paging import Cursor, Limit, page_of
from triaged.api.schemas import SafeIn

__all__ = ["router"]

router = APIRouter(tags=["sign-up"])


class SignupIn(SafeIn):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100, description="Workspace name, like a taxonomy name.")
    email: str = Field(max_length=254, description="Contact email (verified by a link).")
    invite: str | None = Field(
        default=None, max_length=200, description="Invite token (TRIAGED_SIGNUP=invite)."
    )


class SignupWorkspace(BaseModel):
    id: str
    name: str
    plan: str
    status: str = Field(description="active, or pending until the emailed link is followed.")
    contact_email: str


class SignupOut(BaseModel):
    workspace: SignupWorkspace
    key: str = Field(description="The admin API key; shown only in this answer.")
    key_id: str
    verification: str = Field(description="sent (check your email) or not_required.")
    taxonomy: str | None = Field(
        description="The example taxonomy created in the workspace (null when the server's "
        "label or example limits are smaller than the example)."
    )
    quick_start: str = Field(description="A curl call that classifies one text.")
    sign_in_url: str
    usage_url: str


class VerifyOut(BaseModel):
    workspace: str
    status: str
    email: str


class InviteIn(SafeIn):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=200, description="Who it is for (yours only).")
    expires_in_hours: float | None = Field(
        default=None, gt=0, le=24 * 365, description="Default: TRIAGED_SIGNUP_INVITE_HOURS."
    )


class InviteOut(BaseModel):
    id: str
    note: str
    created_at: str
    expires_at: str
    used_at: str | None
    used: bool


class InviteCreated(InviteOut):
    token: str = Field(description="The invite's secret; only in this answer.")
    url: str = Field(description="The sign-up link to hand out.")


class InviteList(BaseModel):
    data: list[InviteOut]
    next_cursor: str | None = None
    has_more: bool = False


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post(
    "/signup",
    response_model=SignupOut,
    status_code=201,
    responses={
        502: {
            "description": "The verification email could not be sent; nothing was created.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
    },
)
def signup(body: SignupIn, request: Request, service: ServiceDep) -> Any:
    """Sign up: a workspace on the sign-up plan, its admin key (shown once) and a quick start."""
    return service.signup(
        body.name,
        body.email,
        client=client_subject(request),
        base_url=_base_url(request),
        invite=body.invite,
    )


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=200, description="The token of the emailed link.")


@router.post("/signup/verify", response_model=VerifyOut)
def verify(body: VerifyIn, service: ServiceDep) -> Any:
    """Activate the workspace of an emailed verification link (its ``token``)."""
    return service.verify_signup(body.token)


@router.get(
    "/signup/verify",
    response_model=VerifyOut,
    deprecated=True,
    # Deprecation and a Link to the POST on every answer (api/deprecation.py)
    operation_id=deprecated_alias("verify_signup_by_get_deprecated", "/v1/signup/verify"),
)
def verify_by_get(service: ServiceDep, token: str = Query(max_length=200)) -> Any:
    """The same by GET (kept for clients written before 5 December; a GET that changes
    state is what link scanners and prefetchers follow: use POST)."""
    return service.verify_signup(token)


@router.post("/invites", response_model=InviteCreated, status_code=201)
def create_invite(
    body: InviteIn, request: Request, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """A single-use sign-up invite (admin); the link is in this answer only."""
    return service.create_invite(
        principal, base_url=_base_url(request), note=body.note, hours=body.expires_in_hours
    )


@router.get("/invites", response_model=InviteList)
def list_invites(
    principal: PrincipalDep, service: ServiceDep, limit: Limit = 100, cursor: Cursor = None
) -> Any:
    """The invites this workspace made (never their secrets), oldest first."""
    invites = sorted(service.list_invites(principal), key=lambda i: i["id"])
    return page_of("invites", invites, lambda i: str(i["id"]), limit, cursor)
