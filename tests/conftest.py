"""Shared fixtures: paths to the shared datasets and small real slices of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("TRIAGED_DATASETS", ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.exists():
        pytest.fail(f"shared datasets not found at {DATASETS} (set TRIAGED_DATASETS)")
    return DATASETS
