"""Delivery settings, read from ``TRIAGED_WEBHOOK_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from triaged.webhooks.netguard import UrlPolicy

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseSettings):
    """How the worker claims, sends and retries; each field maps to ``TRIAGED_WEBHOOK_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TRIAGED_WEBHOOK_", extra="ignore")

    worker: bool = Field(
        default=True,
        description="Deliver webhooks from this process: the `webhooks` job, in `triaged serve` "
        "(inline mode) or in `triaged worker` (TRIAGED_JOB_QUEUE=postgres).",
    )
    max_attempts: int = Field(default=20, ge=1, description="Tries before a delivery is failed.")
    backoff_base_s: float = Field(default=1.0, gt=0, description="Delay after the first failure.")
    backoff_max_s: float = Field(default=3600.0, gt=0, description="Cap on one retry delay.")
    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout.")
    poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="How often the outbox is checked for due deliveries (the `webhooks` job's "
        "period; on the PostgreSQL queue it is rounded up to whole seconds).",
    )
    claim_lease_s: float = Field(
        default=60.0, gt=0, description="A claimed delivery not finished by then is retried."
    )
    batch_size: int = Field(default=8, ge=1, description="Deliveries claimed per round.")
    concurrency: int = Field(default=4, ge=1, description="Deliveries sent in parallel.")
    retention_days: float = Field(
        default=30.0, gt=0, description="Settled deliveries and their events are kept this long."
    )
    allow_private: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private, link-local and reserved addresses "
        "(on-premises receivers); off, such URLs are refused at registration and delivery.",
    )
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names and CIDR networks let through although internal, as JSON, e.g. "
        '["hooks.corp.example", "10.1.2.0/24"].',
    )
    response_excerpts: bool = Field(
        default=False,
        description="Keep the first 500 characters of a receiver's response with each attempt; "
        "off, an attempt keeps only its status code and a generic error class.",
    )

    def url_policy(self) -> UrlPolicy:
        """Which internal destinations these settings let through."""
        return UrlPolicy.from_allow_list(self.allow_private, self.allow_hosts)
