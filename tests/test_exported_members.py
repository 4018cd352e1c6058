"""The public API is curated: ``triaged.__all__`` is sorted and complete."""

from __future__ import annotations

import triaged


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in triaged.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in triaged.__all__:
        assert hasattr(triaged, name), name


def test_every_public_class_is_exported() -> None:
    public = {
        name
        for name, value in vars(triaged).items()
        if not name.startswith("_") and isinstance(value, type)
    }
    assert public <= set(triaged.__all__)
