"""Helpers shared by the benchmark scripts: dataset location, README sections, results files
and a caching encoder."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# one BLAS/OpenMP thread per process (set before numpy loads): the benches share two cores
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)  # for scripts that loaded numpy before this module

if TYPE_CHECKING:
    from triaged.encoders import Encoder

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("TRIAGED_DATASETS", ROOT.parent / "shared" / "datasets"))
README = ROOT / "README.md"
T = TypeVar("T")


def update_readme(section: str, body: str) -> None:
    """Replace the text between ``<!-- bench:SECTION -->`` and ``<!-- /bench:SECTION -->``."""
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {start} ... {end} section")
    README.write_text(
        pattern.sub(lambda _: f"{start}\n{body.rstrip()}\n{end}", text), encoding="utf-8"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


RESULTS = ROOT / "bench" / "results"


def write_results(name: str, payload: object) -> Path:
    """Write ``bench/results/NAME.json`` (gitignored: the README table is the record)."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    return path


class CachedEncoder:
    """The bundled encoder with the vectors of the shared datasets' splits looked up in
    ``bench/.cache/emb`` (``bench.embed_cache``); any other text goes to the real encoder.

    A real :class:`triaged.encoders.Encoder`: ``Classifier.fit`` and ``evaluate`` call it
    exactly as they call the bundled one.  Train splits were cached as embedded in batches
    (as ``fit`` does) and val/test splits one text per call (as ``classify`` does), so a
    call with ``batch_size=1`` prefers the latter.  Only benchmarks use it; the CLI and the
    service always embed.  (With int8 dynamic quantization a text's vector depends slightly
    on the batch it was embedded in, so a K-shot subset embedded by ``fit`` itself would
    differ in the last digits from the cached full-split batches.)
    """

    def __init__(self, datasets: Iterable[str], base: Encoder | None = None) -> None:
        from bench.embed_cache import embeddings
        from triaged.encoders import get_encoder

        self._base = base if base is not None else get_encoder()
        self.name = self._base.name
        self.dim = self._base.dim
        self._batched: dict[str, np.ndarray] = {}
        self._single: dict[str, np.ndarray] = {}
        for dataset in datasets:
            for split in ("train", "val", "test"):
                texts, _, X = embeddings(dataset, split)
                table = self._batched if split == "train" else self._single
                table.update(zip(texts, X, strict=True))
        self.hits = 0
        self.misses = 0

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        first, second = (
            (self._single, self._batched) if batch_size == 1 else (self._batched, self._single)
        )
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        for i, text in enumerate(texts):
            vec = first.get(text)
            if vec is None:
                vec = second.get(text)
            if vec is None:
                missing.append(i)
            else:
                out[i] = vec
        if missing:
            out[missing] = self._base.embed(
                [texts[i] for i in missing], batch_size=batch_size, progress=progress
            )
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return out


def run_parallel(
    fn: Callable[..., T], tasks: Sequence[tuple[Any, ...]], *, jobs: int = 1, label: str = "running"
) -> list[T]:
    """``fn(*task)`` for every task, in ``jobs`` processes (1: in this process), with a rich
    progress bar; results in task order."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    results: list[T | None] = [None] * len(tasks)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        bar = progress.add_task(label, total=len(tasks))
        if jobs <= 1:
            for i, task in enumerate(tasks):
                progress.update(bar, description=f"{label}: {' '.join(map(str, task[:3]))}")
                results[i] = fn(*task)
                progress.advance(bar)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(fn, *task): i for i, task in enumerate(tasks)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    progress.advance(bar)
        progress.update(bar, description=label)
    return [r for r in results if r is not None]


# The routing options of ``triaged eval`` that the benches pass on: flag, eval keyword, default.
ROUTING_OPTIONS = (
    ("--auto-error-target", "auto_error_target", 0.02),
    ("--confidence-level", "confidence_level", 0.95),
    ("--expected-oos", "expected_out_of_scope", 0.2),
)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def add_routing_args(parser: argparse.ArgumentParser) -> None:
    """Add the routing options (unset: eval's defaults)."""
    for flag, _, default in ROUTING_OPTIONS:
        parser.add_argument(flag, type=float, default=None, help=f"default {default}")


def routing_options(args: argparse.Namespace) -> dict[str, float]:
    """The routing options given on the command line, as eval keywords."""
    given = ((key, getattr(args, _dest(flag))) for flag, key, _ in ROUTING_OPTIONS)
    return {key: value for key, value in given if value is not None}


def routing_flags(args: argparse.Namespace) -> str:
    """The routing options given, as they are written in a reproduce command."""
    return "".join(
        f" {flag} {getattr(args, _dest(flag))}"
        for flag, _, _ in ROUTING_OPTIONS
        if getattr(args, _dest(flag)) is not None
    )
