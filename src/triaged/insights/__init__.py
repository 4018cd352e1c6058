"""Taxonomy insights: why the model is uncertain, computed from the decision log.

* :mod:`~triaged.insights.gaps`: clusters of held / new-category inputs -> proposed labels;
* :mod:`~triaged.insights.overlaps`: label pairs split by the model, reviewers and examples;
* :mod:`~triaged.insights.health`: per-label volume, confidence, held share, corrections, ECE;
* :mod:`~triaged.insights.report`: :func:`compute_insights` ties them together.
"""

from triaged.insights.config import InsightsConfig
from triaged.insights.gaps import GapCluster
from triaged.insights.health import LabelHealth
from triaged.insights.overlaps import Overlap
from triaged.insights.records import DecisionRecord
from triaged.insights.report import InsightsReport, compute_insights, gap_candidates

__all__ = [
    "DecisionRecord",
    "GapCluster",
    "InsightsConfig",
    "InsightsReport",
    "LabelHealth",
    "Overlap",
    "compute_insights",
    "gap_candidates",
]
