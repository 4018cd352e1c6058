"""Service settings, read from ``TRIAGED_*`` environment variables (pydantic-settings).

Precedence (highest first): arguments passed to :class:`Settings`, environment
variables, then the defaults below.  Nothing is read at import time: build a
``Settings()`` where it is needed (``triaged serve`` and ``create_app`` do).

With no configuration at all the service runs on the embedded defaults: a
SQLite database (WAL mode) in ``./data`` and the bundled encoder.  In production
mode (``TRIAGED_ENV=production``) it refuses to start with unsafe defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEV_KEY_PEPPER", "PlanSpec", "Settings", "is_base_url"]

DEV_KEY_PEPPER = "triaged-development-pepper"


def is_base_url(url: str) -> bool:
    """An http(s) URL with a host and no query: a base that the links mailed and shown
    (verification, invites, the quick start) can be built on."""
    parts = urlsplit(url.strip())
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and not parts.query


class PlanSpec(BaseModel):
    """An operator-defined plan: a monthly classify quota and a per-minute rate (None: no limit)."""

    monthly_quota: int | None = Field(default=None, ge=0)
    per_minute: int | None = Field(default=None, ge=1)
    description: str = ""


class Settings(BaseSettings):
    """Every knob of the service; each field maps to ``TRIAGED_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TRIAGED_", extra="ignore", validate_default=True)

    env: Literal["development", "test", "production"] = Field(
        default="development",
        description="production refuses unsafe defaults (the development key pepper, CORS *).",
    )
    data_dir: Path = Field(
        default=Path("./data"), description="Folder for the SQLite database and local state."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/triaged.db (WAL).",
    )
    host: str = Field(default="127.0.0.1", description="Address `triaged serve` binds to.")
    port: int = Field(
        default=8000, ge=1, le=65535, description="Port `triaged serve` listens on (1-65535)."
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply Alembic migrations when the service starts."
    )
    bootstrap_admin: bool = Field(
        default=True,
        description="On first start (no workspace yet) create one with an admin key, printed once.",
    )
    bootstrap_workspace: str = Field(
        default="default", description="Name of the workspace created on first start."
    )
    bootstrap_plan: str = Field(
        default="unlimited", description="Plan of the workspace created on first start."
    )
    key_pepper: str = Field(default=DEV_KEY_PEPPER, description="Secret mixed into API key hashes.")
    session_secret: str | None = Field(
        default=None,
        description="Signs the web UI's session cookies; unset, a random secret is generated on "
        "first start and kept in the database (shared by every worker).",
    )
    plans: dict[str, PlanSpec] = Field(
        default_factory=dict,
        description=(
            'Extra plans as JSON, e.g. {"team": {"monthly_quota": 100000, "per_minute": 600}}.'
        ),
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed by CORS, as JSON, e.g. ["https://a.example"].',
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest JSON request body (413 above)."
    )
    max_upload_bytes: int = Field(
        default=20_000_000, ge=1024, description="Largest examples upload (JSON, JSONL, CSV)."
    )
    max_text_chars: int = Field(
        default=10_000,
        ge=1,
        description="Longest text to classify or example to store, in characters (413 above). "
        "Why this size: the encoder reads a text in windows of 256 tokens, at most 8 (about "
        "1,500 words, some 9,000 characters of English prose, fewer of code, URLs or CJK), so "
        "that one text costs at most 8 short ones; past them only the lexical channel reads "
        "the rest. A larger limit takes longer documents whose tail the encoder does not read.",
    )
    max_metadata_bytes: int = Field(
        default=16_384, ge=2, description="Largest `metadata` of one text, as compact JSON (422)."
    )
    max_metadata_depth: int = Field(
        default=8, ge=1, description="Deepest nesting of objects/lists in `metadata` (422)."
    )
    max_labels_per_taxonomy: int = Field(
        default=1000, ge=1, description="Most labels in one taxonomy (413 above)."
    )
    max_examples_per_taxonomy: int = Field(
        default=100_000,
        ge=1,
        description="Most examples in one taxonomy version, out-of-scope ones included (413 "
        "above); training memory grows with labels and examples.",
    )
    max_batch: int = Field(
        default=100,
        ge=1,
        description="Most texts in one batch classify. The body still answers to "
        "max_body_bytes: 100 texts of 10,000 characters are over 1 MB (413).",
    )
    max_taxonomies_per_workspace: int = Field(
        default=100,
        ge=1,
        description="Most taxonomies of one workspace, archived ones not counted (409 "
        "limit_reached above); each trains a model.",
    )
    max_webhooks_per_workspace: int = Field(
        default=20,
        ge=1,
        description="Most webhook endpoints of one workspace, deleted ones not counted (409 "
        "limit_reached above); each event is sent to every one.",
    )
    max_evaluate_examples: int = Field(
        default=5000,
        ge=1,
        description="Most examples given to one POST /v1/taxonomies/{name}/evaluate (413 above); "
        "each counts against the plan's quota and per-minute rate like a classified text.",
    )
    training_threads: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Held-out fits of a training run at once (the model is the same whatever "
        "the number; each holds its own slices of the data in memory). 0: half the CPU cores, "
        "at least 1 and at most 8.",
    )
    background_train_min_examples: int = Field(
        default=200, ge=0, description="Train in a background thread from this many examples."
    )
    idempotency_ttl_hours: float = Field(
        default=24.0,
        ge=0.0,
        description="How long an Idempotency-Key replays its first response (0: forever).",
    )
    decision_retention_days: float = Field(
        default=0.0,
        ge=0.0,
        description=(
            "Erase the text and metadata of decisions older than this many days, every hour "
            "(0: keep them; labels, confidences and review outcomes always stay; a decision "
            "waiting for a review goes once answered)."
        ),
    )
    metrics_token: str | None = Field(
        default=None,
        description=(
            "Bearer token GET /metrics requires (it names workspaces and taxonomies); unset, a "
            "token is generated on first start, printed once and kept hashed in the database."
        ),
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve GET /metrics without a token (only behind a network that keeps it "
        "private).",
    )
    auth_max_failures: int = Field(
        default=20,
        ge=0,
        description="Failed API key lookups or web sign-ins per client address (an IPv6 "
        "address counts by its /64; and per key prefix) within auth_failure_window_seconds "
        "before 429 + Retry-After (0: no limit); counted in the database by every API process "
        "together.",
    )
    auth_failure_window_seconds: float = Field(
        default=60.0, gt=0, description="Window of the failed-authentication limit."
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description=(
            "SQLite durability: NORMAL (WAL) survives a crash of the process, FULL also a power "
            "loss, at the cost of an fsync per commit."
        ),
    )
    db_pool_size: int = Field(default=10, ge=1, description="Database connection pool size.")
    db_max_overflow: int = Field(
        default=30, ge=0, description="Connections allowed above the pool size."
    )
    classifier_cache_size: int = Field(
        default=32, ge=1, description="Trained models kept loaded in memory per process."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = Field(
        default="info", description="Log level of the service."
    )
    access_log: bool = Field(default=False, description="Log every request (costs latency).")
    shutdown_timeout_seconds: int = Field(
        default=30,
        ge=1,
        description="On SIGTERM, how long `triaged serve` waits for requests in flight before "
        "it closes their connections, then for a training in progress before it abandons it "
        "(the next start on this machine trains it again).",
    )
    # review queue and learning loop (triaged.review)
    review_lease_seconds: float = Field(
        default=600.0, gt=0, description="How long a claimed review item stays with its reviewer."
    )
    review_audit_rate: float = Field(
        default=0.02, ge=0.0, le=1.0, description="Share of auto decisions drawn for audit."
    )
    review_audit_rates: dict[str, float] = Field(
        default_factory=dict,
        description='Audit share per taxonomy name as JSON, e.g. {"support": 0.05}.',
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("review_audit_rates")
    @classmethod
    def _rates_are_shares(cls, value: dict[str, float]) -> dict[str, float]:
        wrong = {k: v for k, v in value.items() if not 0.0 <= v <= 1.0 or not k.strip()}
        if wrong:
            raise ValueError(
                "each audit share is a taxonomy name and a number from 0 to 1 "
                f"(not {', '.join(f'{k!r}: {v}' for k, v in wrong.items())})"
            )
        return value

    review_retrain_after: int = Field(
        default=50, ge=0, description="Retrain a taxonomy after this many new reviews (0: never)."
    )
    review_auto_examples: int = Field(
        default=2000,
        ge=0,
        description="Unreviewed auto decisions (model label) added to a retrain (0: none).",
    )
    review_holdout_fraction: float = Field(
        default=0.2, ge=0.0, lt=1.0, description="Share of reviews held out to evaluate."
    )
    # routing policy and the auto lane's guarantee (triaged.services.routing_policy)
    routing_auto_error_target: float = Field(
        default=0.02,
        gt=0.0,
        lt=1.0,
        description="Default error target of the auto lane for new taxonomies (out-of-scope "
        "inputs count as errors).",
    )
    routing_confidence_level: float = Field(
        default=0.95,
        gt=0.0,
        lt=1.0,
        description="Default confidence level of the auto lane's error bound.",
    )
    routing_expected_out_of_scope: float = Field(
        default=0.2,
        ge=0.0,
        lt=1.0,
        description="Default share of traffic expected to fit no label, for the training bound "
        "and the hold threshold chosen from the evidence.",
    )
    routing_thin_audit_rate: float = Field(
        default=0.10,
        ge=0.0,
        le=1.0,
        description="Audit share of auto decisions while live evidence is thin (fewer than "
        "routing_live_min_audits reviewed audits since the policy version); never below the "
        "configured audit share.",
    )
    routing_live_min_audits: int = Field(
        default=200,
        ge=1,
        description="Reviewed audits of a policy version after which its auto lane must meet "
        "the target on live evidence alone, and no block of as many consecutive audits may show "
        "a clear failure (before that, only a clear failure, at looks every eighth of it, "
        "raises it).",
    )
    routing_check_interval_seconds: float = Field(
        default=300.0,
        ge=0.0,
        description="Check every taxonomy's live auto-lane bound this often, besides after "
        "each review (0: only after reviews).",
    )
    routing_refresh_seconds: float = Field(
        default=30.0,
        gt=0.0,
        description="How long a process trusts its cached audit share of a policy version.",
    )
    # drift alerts (triaged.drift): checked in the background by `triaged serve`
    drift_check_interval_seconds: float = Field(
        default=900.0,
        ge=0.0,
        description="Check every workspace for drift this often; new alerts go to the webhooks "
        "(0: never).",
    )
    # what counts as drift, for the periodic check, the dashboard and the defaults of
    # GET /v1/metrics/drift and `triaged drift check` (each can be given per request)
    drift_recent_hours: float = Field(
        default=24.0, gt=0.0, le=24.0 * 366, description="Drift: the recent window (hours)."
    )
    drift_baseline_hours: float = Field(
        default=168.0,
        gt=0.0,
        le=24.0 * 366,
        description="Drift: the baseline window just before the recent one (hours).",
    )
    drift_alpha: float = Field(
        default=0.01,
        gt=0.0,
        lt=1.0,
        description="Drift: significance of the two-proportion test (Bonferroni-corrected).",
    )
    drift_min_volume: int = Field(
        default=100, ge=1, description="Drift: decisions needed in each window."
    )
    drift_min_change: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Drift: the smallest absolute change of a share that is reported.",
    )
    drift_per_label: bool = Field(
        default=False, description="Drift: also test each label's share of the traffic."
    )

    # self-service sign-up (issue 14): triaged.services.signup
    signup: Literal["off", "invite", "open"] = Field(
        default="off",
        description="Self-service sign-up: off (operators create workspaces), invite (with a "
        "single-use invite link an admin made) or open (anyone).",
    )
    signup_plan: str = Field(default="free", description="Plan of a signed-up workspace.")
    signup_allow_unverified: bool = Field(
        default=False,
        description="Let TRIAGED_SIGNUP=open run without TRIAGED_SMTP_URL: sign-ups are active "
        "at once, their email unverified (refused at start-up otherwise).",
    )
    smtp_url: str | None = Field(
        default=None,
        description="Mail server for sign-up verification: smtp://[user:password@]host[:port], "
        "smtp+starttls://... or smtps://...; set, a signed-up workspace stays pending until "
        "its email link is followed.",
    )
    smtp_from: str = Field(
        default="triaged@localhost", description="From address of the verification emails."
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL users reach the service at, http:// or https:// (links in "
        "emails, the quick start); default: the URL of the sign-up request.",
    )
    signup_per_ip: int = Field(
        default=5,
        ge=0,
        description="Sign-ups from one client address (an IPv6 address counts by its /64) per "
        "signup_window_seconds, refused ones for a taken name or an email at its cap included "
        "(429 above; 0: no limit).",
    )
    signup_global: int = Field(
        default=100,
        ge=0,
        description="Sign-ups from all addresses per signup_window_seconds (429 above; 0: no "
        "limit).",
    )
    signup_window_seconds: float = Field(
        default=3600.0, gt=0, description="Window of the sign-up rate limits."
    )
    signup_max_per_email: int = Field(
        default=3,
        ge=1,
        description="Most workspaces signed up with one contact email (case and a +tag aside).",
    )
    signup_verify_hours: float = Field(
        default=48.0, gt=0, description="How long an email verification link works."
    )
    signup_invite_hours: float = Field(
        default=168.0, gt=0, description="Default lifetime of an invite link."
    )

    @model_validator(mode="after")
    def _signup_needs_mail(self) -> Settings:
        if self.signup == "open" and not self.smtp_url and not self.signup_allow_unverified:
            raise ValueError(
                "TRIAGED_SIGNUP=open needs email verification: set TRIAGED_SMTP_URL to a mail "
                "server, or TRIAGED_SIGNUP_ALLOW_UNVERIFIED=true to accept unverified sign-ups"
            )
        if self.signup != "off" and self.signup_plan not in {"free", "unlimited", *self.plans}:
            raise ValueError(f"unknown TRIAGED_SIGNUP_PLAN {self.signup_plan!r}")
        schemes = {"smtp", "smtp+starttls", "smtps"}
        if self.smtp_url and self.smtp_url.split("://")[0] not in schemes:
            raise ValueError(
                "TRIAGED_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://"
            )
        if self.public_url and not is_base_url(self.public_url):  # the links are built on it
            raise ValueError(
                "TRIAGED_PUBLIC_URL must be an http:// or https:// URL such as "
                "https://triaged.example.com (the base of the links in emails and the quick start)"
            )
        return self

    # jobs (issue 11): where training, bulk jobs and periodic work run
    job_queue: Literal["inline", "postgres"] = Field(
        default="inline",
        description="inline: `triaged serve` runs jobs in-process (the embedded default); "
        "postgres: jobs go to a queue in PostgreSQL (procrastinate) run by `triaged worker`.",
    )
    worker_concurrency: int = Field(
        default=2, ge=1, description="Jobs one `triaged worker` process runs at a time."
    )
    job_stalled_seconds: float = Field(
        default=30.0,
        gt=0.0,
        description="A job whose worker sent no heartbeat for this long is retried; without a "
        "queue, another API process then takes over a bulk job whose process stopped (at once "
        "when that process ran on the same machine and is gone).",
    )
    max_job_upload_bytes: int = Field(
        default=2_000_000_000, ge=1024, description="Largest bulk job upload (POST /v1/jobs)."
    )
    classify_concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Classify requests one API process works on at once; the rest wait their "
        "turn in arrival order. One process runs Python on one core at a time (the GIL), and "
        "more threads contending for it lower its throughput: add processes, not threads.",
    )
    # micro-batching (issue 11): concurrent classify requests share one encoder call
    microbatch: bool = Field(
        default=True,
        description="Join concurrent classify requests into one exact encoder batch "
        "(results unchanged; nothing waits without concurrency).",
    )
    microbatch_window_ms: float = Field(
        default=1.0,
        ge=0.0,
        le=2.0,
        description="While requests arrive together, how long a batch waits for more (ms).",
    )
    microbatch_max_texts: int = Field(
        default=256, ge=1, description="Most texts one micro-batched encoder call takes."
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        problems: list[str] = []
        if self.key_pepper == DEV_KEY_PEPPER or len(self.key_pepper) < 16:
            problems.append("set TRIAGED_KEY_PEPPER to a secret of at least 16 characters")
        if "*" in self.cors_origins:
            problems.append("TRIAGED_CORS_ORIGINS must not contain '*'")
        if self.bootstrap_plan not in {"free", "unlimited", *self.plans}:
            problems.append(f"unknown TRIAGED_BOOTSTRAP_PLAN {self.bootstrap_plan!r}")
        if self.signup != "off" and not self.public_url:
            # else the verification link mailed to the sign-up's address, and the quick start,
            # are built from the request's Host header, which the client chooses
            problems.append("with TRIAGED_SIGNUP on, set TRIAGED_PUBLIC_URL (links in emails)")
        if problems:
            raise ValueError("unsafe settings for production: " + "; ".join(problems))
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'triaged.db').as_posix()}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file the database URL names (None for other databases and in-memory)."""
        url = self.resolved_database_url
        if not url.startswith("sqlite") or ":///" not in url:
            return None
        path = url.split(":///", 1)[1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with some fields replaced (None values are ignored), re-validated."""
        data = self.model_dump()
        data.update({k: v for k, v in values.items() if v is not None})
        return Settings(**data)
