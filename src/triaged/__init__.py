"""triaged: calibrated text classification with three-bucket routing."""

__version__ = "0.1.0"
