"""Serving needs no fitting library: starting the API, a worker or the CLI, and loading and
running a saved model, import neither scikit-learn nor ``scipy.stats`` (nor pandas, which
scikit-learn pulls in).  Together they took 2-3 s of CPU at every process start; they load
when a model is trained, an evaluation scored or insights computed.

Each check runs a fresh interpreter so that modules other tests imported do not hide what
the imports load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import small_taxonomy
from triaged.classifier import Classifier

HEAVY = ("sklearn", "scipy.stats", "scipy.optimize", "pandas")


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "from triaged.api import create_app; from triaged.service import Service",
        "import triaged.cli, triaged.services.jobs_worker",
        "import triaged.services.insights, triaged.services.drift_checks, triaged.review",
    ],
)
def test_serving_modules_import_no_fitting_library(code: str) -> None:
    assert _loaded_after(code) == []


def test_a_saved_model_classifies_without_them(datasets_dir: Path, tmp_path: Path) -> None:
    clf = Classifier.from_taxonomy(small_taxonomy(datasets_dir, tmp_path)).fit()
    clf.save(tmp_path / "model")
    code = (
        "from triaged.classifier import Classifier\n"
        f"clf = Classifier.load({str(tmp_path / 'model')!r})\n"
        "assert clf.classify('I was charged twice').label\n"
        "clf.classify_batch(['my card is lost', 'where is my refund'])"
    )
    assert _loaded_after(code) == []
