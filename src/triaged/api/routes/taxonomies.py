"""Taxonomies: create, list, get, update (new version), archive, versions, examples,
train (background for large sets, pollable) and evaluate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from triaged.api.deprecation import deprecated_alias
from triaged.api.deps import PrincipalDep, ServiceDep, TaxonomyDep
from triaged.api.paging import Cursor, Limit, decode_cursor, envelope, page_of
from triaged.api.review_schemas import RetrainRequest
from triaged.api.routes.classify import rate_limit_headers
from triaged.api.schemas import (
    EvaluateRequest,
    LabelMerge,
    LabelRename,
    ModelList,
    ModelOut,
    TaxonomyCreate,
    TaxonomyList,
    TaxonomyOut,
    TaxonomyUpdate,
    VersionList,
)
from triaged.errors import DatasetError, UnsupportedMediaType
from triaged.service import QUOTA_OBSERVED, Role, detect_format, parse_examples
from triaged.taxonomy import Example

router = APIRouter(prefix="/taxonomies", tags=["taxonomies"])


def _definition(body: TaxonomyCreate | TaxonomyUpdate) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    if "thresholds" in data and not data["thresholds"]:
        data.pop("thresholds")
    return data


@router.post("", response_model=TaxonomyOut, status_code=201)
def create_taxonomy(body: TaxonomyCreate, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Create a taxonomy (version 1) and train its first model (zero-shot without examples)."""
    return service.create_taxonomy(principal, _definition(body))


@router.get("", response_model=TaxonomyList)
def list_taxonomies(
    principal: PrincipalDep,
    service: ServiceDep,
    include_archived: Annotated[bool, Query(description="Include archived taxonomies.")] = False,
    limit: Annotated[int, Query(ge=1, le=200, description="Taxonomies per page.")] = 50,
    cursor: Cursor = None,
) -> Any:
    """List the workspace's taxonomies by name, a page at a time."""
    after = decode_cursor("taxonomies", cursor, kind=str)
    page = service.list_taxonomies(
        principal,
        include_archived=include_archived,
        limit=limit + 1,
        after=None if after is None else str(after),
    )
    more = len(page) > limit
    page = page[:limit]
    return envelope("taxonomies", page, page[-1]["name"] if more else None)


@router.get("/{name}", response_model=TaxonomyOut)
def get_taxonomy(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    include_examples: Annotated[
        bool, Query(description="Include each label's example texts.")
    ] = False,
) -> Any:
    """A taxonomy, its current version and the state of its model (``ready``, ``training``)."""
    return service.get_taxonomy(principal, record.name, include_examples=include_examples)


@router.patch("/{name}", response_model=TaxonomyOut)
def update_taxonomy(
    record: TaxonomyDep, body: TaxonomyUpdate, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """Change labels, descriptions, thresholds or examples: a new version, retrained.  A body
    that changes nothing (``{}``, the same labels again) answers the current version and
    trains nothing."""
    return service.update_taxonomy(principal, record.name, _definition(body))


@router.post("/{name}/labels/{label:path}/rename", response_model=TaxonomyOut)
def rename_label(
    record: TaxonomyDep,
    label: Annotated[str, Path(description="The label's current name.")],
    body: LabelRename,
    principal: PrincipalDep,
    service: ServiceDep,
) -> Any:
    """Rename a label (admin): a new version, retrained.  Its examples, reviews and decisions
    continue under the new name (retraining learns from its reviews; insights and health read
    its traffic as one label).  The same as a PATCH whose label carries ``renamed_from``."""
    return service.rename_label(principal, record.name, label, body.name, body.description)


@router.post("/{name}/labels/{label:path}/merge", response_model=TaxonomyOut)
def merge_labels(
    record: TaxonomyDep,
    label: Annotated[str, Path(description="The label to merge (it goes).")],
    body: LabelMerge,
    principal: PrincipalDep,
    service: ServiceDep,
) -> Any:
    """Merge a label into another (admin): a new version, retrained, without ``label``.
    Its examples join ``into``'s, and its reviews and decisions continue as ``into``
    (retraining learns from them; insights and health count them there).  What the
    insights suggest for two labels whose examples cannot be told apart (``merge``)."""
    return service.merge_labels(principal, record.name, label, body.into)


@router.post("/{name}/archive", response_model=TaxonomyOut)
def archive_taxonomy(record: TaxonomyDep, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Archive: no more classification; versions and decisions are kept."""
    return service.archive_taxonomy(principal, record.name)


@router.delete("/{name}", response_model=TaxonomyOut)
def delete_taxonomy(record: TaxonomyDep, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Same as archive: nothing a decision refers to is ever deleted."""
    return service.archive_taxonomy(principal, record.name)


@router.get("/{name}/versions", response_model=VersionList)
def list_versions(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """The versions of the taxonomy, oldest first, a page at a time."""
    versions = sorted(service.taxonomy_versions(principal, record.name), key=lambda v: v["version"])
    return page_of(f"versions:{record.id}", versions, lambda v: int(v["version"]), limit, cursor)


@router.get("/{name}/versions/{version}")
def get_version(
    record: TaxonomyDep,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: PrincipalDep,
    service: ServiceDep,
) -> dict[str, Any]:
    """The full definition of one version, examples included."""
    return service.taxonomy_version(principal, record.name, version)


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": 'Examples as JSON (a list or {"examples": [...]}), JSONL, or CSV with '
        "a text,label header; or a multipart form with a 'file' field.",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {"examples": [{"text": "Where is my refund?", "label": "billing"}]},
            },
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "example": '{"text": "Where is my refund?", "label": "billing"}\n',
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "text,label\nWhere is my refund?,billing\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


async def _read_examples(request: Request, max_text_chars: int) -> list[Example]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise DatasetError("the multipart form needs a 'file' field")
            data = await upload.read()
            fmt = detect_format(upload.content_type, upload.filename)
    else:
        data = await request.body()
        fmt = detect_format(content_type)
    if fmt is None:  # a 400 invalid_dataset until 5 December; the README promised a 415
        raise UnsupportedMediaType(
            f"cannot tell the examples format from {content_type or 'no Content-Type'!r}; send "
            "application/json, application/x-ndjson or text/csv (or a .json/.jsonl/.csv file)",
            details={"content_type": content_type.split(";")[0].strip() or None},
        )
    return parse_examples(data, fmt, max_text_chars=max_text_chars)


@router.post("/{name}/examples", response_model=TaxonomyOut, openapi_extra=_UPLOAD_DOC)
async def add_examples(
    record: TaxonomyDep,
    request: Request,
    principal: PrincipalDep,
    service: ServiceDep,
    train: bool = True,
) -> Any:
    """Add labelled examples (a new version); retrains unless ``train=false``."""
    examples = await _read_examples(request, service.settings.max_text_chars)
    return await run_in_threadpool(
        service.add_examples, principal, record.name, examples, train=train
    )


@router.post(
    "/{name}/train",
    response_model=ModelOut,
    status_code=202,
    responses={200: {"model": ModelOut, "description": "Trained (with `wait`): ready or failed."}},
)
def train(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    body: RetrainRequest | None = None,
) -> Any:
    """Train a new model version (admin or reviewer).

    Fits and calibrates on the current examples plus what reviews taught, and records its
    evaluation on held-out reviews.  Runs in the background unless ``wait`` is true: poll
    ``GET .../models/{model_id}``.  One training per taxonomy version runs at a time (a
    second call returns the running job; with ``wait``, once it has finished).  202 without
    ``wait``; with it, 200 once the model is ready or failed."""
    wait = body.wait if body is not None else False
    out = service.review.retrain(principal, record.name, wait=wait)
    if wait and out.get("status") != "training":
        response.status_code = 200
    return out


router.add_api_route(
    "/{name}/retrain",
    train,
    methods=["POST"],
    response_model=ModelOut,
    status_code=202,
    responses={200: {"model": ModelOut, "description": "Trained (with `wait`): ready or failed."}},
    deprecated=True,
    summary="Train a new model version (deprecated alias of POST .../train)",
    description="Deprecated: use `POST /v1/taxonomies/{name}/train`; removed in the next release.",
    # Deprecation + Link on every answer (api.deprecation)
    operation_id=deprecated_alias("retrain_deprecated", "/v1/taxonomies/{name}/train"),
)


@router.get("/{name}/models", response_model=ModelList)
def list_models(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Model versions and training jobs, newest first, a page at a time.

    Admin and reviewer keys also see each version's recorded evaluation, its trigger and
    which version is active."""
    if principal.role in (Role.ADMIN, Role.REVIEWER):
        rows = service.review.versions(principal, record.name)
    else:
        rows = service.models(principal, record.name)
    return page_of(
        f"models:{record.id}", rows, lambda m: str(m["id"]), limit, cursor, descending=True
    )


router.add_api_route(
    "/{name}/model-versions",
    list_models,
    methods=["GET"],
    response_model=ModelList,
    deprecated=True,
    summary="List model versions (deprecated alias of GET .../models)",
    description="Deprecated: use `GET /v1/taxonomies/{name}/models`; removed in the next release.",
    operation_id=deprecated_alias("model_versions_deprecated", "/v1/taxonomies/{name}/models"),
)


@router.get("/{name}/models/{model_id}", response_model=ModelOut)
def get_model(
    record: TaxonomyDep, model_id: str, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """One model version or training job (``training``, ``ready`` or ``failed``).

    Admin and reviewer keys also see its recorded evaluation and trigger, as in the list
    (the poll after ``POST .../train`` left them null until 7 December)."""
    found = service.model(principal, record.name, model_id)  # 404 for an unknown id
    if principal.role in (Role.ADMIN, Role.REVIEWER):
        rows = service.review.versions(principal, record.name)
        return next((r for r in rows if r["id"] == model_id), found)
    return found


@router.post("/{name}/evaluate")
def evaluate(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    response: Response,
    body: EvaluateRequest | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, ECE, NLL and bucket figures on held-out examples; given examples
    count against the plan like classified texts, with the same ``RateLimit-*`` headers."""
    req = body or EvaluateRequest()
    examples = [Example(e.text, e.label) for e in req.examples] if req.examples else None
    counts: dict[str, Any] = {}
    token = QUOTA_OBSERVED.set(counts)  # filled by quota.consume (same thread)
    try:
        out = service.evaluate(principal, record.name, examples, holdout=req.holdout, seed=req.seed)
    finally:
        QUOTA_OBSERVED.reset(token)
    response.headers.update(rate_limit_headers(counts))
    return out
