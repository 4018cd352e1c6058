"""Zero-shot scoring constants: cosine to label prompts -> probabilities and confidence.

The correctness calibrator below was fitted by ``fit_zeroshot.py`` (see the models
report) on the **train and val splits only** of three public intent datasets in the
shared format: Banking77 (PolyAI, CC BY 4.0), CLINC150 (clinc/oos-eval, CC BY 3.0,
``oos`` items counted as wrong) and SNIPS 2017 custom intents (sonos/nlu-benchmark,
CC0), each dataset weighted equally, features from
:func:`triaged.models.features.zero_shot_features` on the bundled MiniLM encoder with
plain ``Label.prompt`` texts.

Confidence is the calibrated probability itself: it is not bent towards a routing
threshold.  A zero-shot engine records no routing evidence (it has no labelled data to
hold out), so the certified auto lane stays closed until the taxonomy has examples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.features import ZERO_SHOT_FEATURES

__all__ = [
    "ZERO_SHOT_TEMPERATURE",
    "membership",
    "zero_shot_calibrator",
]

#: Softmax temperature over cosine similarities (NLL-optimal was 0.048-0.060 on the
#: three datasets' train splits).
ZERO_SHOT_TEMPERATURE = 0.05

_MEAN = [0.501825, 0.13493, -2.540831, 0.375739, 1.265026, 3.555239, 1.738035]
_SCALE = [0.186163, 0.121655, 1.233305, 0.17526, 1.159136, 1.668637, 2.449708]
_COEF = [-0.152537, 0.590623, 0.119965, -0.106212, -0.47706, 0.242423, 2.023991]
_INTERCEPT = 1.517190


def zero_shot_calibrator() -> CorrectnessCalibrator:
    """The shipped calibrator over :data:`ZERO_SHOT_FEATURES`."""
    if len(_COEF) != len(ZERO_SHOT_FEATURES):  # pragma: no cover - guarded by tests
        raise RuntimeError("zero-shot calibrator constants do not match the feature list")
    return CorrectnessCalibrator(
        np.array(_MEAN, dtype=np.float64),
        np.array(_SCALE, dtype=np.float64),
        np.array(_COEF, dtype=np.float64),
        float(_INTERCEPT),
    )


# One-label taxonomies (and the example-less labels of partly labelled ones): P(the input
# belongs to a label) from its similarity to
# the label prompt (and to the label's examples, when there are some).  Fitted by
# ``fit_member.py`` on the same train/val splits: for every label, 50 of its items as
# positives and 100 items of other labels (CLINC ``oos`` included) as negatives, classes
# weighted equally (so the probability assumes even odds before looking at the input),
# datasets weighted equally.  Items of sibling intents are harder negatives than
# unrelated text, so unrelated inputs land far below the hold line.
_MEMBER_ZS = (11.925900, -3.142500)  # (coef of prompt cosine, intercept)
_MEMBER_TRAINED = ((3.594100, 5.854900, 5.360400), -5.347500)  # prompt, nearest, top-3 mean


def membership(
    prompt_sim: NDArray[np.float64], example_sims: NDArray[np.float64] | None
) -> NDArray[np.float64]:
    """P(input belongs to the label) from its cosine to the label prompt (``(n,)``) and to
    the label's labelled examples (``(n, m)``, ``None`` or ``m == 0`` when there are none)."""
    if example_sims is None or example_sims.shape[1] == 0:
        a, b = _MEMBER_ZS
        z = a * prompt_sim + b
    else:
        srt = -np.sort(-example_sims, axis=1)
        (w_p, w_nn, w_top3), b = _MEMBER_TRAINED
        z = w_p * prompt_sim + w_nn * srt[:, 0] + w_top3 * srt[:, :3].mean(axis=1) + b
    out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
    return out
