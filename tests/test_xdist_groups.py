"""`make unit` runs under ``--dist loadgroup`` so that the tests sharing a costly resource
(a Ray cluster, a Chromium) run on one xdist worker.  pytest 9.2 keeps node ids in a
structure pytest-xdist 3.8 does not write to, and every ``xdist_group`` mark was silently
ignored: each worker started its own cluster.  This fails if that happens again."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("probe")


def test_a_grouped_test_carries_its_group_under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):  # set by xdist in its workers
        pytest.skip("only meaningful under pytest-xdist --dist loadgroup")
    assert request.node.nodeid.endswith("@probe"), request.node.nodeid
