"""The hold threshold from a model's own evidence: hold when holding is more often right.

A decision below the hold (``review``) threshold waits for a person before any action; one
above it acts (``review``: flagged, ``auto``: not).  For an input that fits no label,
acting is always wrong and holding is right; for an in-scope input, acting on the right
label is right and holding is a person's time spent.  With a share ``pi`` of traffic
expected to fit no label, the threshold ``h`` that makes the most of these decisions right
maximises

    (1 - pi) * P_in(conf >= h and the top label is right) + pi * P_oos(conf < h)

over the model's held-out routing evidence (out-of-fold in-scope rows; rows of labels held
out of a fold's training, scored by a model that never saw them, as out of scope).  Its
derivative says where: hold an input when, at its confidence, the density of out-of-scope
inputs weighted by ``pi`` is above that of right in-scope decisions weighted by ``1 - pi``
(the Bayes rule for act-or-hold).  The threshold never goes below ``floor`` (the
taxonomy's own review threshold, 0.60 by default), so the evidence can only hold more;
``pi = 0`` or missing evidence leaves it at the floor.

This is written here rather than taken from a library because it is the product's own
rule: no open-set library chooses a threshold from label-hold-out evidence and an
operator's expected out-of-scope share.  On the open-intent protocol (ADB's), routing by it
raises accuracy and macro-F1 over known labels + open from the fixed 0.60's to at least
ADB's in most cells (README, "Open intent").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from triaged.routing import RoutingEvidence

__all__ = ["HOLD_GRID_STEP", "HOLD_GRID_TOP", "HoldChoice", "evidence_hold_threshold"]

HOLD_GRID_STEP = 0.005
HOLD_GRID_TOP = 0.995


@dataclass(frozen=True, slots=True)
class HoldChoice:
    """The chosen hold threshold and what the evidence says of it."""

    threshold: float
    expected_right: float | None  # share of act-or-hold decisions right at ``threshold``
    at_floor_right: float | None  # the same at ``floor``
    reason: str


def evidence_hold_threshold(
    evidence: RoutingEvidence,
    *,
    expected_out_of_scope: float,
    floor: float,
    ceiling: float = HOLD_GRID_TOP,
) -> HoldChoice:
    """The grid value in ``[floor, ceiling]`` (steps of 0.005) with the most act-or-hold
    decisions right on ``evidence`` (the lowest of equals: hold no more than the evidence
    asks); ``floor`` when there is nothing to choose from."""
    pi = float(expected_out_of_scope)
    floor = float(floor)
    if evidence.n_in == 0 or evidence.n_oos == 0 or pi <= 0.0 or floor >= ceiling:
        why = (
            "no out-of-scope traffic expected"
            if pi <= 0.0
            else "no held-out evidence to choose from"
            if evidence.n_in == 0 or evidence.n_oos == 0
            else "the floor is at the top of the grid"
        )
        return HoldChoice(floor, None, None, f"hold threshold {floor:g}: the floor ({why})")
    k_lo = int(np.ceil(floor / HOLD_GRID_STEP - 1e-9))
    k_hi = int(np.floor(ceiling / HOLD_GRID_STEP + 1e-9))
    grid = np.unique(np.r_[floor, np.arange(k_lo, k_hi + 1) * HOLD_GRID_STEP])
    grid = grid[(grid >= floor - 1e-12) & (grid <= ceiling + 1e-12)]
    right_conf = np.sort(evidence.conf_in[evidence.correct_in])
    oos_conf = np.sort(evidence.conf_oos)
    # share of in-scope rows right and acted on (conf >= h); of out-of-scope rows held
    acted_right = (right_conf.size - np.searchsorted(right_conf, grid, side="left")) / max(
        evidence.n_in, 1
    )
    held_oos = np.searchsorted(oos_conf, grid, side="left") / oos_conf.size
    value = (1.0 - pi) * acted_right + pi * held_oos
    best = int(np.argmax(value))  # argmax returns the first (lowest) of equal values
    h = round(float(grid[best]), 6)
    at_floor = float(value[0])
    reason = (
        f"hold threshold {h:g} from the evidence: with {pi:.0%} of traffic expected out of "
        f"scope, {value[best]:.1%} of act-or-hold decisions right on {evidence.n_in} held-out "
        f"in-scope and {evidence.n_oos} simulated out-of-scope items ({at_floor:.1%} at the "
        f"floor {floor:g})"
    )
    return HoldChoice(h, float(value[best]), at_floor, reason)
