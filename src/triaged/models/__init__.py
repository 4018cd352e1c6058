"""Vector -> probabilities: zero-shot prototypes, a trained head and out-of-scope scoring."""

from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.engine import DEFAULT_CONFIG, Engine, Prediction
from triaged.models.training import fit_threads

__all__ = ["DEFAULT_CONFIG", "CorrectnessCalibrator", "Engine", "Prediction", "fit_threads"]
