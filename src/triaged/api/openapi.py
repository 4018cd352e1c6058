"""The published OpenAPI document states the errors the server really sends.

Every operation under ``/v1`` declares 400, 401, 403, 404, 409, 413, 422 and 429
(and 415 where it takes a body) with the one error schema the handlers produce,
``{"error": {"code", "message", "details"}}`` — FastAPI's default 422 schema
(``{"detail": [...]}``) is replaced, since :mod:`triaged.api.errors` never sends it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response

from triaged.api.field_docs import EXAMPLES, FIELDS, PARAMETERS

__all__ = [
    "ERROR_SCHEMA",
    "REDOC_CSP",
    "document",
    "first_sentence",
    "generated_summary",
    "install_openapi",
    "install_redoc",
]

#: ReDoc's bundle draws its "by Redocly" footer logo from cdn.redoc.ly: /redoc serves the
#: bundle without that address, and this policy keeps the page's images (and fetches) on this
#: origin besides
REDOC_CSP = "img-src 'self' data:; connect-src 'self'"
OFFLINE_ASSETS = "/static-offline-docs"  # where fastapi-offline mounts its files

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorOut",
    "description": 'Every error: {"error": {"code", "message", "details", "request_id"}}.',
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Structured context: the field, a limit, a reason.",
                },
                "request_id": {
                    "type": ["string", "null"],
                    "description": "The `Request-Id` of this request (also a response header).",
                },
            },
        }
    },
}

ERRORS = {
    "400": "Invalid input (a body that is not JSON, an invalid taxonomy or dataset).",
    "401": "Missing, unknown or revoked API key.",
    "403": "The key's role may not do this.",
    "404": "No such resource in the caller's workspace.",
    "409": "Conflicts with the current state (already exists, already resolved, last admin, "
    "limit_reached: the workspace has the most taxonomies or webhooks it may).",
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


def generated_summary(op: dict[str, Any]) -> bool:
    """Whether the summary is FastAPI's own (the function name in title case)."""
    summary = str(op.get("summary") or "")
    return not summary or str(op.get("operationId", "")).startswith(
        summary.lower().replace(" ", "_")
    )


def first_sentence(text: str) -> str:
    """The first sentence of a docstring, as a summary (at most 90 characters: cut at a
    clause boundary when longer)."""
    first = " ".join(text.strip().split("\n\n")[0].split()).replace("``", "`")
    sentence = first.split(". ")[0].strip().rstrip(".")
    if len(sentence) <= 90:
        return sentence
    for mark in ("; ", " (", ", ", ": "):
        cut = sentence.rfind(mark, 0, 90)
        while cut > 20 and sentence[:cut].count("(") > sentence[:cut].count(")"):
            cut = sentence.rfind(mark, 0, cut)  # not inside parentheses
        if cut > 20:
            return sentence[:cut]
    return sentence[:87].rstrip() + "..."


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Fill in summaries, field and parameter descriptions and request examples (in place).

    An operation without a summary of its own is summarised by its docstring's first
    sentence.
    A description or example the code gives itself is kept; the rest come from
    :mod:`triaged.api.field_docs`."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        for field, prop in (schema.get("properties") or {}).items():
            text = FIELDS.get(f"{name}.{field}") or FIELDS.get(field)
            if text and not prop.get("description"):
                prop["description"] = text
        if name in EXAMPLES and not schema.get("examples"):
            schema["examples"] = [EXAMPLES[name]]
    for operations in spec.get("paths", {}).values():
        for op in operations.values():
            if not isinstance(op, dict):
                continue
            if generated_summary(op) and op.get("description"):
                op["summary"] = first_sentence(op["description"])
            for param in op.get("parameters", []):
                text = PARAMETERS.get(param.get("name", ""))
                if text and not param.get("description"):
                    param["description"] = text
    return spec


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) declare the real error responses, with a
    written summary per operation and described fields."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document(declare_errors(spec))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: The one outside address in the ReDoc bundle (its footer logo), and what stands in for it:
#: an empty picture, so the browser never asks cdn.redoc.ly (the policy alone let Chromium
#: start the request now and then before refusing it)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_LOGO = "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A//www.w3.org/2000/svg%22/%3E"


@functools.cache
def _redoc_bundle() -> bytes:
    """fastapi-offline's ReDoc bundle with :data:`REDOC_LOGO` replaced (read on first use)."""
    import fastapi_offline

    bundle = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    return bundle.read_bytes().replace(REDOC_LOGO.encode(), NO_LOGO.encode())


def install_redoc(app: FastAPI, path: str = "/redoc") -> None:
    """``/redoc`` from the ReDoc bundle fastapi-offline ships, its outside logo taken out
    (create the app with ``redoc_url=None``), answered with :data:`REDOC_CSP`."""

    @app.get(f"{path}/redoc.standalone.js", include_in_schema=False)
    def redoc_js() -> Response:
        return Response(
            _redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get(path, include_in_schema=False)
    def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        response = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=app.title + " - ReDoc",
            redoc_js_url=f"{root}{path}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{OFFLINE_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        response.headers["Content-Security-Policy"] = REDOC_CSP
        return response
