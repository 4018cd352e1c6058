"""A served database with one taxonomy and a known set of queued items, for the UI tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.servicekit import TINY_TAXONOMY
from triaged.service import ClassifyItem, Service
from triaged.settings import Settings

TEXTS = [
    "I was charged twice and need a refund for the second payment",
    "The app shows an error when I try to export my invoices",
    "Can you change the email on my account and my billing address?",
    "Where is the nearest train station?",
    "Something is wrong",
    "My password reset link does not work and I cannot log in",
]


@dataclass
class Seeded:
    service: Service
    reviewer_key: str
    client_key: str
    admin_key: str
    workspace: str
    n_items: int


def seed(tmp: Path, *, texts: list[str] | None = None) -> Seeded:
    """Every decision is queued (audit rate 1): as many items as ``texts``."""
    settings = Settings(
        data_dir=tmp,
        bootstrap_admin=False,
        review_audit_rate=1.0,
        review_retrain_after=0,
    )
    service = Service(settings)
    service.start()
    admin = service.create_key("acme", "admin", create_plan="unlimited")
    reviewer = service.create_key("acme", "reviewer", name="alice")
    client = service.create_key("acme", "client")
    assert admin.key and reviewer.key and client.key
    principal = service.authenticate(admin.key)
    service.create_taxonomy(principal, TINY_TAXONOMY)
    texts = TEXTS if texts is None else texts
    service.classify(service.authenticate(client.key), "support", [ClassifyItem(t) for t in texts])
    return Seeded(service, reviewer.key, client.key, admin.key, "acme", len(texts))
