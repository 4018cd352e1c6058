"""Settings: TRIAGED_ environment, embedded defaults, production refuses unsafe ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from triaged.settings import Settings


def test_defaults_are_embedded_sqlite_in_the_data_dir(monkeypatch):
    monkeypatch.delenv("TRIAGED_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRIAGED_DATA_DIR", raising=False)
    s = Settings()
    assert s.resolved_database_url == "sqlite:///data/triaged.db"
    assert s.migrate_on_start


def test_environment_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("TRIAGED_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRIAGED_PLANS", '{"team": {"monthly_quota": 5000, "per_minute": 60}}')
    s = Settings()
    assert s.resolved_database_url == f"sqlite:///{tmp_path}/triaged.db"
    assert s.plans["team"].monthly_quota == 5000


def test_production_refuses_unsafe_defaults():
    with pytest.raises(ValidationError, match="TRIAGED_KEY_PEPPER"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="CORS"):
        Settings(env="production", key_pepper="s" * 32, cors_origins=["*"])
    assert Settings(env="production", key_pepper="s" * 32).env == "production"
    # sign-up on: its emailed links must not follow the request's Host header
    with pytest.raises(ValidationError, match="TRIAGED_PUBLIC_URL"):
        Settings(env="production", key_pepper="s" * 32, signup="invite")
    safe = Settings(
        env="production", key_pepper="s" * 32, signup="invite", public_url="https://t.example"
    )
    assert safe.signup == "invite"
