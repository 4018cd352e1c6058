"""``triaged eval --model DIR DATASET``: score a model saved by ``triaged train`` on labelled
texts, routed as the service would route them (the auto threshold certified from the model's
own held-out evidence), with the figures of ``triaged eval``.

DATASET is a dataset folder (its ``test.jsonl``) or a JSONL file of ``{"text", "label"}``
lines; ``oos`` labels mark out-of-scope texts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from triaged.errors import DatasetError
from triaged.taxonomy import label_index, read_jsonl

__all__ = ["evaluate_saved"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate_saved(
    model_dir: str | Path,
    dataset: str | Path,
    *,
    routing_options: Mapping[str, float] | None = None,
    progress: bool = True,
    say: Callable[[str], None] = _say,
) -> dict[str, Any]:
    """The evaluation report of the saved model in ``model_dir`` on ``dataset``; stages are
    reported through ``say`` (stderr by default) so a long run is never silent.
    ``routing_options``: ``auto_error_target``, ``confidence_level``,
    ``expected_out_of_scope`` of the certified routing (default: the service's)."""
    from triaged.classifier import Classifier
    from triaged.evaluation import (
        DEFAULT_AUTO_ERROR_TARGET,
        DEFAULT_CONFIDENCE_LEVEL,
        DEFAULT_EXPECTED_OOS,
        certified_routing,
        evaluate,
    )

    # the report names the routing it used, also where it is the default (it named only
    # the options given)
    options = {
        "auto_error_target": DEFAULT_AUTO_ERROR_TARGET,
        "confidence_level": DEFAULT_CONFIDENCE_LEVEL,
        "expected_out_of_scope": DEFAULT_EXPECTED_OOS,
        **(routing_options or {}),
    }

    root = Path(dataset)
    test_file = root / "test.jsonl" if root.is_dir() else root
    if not test_file.exists():
        raise DatasetError(f"{test_file}: no such file", details={"file": str(test_file)})
    started = time.perf_counter()
    say(f"eval: loading the model in {model_dir} ...")
    clf = Classifier.load(model_dir)
    test = list(read_jsonl(test_file, index=label_index(root) if root.is_dir() else None))
    if not test:
        raise DatasetError(
            f"{test_file}: no test items to evaluate on", details={"file": str(test_file)}
        )
    say(f"eval: scoring {len(test)} texts of {test_file} ...")
    lanes = certified_routing(clf, **options)
    report = evaluate(
        clf, [e.text for e in test], [e.label for e in test], progress=progress, routing=lanes
    )
    report.update(
        dataset=root.name if root.is_dir() else root.stem,
        protocol="saved-model",
        model=str(model_dir),
        model_version=clf.model_version,
        taxonomy=clf.taxonomy.name,
        **options,
    )
    say(f"eval: done in {time.perf_counter() - started:.1f}s")
    return report
