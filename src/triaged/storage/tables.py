"""The shared SQLAlchemy ``MetaData`` and the core tables of the service.

Other parts add their own tables to :data:`metadata` from their own modules
(``triaged.storage.review`` ...) and ship an Alembic revision for them; the
migrations, never ``create_all``, are what build a database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "decisions",
    "idempotency_keys",
    "metadata",
    "models",
    "quota_counters",
    "routing_policies",
    "taxonomies",
    "taxonomy_versions",
    "workspaces",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Stamp = DateTime(timezone=True)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("plan", String(100), nullable=False),
    Column("created_at", Stamp, nullable=False),
    # sign-up (0006): active | pending (email not verified yet) | suspended (by an operator)
    Column("status", String(20), nullable=False, server_default="active"),
    Column("contact_email", String(254), nullable=True, index=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("role", String(20), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Stamp, nullable=False),
    Column("revoked_at", Stamp, nullable=True),
)

# One row per workspace: this month's classify count and the current minute's count.
quota_counters = Table(
    "quota_counters",
    metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("period_used", BigInteger, nullable=False),
    Column("minute", BigInteger, nullable=False),
    Column("minute_used", Integer, nullable=False),
)

# Counted requests that no decision logs (bulk jobs with log=false) per UTC day and key,
# written with the quota counter: the usage page adds them to the decision log's counts.
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("key_id", String(40), primary_key=True),  # "" when no key made them
    Column("requests", BigInteger, nullable=False),
)

# Prometheus tallies, written with the rows they count (triaged.metrics reads them): logged
# decisions per workspace, taxonomy, bucket and latency bucket (``le``, its upper bound in
# seconds, or +Inf) with their latency sum; global totals (failed webhook attempts).
decision_tallies = Table(
    "decision_tallies",
    metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("taxonomy", String(100), primary_key=True),
    Column("bucket", String(10), primary_key=True),
    Column("le", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
)

metric_totals = Table(
    "metric_totals",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

taxonomies = Table(
    "taxonomies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("active_model_id", String(40), nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("archived_at", Stamp, nullable=True),
    # the current routing-policy version (0004), read with the record on the classify path
    Column("routing_version", Integer, nullable=True),
    UniqueConstraint("workspace_id", "name", name="uq_taxonomies_workspace_name"),
)

taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("n_examples", Integer, nullable=False),
    Column("created_at", Stamp, nullable=False),
    # {old label name: new name}: the labels this version renamed (None: none)
    Column("renames", JSON, nullable=True),
    # the API key id that made it (0021; null: made before 0021)
    Column("created_by", String(40), nullable=True),
    UniqueConstraint("taxonomy_id", "version", name="uq_taxonomy_versions_taxonomy_version"),
)

# Trained model versions (blobs shared by every worker) and their training jobs.
models = Table(
    "models",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False, index=True),
    Column("taxonomy_version", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("model_version", String(64), nullable=True),
    Column("mode", String(40), nullable=True),
    Column("blob", LargeBinary, nullable=True),
    Column("n_examples", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("finished_at", Stamp, nullable=True),
    # inline mode: the process training it (host/boot/pid/start, services/runner_id.py)
    # and a retrain's trigger, for the take-over when that process is gone
    Column("runner", String(200), nullable=True),
    Column("trigger", String(20), nullable=True),
    # written every few seconds while a process trains it (0016): silent for a minute = gone
    Column("heartbeat_at", Stamp, nullable=True),
    # while training (0019): {done, total, stage, started_at, updated_at}, at most once a second
    Column("progress", JSON, nullable=True),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("taxonomy", String(100), nullable=False),
    Column("taxonomy_version", Integer, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("label", String(100), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("bucket", String(10), nullable=False),
    Column("alternatives", JSON, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("final_label", String(100), nullable=True),
    Column("final_source", String(20), nullable=True),
    Column("resolved_at", Stamp, nullable=True),
    # routing (0004): the policy version that routed it, and for ``auto`` decisions the
    # probability with which it was drawn into the audit sample (its importance weight)
    Column("policy_version", Integer, nullable=True),
    Column("audit_rate", Float, nullable=True),
    # erasure (0022): when its text and metadata were erased (None: never)
    Column("redacted_at", Stamp, nullable=True),
    Index("ix_decisions_workspace_id_id", "workspace_id", "id"),
    Index("ix_decisions_workspace_taxonomy_id", "workspace_id", "taxonomy", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

# Versioned routing policy per taxonomy (0004): thresholds applied at classify time, never
# stored in a model; each change (training, the API, the live guarantee) is a new version.
routing_policies = Table(
    "routing_policies",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("model_id", String(40), nullable=True),  # the active model it was set for
    Column("auto", Float, nullable=True),  # None: the auto lane is closed
    Column("review", Float, nullable=False),
    # evidence: the hold threshold chosen from the model's evidence (>= review_floor)
    Column("review_source", String(16), nullable=False, server_default="manual"),
    Column("review_floor", Float, nullable=True),
    Column("audit_rate", Float, nullable=True),  # None: the service's setting
    Column("auto_error_target", Float, nullable=False),
    Column("confidence_level", Float, nullable=False),
    Column("expected_out_of_scope", Float, nullable=False),
    Column("source", String(20), nullable=False),  # training | manual | live
    Column("reason", Text, nullable=False),
    Column("bound", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    # the API key id that made it (0021; null: the service itself, training or live)
    Column("created_by", String(40), nullable=True),
    UniqueConstraint("taxonomy_id", "version", name="uq_routing_policies_taxonomy_version"),
)
