"""``triaged batch --ray ADDRESS``: classify a file with Ray Data on a Ray cluster.

The driver reads nothing itself: the cluster's workers read the input (a path every node
can reach, such as a shared folder), a pool of
actors classifies it, and the results stream back to the driver in input order, where
``triaged batch`` writes them as it does for a local run.  The model travels as bytes
(``Classifier.to_bytes``: arrays and JSON, no pickle); each actor loads it once and runs
the bundled encoder itself, so results are the local run's, row for row.

Needs the ``triaged[ray]`` extra (``ray[data]``, ``pyarrow``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from triaged.errors import InvalidInput, Unavailable

__all__ = ["ClassifyActor", "classify_on_ray"]


class ClassifyActor:
    """A Ray Data actor: one model loaded from bytes, one encoder, many batches."""

    def __init__(self, model: bytes, text_field: str, id_field: str | None, batch_size: int):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from triaged.classifier import Classifier

        self.clf = Classifier.from_bytes(model)
        self.text_field = text_field
        self.id_field = id_field
        self.batch_size = batch_size

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        texts = [str(t) if t is not None else "" for t in batch.column(self.text_field).to_pylist()]
        ids: list[str | None] = [None] * len(texts)
        if self.id_field and self.id_field in batch.column_names:
            ids = [None if v is None else str(v) for v in batch.column(self.id_field).to_pylist()]
        results = self.clf.classify_batch(texts, batch_size=self.batch_size, threads=1)
        return {
            "id": ids,
            "label": [r.label for r in results],
            "confidence": [r.confidence for r in results],
            "alternatives": [
                json.dumps([{"label": a.label, "confidence": a.confidence} for a in r.alternatives])
                for r in results
            ],
            "model_version": [r.model_version for r in results],
        }


def _read(ray_data: Any, path: str) -> Any:
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return ray_data.read_json(path, lines=True, file_extensions=None)
    if suffix == ".csv":
        return ray_data.read_csv(path)
    if suffix == ".parquet":
        return ray_data.read_parquet(path)
    raise InvalidInput(f"{path}: unknown input format (use .jsonl, .csv or .parquet)")


#: Seconds to wait for a TCP connection to the cluster's address before ``ray.init``.
CONNECT_TIMEOUT_SECONDS = 5.0


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at ``host:port`` (or ``ray://host:port``): Ray
    itself retries such an address for minutes without a word.  ``auto``, ``local`` and
    addresses without a port are left to Ray."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    host = host.strip("[]")  # [::1]:6379
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except (OSError, ValueError) as exc:
        why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise Unavailable(
            f"--ray {address}: cannot reach the Ray cluster (nothing answers at "
            f"{host}:{port}: {why})",
            details={"field": "ray"},
        ) from None


def classify_on_ray(
    address: str,
    path: str,
    model: bytes,
    *,
    text_field: str = "text",
    id_field: str | None = None,
    batch_size: int = 16,
    chunk: int = 1024,
    actors: int | None = None,
) -> Iterator[dict[str, list[Any]]]:
    """Result columns (id, label, confidence, alternatives, model_version) in input order,
    in batches of at most ``chunk`` rows."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise InvalidInput(
            "--ray needs the Ray extra: pip install 'triaged[ray]'",
            details={"missing": "ray"},
        ) from None
    import logging

    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except ValueError as exc:  # "Invalid address format: ..." was a traceback
        raise InvalidInput(f"--ray {address}: {exc}", details={"field": "ray"}) from None
    except ConnectionError as exc:
        raise Unavailable(
            f"--ray {address}: cannot reach the Ray cluster ({str(exc).splitlines()[0]})",
            details={"field": "ray"},
        ) from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results come back in input order
        ctx.enable_progress_bars = False
        if actors is None:
            # one CPU stays free for the read tasks
            cpus = ray.cluster_resources().get("CPU", 2)  # type: ignore[no-untyped-call]
            actors = max(1, int(cpus) - 1)
        ds = _read(ray.data, path).map_batches(
            ClassifyActor,
            fn_constructor_args=(model, text_field, id_field, batch_size),
            batch_size=chunk,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
        )
        for out in ds.iter_batches(batch_size=chunk, batch_format="pyarrow"):
            yield {name: out.column(name).to_pylist() for name in out.column_names}
    finally:
        ray.shutdown()
