"""Vector -> probabilities: zero-shot prototypes, a trained head and out-of-scope scoring."""

from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.engine import DEFAULT_CONFIG, Engine, Prediction

__all__ = ["DEFAULT_CONFIG", "CorrectnessCalibrator", "Engine", "Prediction"]
