"""Webhooks of the caller's workspace (admin): register (secret shown once), list, delete, log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from triaged.api.deps import PageCursor, PageLimit, PrincipalDep, ServiceDep, paginate
from triaged.api.schemas import SafeIn
from triaged.webhooks import admin

router = APIRouter(tags=["webhooks"])

EventType = Literal["decision.resolved", "decision.corrected", "alert.drift", "alert.auto_lane"]
DeliveryStatus = Literal["pending", "delivering", "delivered", "failed", "cancelled"]


class WebhookCreate(SafeIn):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://",
        description="http(s) URL of a public address, without credentials (see Security).",
    )
    events: list[EventType] = Field(min_length=1)
    description: str = Field(default="", max_length=200)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown in this response only.")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]
    next_cursor: str | None = None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    finished_at: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class AttemptOut(BaseModel):
    attempt: int
    started_at: str
    duration_ms: float
    status_code: int | None
    error: str | None
    response_excerpt: str | None


class AttemptList(BaseModel):
    attempts: list[AttemptOut]


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookCreate, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Register an endpoint for some event types; the signing secret is in this response only."""
    endpoint = admin.create_webhook(
        service.db, principal, body.url, list(body.events), body.description
    )
    return endpoint.to_dict()


@router.get("/webhooks", response_model=WebhookList)
def list_webhooks(
    principal: PrincipalDep,
    service: ServiceDep,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> Any:
    """List the workspace's endpoints (never their secrets), a page at a time."""
    hooks = [e.to_dict() for e in admin.list_webhooks(service.db, principal)]
    page, next_cursor = paginate(hooks, lambda h: h["id"], limit, cursor)
    return {"webhooks": page, "next_cursor": next_cursor}


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """One endpoint."""
    return admin.get_webhook(service.db, principal, webhook_id).to_dict()


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> Response:
    """Stop sending to an endpoint; undelivered events to it are cancelled."""
    admin.delete_webhook(service.db, principal, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: str,
    principal: PrincipalDep,
    service: ServiceDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[str | None, Query(description="a delivery id: older ones")] = None,
) -> Any:
    """Deliveries to an endpoint, newest first."""
    rows = admin.webhook_deliveries(
        service.db, principal, webhook_id, status=status, limit=limit, before=before
    )
    return {"deliveries": rows}


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}/attempts", response_model=AttemptList)
def list_attempts(
    webhook_id: str, delivery_id: str, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """Every try of one delivery: status code, error and duration."""
    return {"attempts": admin.delivery_attempts(service.db, principal, webhook_id, delivery_id)}


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def retry_delivery(
    webhook_id: str, delivery_id: str, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """Send a failed (or cancelled) delivery again now, with a fresh budget of attempts."""
    return admin.retry_delivery(service.db, principal, webhook_id, delivery_id)
