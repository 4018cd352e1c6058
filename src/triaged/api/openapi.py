"""The published OpenAPI document states the errors the server really sends.

Every operation under ``/v1`` declares 400, 401, 403, 404, 409, 413, 422 and 429
(and 415 where it takes a body) with the one error schema the handlers produce,
``{"error": {"code", "message", "details"}}`` — FastAPI's default 422 schema
(``{"detail": [...]}``) is replaced, since :mod:`triaged.api.errors` never sends it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["ERROR_SCHEMA", "install_openapi"]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorOut",
    "description": 'Every error: {"error": {"code", "message", "details"}}.',
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}

ERRORS = {
    "400": "Invalid input (a body that is not JSON, an invalid taxonomy or dataset).",
    "401": "Missing, unknown or revoked API key.",
    "403": "The key's role may not do this.",
    "404": "No such resource in the caller's workspace.",
    "409": "Conflicts with the current state (already exists, already resolved, last admin).",
    "413": "Over a size limit (body, text, labels or examples per taxonomy).",
    "422": "A field or parameter breaks the server's rules.",
    "429": "Rate, quota or failed-authentication limit; see Retry-After.",
}
BODY_ERRORS = {"415": "The body's media type is not accepted."}
REF = {"$ref": "#/components/schemas/ErrorOut"}


def declare_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the error responses to every /v1 operation of ``spec`` (in place); returns it."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorOut"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            errors = dict(ERRORS)
            if method in {"post", "put", "patch"}:
                errors.update(BODY_ERRORS)
            for status, description in errors.items():
                op["responses"][status] = {
                    "description": description,
                    "content": {"application/json": {"schema": REF}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in str(spec.get("paths")):
            del schemas[unused]
    return spec


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) declare the real error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = declare_errors(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
