"""The public API is curated: ``triaged.__all__`` is sorted and complete."""

from __future__ import annotations

import triaged


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in triaged.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in triaged.__all__:
        assert hasattr(triaged, name), name


def test_every_public_class_is_exported() -> None:
    # dir(): the lazily loaded names too (triaged/__init__.py loads them on first use)
    public = {
        name
        for name in dir(triaged)
        if not name.startswith("_") and isinstance(getattr(triaged, name), type)
    }
    assert public <= set(triaged.__all__)
