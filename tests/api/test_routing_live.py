"""Acceptance of the live guarantee (issue 8), through the API on SQLite.

A taxonomy is trained on 20 known labels of Banking77; traffic mixes in texts of the
other 57 labels; a truthful reviewer resolves every queued item (``out_of_scope`` for
texts no known label covers).  The simulation is :mod:`bench.live_sim` (the same code
as ``bench/bench_live.py``, at test size); audit shares are raised for the test
(``review_audit_rate`` 0.2, 0.5 while evidence is thin) so a short stream carries
enough audits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench.live_sim import dataset_slice, make_service, scenario

from triaged.routing import RoutingEvidence
from triaged.service import Service
from triaged.services.routing_policy.store import evidence_of_model

pytestmark = pytest.mark.anyio

TARGET = 0.02


async def _run(
    tmp_path: Path,
    datasets_dir: Path,
    retrain_after: int = 0,
    inspect: Callable[[Service, dict[str, Any]], Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The scenario's report; ``inspect(service, report)`` (before the service closes) is
    added to it as ``inspected``."""
    service = make_service(
        f"sqlite:///{tmp_path / 'live.db'}",
        review_audit_rate=0.2,
        routing_thin_audit_rate=0.5,
        review_retrain_after=retrain_after,
    )
    try:
        sl = dataset_slice(datasets_dir, "banking77", n_known=20, per_label=80, seed=0)
        rep = await scenario(service, sl, name="bank", n_fresh=500, **kwargs)
        if inspect is not None:
            rep["inspected"] = inspect(service, rep)
        return rep
    finally:
        service.close()


async def test_unknown_inputs_make_the_service_raise_the_auto_threshold(
    tmp_path: Path, datasets_dir: Path
) -> None:
    # the operator expects no out-of-scope traffic; 30% of it fits no known label
    rep = await _run(
        tmp_path,
        datasets_dir,
        unknown_share=0.3,
        n_stream=600,
        routing={"expected_out_of_scope": 0.0},
    )
    trained, final, fresh = rep["trained"], rep["final"], rep["fresh"]
    assert trained["auto"] is not None, trained["reason"]  # open under that assumption
    # ... and wrong: at the training threshold fresh traffic would be far off target
    at_training = rep["fresh_at_training_threshold"]
    assert at_training["auto_error"] > TARGET

    # no out-of-scope traffic expected: nothing is held above the floor at training; the
    # reviews measure ~30% and the hold threshold rises with the live version
    assert trained["review_source"] == "evidence" and trained["review"] == 0.6
    assert final["hold_share"] > 0.15 and final["review"] > trained["review"], final

    # the threshold moved by itself: a live version, recorded and sent as alert.auto_lane
    assert final["source"] == "live" and final["version"] > trained["version"]
    alerts = rep["alerts"]
    assert alerts and alerts[0]["from"] == trained["auto"]
    assert alerts[0]["to"] is None or alerts[0]["to"] > trained["auto"]
    assert alerts[0]["change"] == ("closed" if alerts[0]["to"] is None else "raised")
    assert alerts[0]["policy_version"] == trained["version"] + 1
    assert "audits since version" in alerts[0]["reason"]

    # afterwards the auto lane meets the target on fresh traffic (or is closed, and says so)
    if final["auto"] is None:
        assert fresh["auto_n"] == 0 and final["reason"].startswith("live:")
        assert "closed" in final["reason"]
    else:
        assert fresh["auto_n"] >= 100
        assert fresh["auto_error"] <= TARGET


async def test_without_unknown_inputs_the_auto_share_holds(
    tmp_path: Path, datasets_dir: Path
) -> None:
    # the default expectation (20% out of scope) is wrong the other way: none is
    rep = await _run(tmp_path, datasets_dir, unknown_share=0.0, n_stream=800)
    trained, final, fresh = rep["trained"], rep["final"], rep["fresh"]
    at_training = rep["fresh_at_training_threshold"]
    share_at_training = at_training["auto_share"] if at_training is not None else 0.0
    assert fresh["auto_share"] >= share_at_training - 0.05, (trained, final)
    # the reviews bound the out-of-scope share near 0: the evidence is re-certified with it
    # (one of the live versions; a later one may come from the reviews alone, when they
    # certify a lower threshold), and the lane comes within 5 points of the fixed 0.85
    # threshold of before
    reasons = [final["reason"], *(a["reason"] for a in rep["alerts"])]
    assert final["source"] == "live", final
    assert any("live out-of-scope share" in r for r in reasons), reasons
    # ... and the hold threshold, chosen for 20% out of scope, falls back towards its floor
    assert final["hold_share"] < 0.2 and final["review"] <= trained["review"], final
    before = rep["fresh_by_threshold"][0.85]
    assert fresh["auto_share"] >= before["auto_share"] - 0.05, (final, before)
    assert fresh["auto_n"] > 0 and fresh["auto_error"] <= TARGET


async def test_retrained_models_keep_the_lane_the_unknown_inputs_closed(
    tmp_path: Path, datasets_dir: Path
) -> None:
    # as the first test, with the service's retraining on: every 100 reviews a new model,
    # and with it a new policy certified at training.  The reviewed out-of-scope inputs
    # train it, but they are mostly the ones routing already sent to review or hold: as
    # evidence of how often unknown inputs clear a threshold they would reopen the lane
    # (5 December: a retrained model opened at 0.995 with 3.2% of fresh auto decisions
    # wrong).  Its certification stands on the simulated out-of-scope evidence at the
    # share the reviews measure.
    def evidence(service: Service, rep: dict[str, Any]) -> RoutingEvidence:
        with service.db.read() as conn:
            return evidence_of_model(conn, rep["final"]["model_id"])

    rep = await _run(
        tmp_path,
        datasets_dir,
        retrain_after=100,  # every 100 reviews: 4-5 models, each with its own policy
        inspect=evidence,
        unknown_share=0.3,
        n_stream=600,
        routing={"expected_out_of_scope": 0.0},
    )
    final, fresh = rep["final"], rep["fresh"]
    assert rep["models"]["ready"] >= 3 and rep["models"]["failed"] == 0, rep["models"]
    assert final["model_id"] != rep["trained"]["model_id"]
    # the retrained model's out-of-scope evidence: held-out labels only (a real example
    # would be a cluster of its own, numbered below 0), though ~90 reviewed ones train it
    ev: RoutingEvidence = rep["inspected"]
    assert ev.n_oos > 0 and bool((ev.oos_cluster >= 0).all()), ev.oos_cluster.min()
    assert rep["reviews"] > 400
    assert fresh["auto_n"] == 0 or fresh["auto_error"] <= TARGET, (final, fresh)
