"""A small example taxonomy shipped with the package (used by ``triaged demo`` and docs)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from triaged.taxonomy import Taxonomy

__all__ = ["example_path", "example_taxonomy"]


def example_path() -> Path:
    return Path(str(resources.files("triaged.examples") / "support.yaml"))


def example_taxonomy() -> Taxonomy:
    return Taxonomy.load(example_path())
