"""Dependencies both HTTP faces use: the app's :class:`~triaged.service.Service`, and the
app's counter of failed authentications with the subjects it counts."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from triaged.http.throttle import FailureThrottle, key_prefix
from triaged.service import Service

__all__ = ["ServiceDep", "auth_subjects", "auth_throttle", "client_subject", "get_service"]


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
    """The client that the sign-up limits and the failed-authentication throttle count: its
    IPv4 address, or the /64 network of an IPv6 address (a connection is handed a whole /64,
    so counting single IPv6 addresses let one client take a new one for each try)."""
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "ip:" + host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))}"
    return f"ip:{ip}"


def auth_subjects(request: Request, key: str) -> tuple[str, str]:
    """What a failed authentication with ``key`` counts against: the client and the key's
    prefix (the API's dependency, the classify route and the web sign-in alike).

    Only the client is checked before the key is: a client past its limit is refused
    whatever it sends.  The prefix is checked on failure only (a wrong key under a prefix
    past its limit is answered 429): the prefix is not secret (the first 12 characters,
    shown in key lists), so refusing a *right* key because its prefix had failures let
    anyone lock a key out with 20 wrong guesses a minute.  Guessing the rest of a key
    (over 190 random bits) gains nothing from this."""
    return client_subject(request), "key:" + key_prefix(key)
