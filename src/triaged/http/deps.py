"""Dependencies both HTTP faces use: the app's :class:`~triaged.service.Service`, and the
app's counter of failed authentications with the subjects it counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from triaged.http.throttle import FailureThrottle
from triaged.service import Service

__all__ = ["ServiceDep", "auth_throttle", "client_subject", "get_service"]


async def get_service(request: Request) -> Service:  # async: no thread hop
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def auth_throttle(request: Request) -> FailureThrottle:
    """The app's counter of failed authentications (one per app, made on first use)."""
    throttle: FailureThrottle | None = getattr(request.app.state, "auth_throttle", None)
    if throttle is None:
        service = request.app.state.service
        settings = service.settings
        throttle = FailureThrottle(
            settings.auth_max_failures,
            settings.auth_failure_window_seconds,
            shared=service.record_auth_failures,  # every API process counts together
        )
        request.app.state.auth_throttle = throttle
    return throttle


def client_subject(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")
