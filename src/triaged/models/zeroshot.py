"""Zero-shot scoring constants: cosine to label prompts -> probabilities and confidence.

PLACEHOLDER values; replaced by fitted constants (see module history / report).
"""

from __future__ import annotations

import numpy as np

from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.features import ZERO_SHOT_FEATURES

__all__ = ["ZERO_SHOT_TEMPERATURE", "zero_shot_calibrator"]

ZERO_SHOT_TEMPERATURE = 0.03

_MEAN = [0.5, 0.05, -3.0, 0.3, 3.5]
_SCALE = [0.1, 0.04, 1.0, 0.1, 1.0]
_COEF = [0.5, 1.0, 0.0, 0.5, 0.0]
_INTERCEPT = -0.5


def zero_shot_calibrator() -> CorrectnessCalibrator:
    assert len(_COEF) == len(ZERO_SHOT_FEATURES)
    return CorrectnessCalibrator(
        np.array(_MEAN, dtype=np.float64),
        np.array(_SCALE, dtype=np.float64),
        np.array(_COEF, dtype=np.float64),
        float(_INTERCEPT),
    )
