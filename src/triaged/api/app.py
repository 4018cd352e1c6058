"""The FastAPI application factory.  Nothing is built at import time.

``create_app(settings)`` returns an app whose lifespan migrates the database
(unless ``TRIAGED_MIGRATE_ON_START=false``), prints a first admin key on a
fresh database, and runs the webhook worker, the drift checker and the live
auto-lane check (:class:`~triaged.services.routing_policy.RoutingChecker`) in the
background.  ``uvicorn triaged.api:create_app --factory`` works too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from triaged import __version__
from triaged.api.deprecation import DeprecatedAliasMiddleware
from triaged.api.errors import install_error_handlers
from triaged.api.limits import BodyLimitMiddleware
from triaged.api.no_store import NoStoreMiddleware
from triaged.api.openapi import install_openapi, install_redoc
from triaged.api.request_id import RequestIdMiddleware, install_log_filter
from triaged.api.routes import health, v1_router
from triaged.api.routes.metrics import prometheus_router
from triaged.api.routes.signup import router as signup_router
from triaged.errors import Unavailable
from triaged.service import (
    Service,
    describe_database_error,
    install_microbatching,
    start_background,
)
from triaged.settings import Settings
from triaged.web import mount_web

__all__ = ["create_app"]

log = logging.getLogger("triaged.api")

DESCRIPTION = """Calibrated text classification with three-bucket routing (auto / review / hold).

Authenticate with `Authorization: Bearer <API key>`.  Every error is
`{"error": {"code", "message", "details", "request_id"}}` with a stable `code`.

Conventions: every list answers `{"data": [...], "next_cursor": ..., "has_more": ...}`;
pass `next_cursor` back as `cursor` (opaque; 400 `invalid_cursor` if it was not handed out
for that list).  Every response carries a `Request-Id` header (yours, if you send a sane one).
Requests that count against the plan (classify) answer with `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (seconds); a 429 carries `Retry-After`.
Operations marked deprecated are aliases kept for one release."""


def _start(svc: Service) -> None:
    """``svc.start()``; a database it cannot reach is one line naming it (password masked)
    and why: uvicorn prints start-up errors with their traceback, which ended in psycopg's
    message alone (the factory path, ``uvicorn triaged.api:create_app --factory``)."""
    try:
        svc.start()
    except Exception as exc:
        described = describe_database_error(exc, svc.settings.resolved_database_url)
        if described is None:
            raise
        log.error("triaged cannot start: %s", described[1])
        raise Unavailable(described[1], details={"database": "unreachable"}) from None


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from ``TRIAGED_*``), or around ``service``."""
    if service is None:
        service = Service(settings or Settings())
    svc = service
    cfg = svc.settings
    install_microbatching(cfg)  # concurrent classify requests share encoder calls (issue 11)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start, svc)
        # the generated /metrics token (printed once) and the development-defaults warning
        await run_in_threadpool(svc.announce_security)
        # webhooks, drift, housekeeping, routing checks, bulk jobs: in this process, or
        # (TRIAGED_JOB_QUEUE=postgres) in `triaged worker` processes (issue 11)
        background = await run_in_threadpool(start_background, svc)
        try:
            yield
        finally:
            await run_in_threadpool(background.stop)
            # a training still running then is abandoned (resumed by the next start)
            await run_in_threadpool(svc.close, cfg.shutdown_timeout_seconds)

    install_log_filter()
    # /docs and /redoc from the Swagger UI and ReDoc files shipped in fastapi-offline: no CDN
    app = FastAPIOffline(
        title="triaged",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,  # install_redoc: the same page, kept from fetching ReDoc's CDN logo
    )
    app.state.service = svc
    app.state.settings = cfg
    install_error_handlers(app)
    install_openapi(app)
    install_redoc(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=cfg.max_body_bytes,
        max_upload=cfg.max_upload_bytes,
        max_job_upload=cfg.max_job_upload_bytes,
    )
    if cfg.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cfg.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "Request-Id",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ],
        )
    app.add_middleware(NoStoreMiddleware)  # API answers are one key's data, secrets too
    app.add_middleware(DeprecatedAliasMiddleware)  # aliases: Deprecation + Link, errors too
    app.add_middleware(RequestIdMiddleware)  # outermost: ids on every answer, 413s included
    app.include_router(health.router)
    app.include_router(v1_router())
    app.include_router(signup_router, prefix="/v1")
    app.include_router(prometheus_router)
    mount_web(app)
    return app
