"""Request and response bodies of the HTTP API (kept apart from storage rows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triaged.api.paging import Page
from triaged.inputs import NAME_PATTERN, check_strings

__all__ = [
    "AlternativeOut",
    "BatchRequest",
    "BatchResponse",
    "ClassifyRequest",
    "ClassifyResponse",
    "DecisionOut",
    "DecisionPage",
    "EvaluateRequest",
    "ExampleIn",
    "ExamplesIn",
    "KeyCreate",
    "KeyCreated",
    "KeyList",
    "KeyOut",
    "ModelList",
    "ModelOut",
    "SafeIn",
    "TaxonomyCreate",
    "TaxonomyList",
    "TaxonomyOut",
    "TaxonomyUpdate",
    "TrainingProgressOut",
    "UsageOut",
    "VersionList",
    "WorkspaceOut",
]

Name = Field(min_length=1, max_length=100)
Text = Field(
    min_length=1,
    description="Non-empty: a text of only whitespace or invisible characters is refused (422); "
    "at most TRIAGED_MAX_TEXT_CHARS characters (413); no NUL or lone surrogate (422).",
)


class SafeIn(BaseModel):
    """A request body: no NUL character or lone surrogate in any string (422), and every
    value of its field's JSON type (strict): ``true`` is no threshold and ``"5"`` no limit
    (each was read as 1.0 and 5 until 6 December, while ``PUT .../routing`` refused them)."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_strings(cls, data: Any) -> Any:
        check_strings(data)
        return data


class _In(SafeIn):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ taxonomies
class LabelIn(_In):
    name: str = Name
    description: str = Field(default="", max_length=2000)
    examples: list[str] | None = None


class LabelUpdateIn(LabelIn):
    description: str | None = Field(default=None, max_length=2000)  # type: ignore[assignment]
    renamed_from: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A label of the current version this one renames: its examples (when "
        "`examples` is not given), reviews and decisions continue under the new name. The old "
        "name must not stay in `labels`, and the new one must not be another current label.",
    )


class LabelRename(_In):
    name: str = Field(min_length=1, max_length=100, description="The label's new name.")
    description: str | None = Field(
        default=None, max_length=2000, description="A new description (default: keep it)."
    )


class LabelMerge(_In):
    into: str = Field(
        min_length=1, max_length=100, description="The label this one is merged into."
    )


class ThresholdsIn(_In):
    auto: float | None = Field(default=None, ge=0.0, le=1.0)
    review: float | None = Field(default=None, ge=0.0, le=1.0)


class ExampleIn(_In):
    text: str = Field(min_length=1)
    label: str = Name


class TaxonomyCreate(_In):
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=NAME_PATTERN,
        description="ASCII letters, digits, '.', '_' and '-', starting with a letter or digit "
        "(one URL path segment).",
    )
    description: str = Field(default="", max_length=5000)
    labels: list[LabelIn] = Field(min_length=1)
    thresholds: ThresholdsIn | None = None
    examples: list[ExampleIn] | None = None


class TaxonomyUpdate(_In):
    description: str | None = Field(default=None, max_length=5000)
    labels: list[LabelUpdateIn] | None = Field(default=None, min_length=1)
    thresholds: ThresholdsIn | None = None
    examples: list[ExampleIn] | None = None


class ExamplesIn(_In):
    examples: list[ExampleIn] = Field(min_length=1)


class LabelOut(BaseModel):
    name: str
    description: str
    n_examples: int
    examples: list[str] | None = None


class TrainingProgressOut(BaseModel):
    """How far a training is: steps of the fit done (embedding the examples in chunks, the
    final fit, each held-out fit, the calibration), written at most once a second."""

    done: int
    total: int
    stage: str
    fraction: float
    eta_seconds: float | None
    updated_at: str


class ModelOut(BaseModel):
    id: str
    status: Literal["training", "ready", "failed"]
    taxonomy_version: int
    model_version: str | None
    mode: str | None
    n_examples: int
    error: str | None
    created_at: str
    finished_at: str | None
    active: bool | None = None
    trigger: str | None = None
    n_review_examples: int | None = None
    evaluation: dict[str, Any] | None = None
    progress: TrainingProgressOut | None = None


class ModelList(Page[ModelOut]):
    """Model versions and training jobs of a taxonomy, newest first."""


class RoutingSummary(BaseModel):
    """The routing policy classify applies now (details: GET .../routing)."""

    url: str = Field(
        description="The policy's own endpoint (GET, PUT): /v1/taxonomies/{name}/routing."
    )
    version: int | None = Field(description="Policy version (null before the first model).")
    auto: float | None = Field(description="Auto threshold; null while the auto lane is closed.")
    review: float = Field(description="Below it decisions are held for a person.")
    auto_lane_open: bool = Field(description="Whether any decision is routed to auto now.")
    source: str = Field(description="training, live, manual, ...: what set the thresholds.")


class TaxonomyOut(BaseModel):
    id: str
    name: str
    description: str
    version: int
    thresholds: dict[str, float | None] = Field(
        description="The thresholds the definition sets (`auto`, `review`; what was asked for, "
        "each pinning the routing policy when set); null: not set, the routing policy decides "
        "it. The thresholds classify applies are in `routing`."
    )
    routing: RoutingSummary = Field(description="The routing classify applies now.")
    labels: list[LabelOut]
    n_examples: int
    n_out_of_scope: int
    archived: bool
    archived_at: str | None
    created_at: str
    updated_at: str
    ready: bool
    status: str
    model: ModelOut | None
    training: ModelOut | None


class TaxonomyList(Page[TaxonomyOut]):
    """The workspace's taxonomies by name."""


class VersionOut(BaseModel):
    version: int
    n_examples: int
    created_at: str
    renames: dict[str, str] = Field(
        default_factory=dict,
        description="Labels this version renamed or merged into another, as {old name: "
        "new name} (recorded renames and merges only; {} for none).",
    )
    created_by: str | None = Field(
        default=None,
        description="Id of the API key that made this version (create, update, examples, "
        'a label rename or merge); "operator" for the server\'s command line; null for versions '
        "made before this was recorded.",
    )


class VersionList(Page[VersionOut]):
    """The versions of a taxonomy, oldest first."""


class EvaluateRequest(_In):
    examples: list[ExampleIn] | None = Field(
        default=None,
        min_length=1,  # an empty list ran the held-out split as if none was given
        description="A held-out test set; without it a split of the examples is used.",
    )
    holdout: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 0


# -------------------------------------------------------------------- classify
class ClassifyRequest(_In):
    taxonomy: str = Name
    text: str = Text
    external_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class BatchText(_In):
    text: str = Text
    external_id: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class BatchRequest(_In):
    taxonomy: str = Name
    texts: list[str | BatchText] = Field(description="Up to 100 texts (strings or objects).")


class AlternativeOut(BaseModel):
    label: str
    confidence: float


class ClassifyResponse(BaseModel):
    id: str
    label: str
    confidence: float
    bucket: Literal["auto", "review", "hold"]
    alternatives: list[AlternativeOut]
    prediction_set: list[str] | None = Field(
        default=None,
        description="The labels that hold the right one with probability 0.9 (split-conformal, "
        "best first): two or more when the model cannot tell them apart, empty for a very "
        "confident input. Null for models without held-out calibration (zero-shot, older "
        "models) and on decisions read back from the log.",
    )
    taxonomy: str
    taxonomy_version: int
    model_version: str
    policy_version: int | None = Field(
        default=None, description="The routing-policy version that routed this decision."
    )
    routing_reason: str | None = Field(
        default=None,
        description="Why a confident decision was flagged: the auto lane is closed "
        "(GET /v1/taxonomies/{name}/routing says more).",
    )
    latency_ms: float
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    key_id: str | None = None
    created_at: str


class BatchResponse(BaseModel):
    results: list[ClassifyResponse]


class DecisionOut(ClassifyResponse):
    text: str = Field(description="The text classified (empty once erased).")
    final_label: str | None = None
    final_source: str | None = None
    resolved_at: str | None = None
    redacted_at: str | None = Field(
        default=None,
        description="When its text and metadata were erased (null: never).",
    )


class EraseIn(_In):
    """Decisions to erase: by id, by the external id they were sent with, or both."""

    ids: list[str] | None = Field(
        default=None, max_length=1000, description="Decision ids (all must exist)."
    )
    external_ids: list[str] | None = Field(
        default=None,
        max_length=1000,
        description="Every decision sent with one of these external ids (none: none erased).",
    )


class EraseOut(BaseModel):
    erased: int = Field(description="Decisions erased by this call (not erased before).")
    decisions: list[str] = Field(description="Every decision id matched (erased now or before).")


class DecisionPage(Page[DecisionOut]):
    """Decisions, newest first."""


# ------------------------------------------------------------ keys and usage
class KeyCreate(_In):
    role: Literal["admin", "reviewer", "client"]
    name: str = Field(default="", max_length=200)


class KeyOut(BaseModel):
    id: str
    workspace: str
    role: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret; shown only in this response.")


class KeyList(Page[KeyOut]):
    """The workspace's keys, oldest first."""


class MinuteUsage(BaseModel):
    limit: int | None
    used: int
    reset: str


class UsageOut(BaseModel):
    plan: str
    period: str
    used: int
    reserved: int = Field(
        description="Rows that queued and running bulk jobs accepted and have yet to "
        "classify: held for them, not left for other requests."
    )
    limit: int | None
    remaining: int | None = Field(
        description="What the monthly quota has left for new requests and jobs: the limit "
        "less `used` and `reserved` (null: no quota)."
    )
    reset: str
    per_minute: MinuteUsage


class PlanOut(BaseModel):
    name: str
    monthly_quota: int | None
    per_minute: int | None
    description: str


class WorkspaceOut(BaseModel):
    id: str
    name: str
    plan: PlanOut
    created_at: str
