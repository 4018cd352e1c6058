"""``triaged batch --ray ADDRESS``: classify a file with Ray Data on a Ray cluster.

The driver reads nothing itself: the cluster's workers read the input (a path every node
can reach, such as a shared folder), a pool of
actors classifies it, and the results stream back to the driver in input order, where
``triaged batch`` writes them as it does for a local run.  CSV and JSONL are read on a
worker by the local run's own reader (:func:`triaged.batchio.read_chunks`, in one task
streaming blocks of ``chunk`` rows: memory stays bounded for any file size), so quoted
fields spanning lines, duplicate columns, extra fields, ids and errors follow the local
run's rules, line for line; Parquet is read by Ray Data itself.  The model travels as bytes
(``Classifier.to_bytes``: arrays and JSON, no pickle); each actor loads it once and runs
the bundled encoder itself, so results are the local run's, row for row.

Needs the ``triaged[ray]`` extra (``ray[data]``, ``pyarrow``).
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from triaged.errors import InvalidInput, Unavailable
from triaged.inputs import bad_character, is_blank

__all__ = ["BadRow", "ClassifyActor", "classify_on_ray"]


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
        ids = self._ids(batch)
        texts = self._texts(batch, ids)
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

    def _ids(self, batch: Any) -> list[str | None]:
        """The rows' ids by the local run's rules (a string, or a number as its text; null
        or an empty cell is no id; a boolean, object or array is refused)."""
        if not self.id_field:
            return [None] * batch.num_rows
        if self.id_field not in batch.column_names:
            raise BadRow(f"the input has no field {self.id_field!r} (--id-field)")
        ids: list[str | None] = []
        for v in batch.column(self.id_field).to_pylist():
            infinite = isinstance(v, float) and math.isinf(v)  # as the local run: not "inf"
            if infinite or isinstance(v, bool | dict | list | bytes):  # bytes: it was "b'a1'"
                kinds = {bool: "a boolean", bytes: "binary data", float: "infinity"}
                kind = kinds.get(type(v), "an object or array")
                raise BadRow(f"field {self.id_field!r} must be a string or a number, not {kind}")
            bad = bad_character(v) if isinstance(v, str) else None
            if bad is not None:
                raise BadRow(f"field {self.id_field!r} contains {bad}")
            missing = v is None or v == "" or (isinstance(v, float) and math.isnan(v))  # NaN
            ids.append(None if missing else str(v))
        return ids

    def _texts(self, batch: Any, ids: list[str | None]) -> list[str]:
        """The rows' texts; a row without one is refused, as the local run refuses it (it
        was classified as the empty text)."""
        if self.text_field not in batch.column_names:
            raise BadRow(f"the input has no field {self.text_field!r} (--text-field)")
        texts = batch.column(self.text_field).to_pylist()
        for text, ident in zip(texts, ids, strict=True):
            row = f"a row (id {ident!r})" if ident is not None else "a row"
            if not isinstance(text, str):
                raise BadRow(f"{row} has no text in field {self.text_field!r}")
            if is_blank(text):
                raise BadRow(f"{row}: the text in field {self.text_field!r} is empty")
            bad = bad_character(text)  # a lone surrogate was a tokenizer traceback
            if bad is not None:
                raise BadRow(f"{row}: field {self.text_field!r} contains {bad}")
        return list(texts)


class BadRow(ValueError):
    """Input the Ray run refuses, as the local run does (raised in an actor or a read task;
    the driver turns it into an ``invalid_input`` error).  ``details`` given: the message is
    the local run's own (it names the file and the line)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        payload = json.dumps({"message": message, "details": details})
        super().__init__(f"{_MARK}{payload}{_MARK}")


_MARK = "[triaged-bad-row]"


def _bad_row(exc: BaseException) -> tuple[str, dict[str, Any] | None] | None:
    """The message and details of a :class:`BadRow` behind a Ray error (its text: Ray
    wraps an actor's or a task's exception in its own)."""
    text = str(exc)
    start = text.find(_MARK)
    if start < 0:
        return None
    end = text.find(_MARK, start + len(_MARK))
    try:
        payload = json.loads(text[start + len(_MARK) : end if end > 0 else None])
    except ValueError:
        return None
    return str(payload["message"]), payload.get("details")


def read_by_local_rules(
    batch: Any, text_field: str, id_field: str | None, chunk: int
) -> Iterator[Any]:
    """A Ray Data generator UDF: for each path in ``batch`` (one), its rows read by the local
    run's reader (:func:`triaged.batchio.read_chunks`), as Arrow tables of ``text`` and
    ``id`` of ``chunk`` rows, streamed (Arrow's CSV and JSON readers have other rules: no
    quoted line breaks by default, duplicate columns renamed, types inferred).  One task
    reads the file (a CSV cannot be split where a quoted field may span lines); the actors
    classify in parallel.  A row or a file the local run refuses is a :class:`BadRow` with
    its message (file and line) and details."""
    import pyarrow as pa

    from triaged.batchio import read_chunks

    for path in batch.column("path").to_pylist():
        chunks = read_chunks(Path(path), text_field=text_field, id_field=id_field, chunk=chunk)
        try:
            for c in chunks:
                texts, ids = pa.array(c.texts, pa.string()), pa.array(c.ids, pa.string())
                yield pa.table({"text": texts, "id": ids})
        except InvalidInput as exc:
            raise BadRow(exc.message, exc.details) from None


def _read(
    ray_data: Any, path: str, text_field: str, id_field: str | None, chunk: int
) -> tuple[Any, str, str | None]:
    """The input as a Ray dataset, with the names of its text and id columns."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".csv"):
        ds = ray_data.from_items([{"path": path}]).map_batches(
            read_by_local_rules,
            fn_kwargs={"text_field": text_field, "id_field": id_field, "chunk": chunk},
            batch_size=1,
            batch_format="pyarrow",
            # not 1, the actors' figure: Ray Data would fuse the read into the actors'
            # operator, and the one actor given the file would classify all of it
            num_cpus=0.5,
        )
        return ds, "text", "id" if id_field else None
    if suffix == ".parquet":
        return ray_data.read_parquet(path), text_field, id_field
    raise InvalidInput(f"{path}: unknown input format (use .jsonl, .csv or .parquet)")


def _hide_bad_rows(*loggers: Any) -> None:
    """Keep Ray Data's report of a :class:`BadRow` (an ERROR with the task's traceback)
    off the console: the driver raises it as the local run's ``invalid_input`` error (a
    filter on the handlers: records of Ray Data's modules reach them by propagation)."""
    import logging

    class HideBadRows(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            exc = record.exc_info[1] if record.exc_info else None
            return _MARK not in f"{record.getMessage()}{exc or ''}"

    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, HideBadRows) for f in handler.filters):
                handler.addFilter(HideBadRows())


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
    _hide_bad_rows(logging.getLogger("ray.data"), logging.getLogger("ray"))
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results come back in input order
        ctx.enable_progress_bars = False
        if actors is None:
            # one CPU stays free for the read tasks
            cpus = ray.cluster_resources().get("CPU", 2)  # type: ignore[no-untyped-call]
            actors = max(1, int(cpus) - 1)
        ds, text_col, id_col = _read(ray.data, path, text_field, id_field, chunk)
        ds = ds.map_batches(
            ClassifyActor,
            fn_constructor_args=(model, text_col, id_col, batch_size),
            batch_size=chunk,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
        )
        try:
            for out in ds.iter_batches(batch_size=chunk, batch_format="pyarrow"):
                yield {name: out.column(name).to_pylist() for name in out.column_names}
        except Exception as exc:  # a row refused: the error the local run gives
            bad = _bad_row(exc)
            if bad is None:
                raise
            message, details = bad
            if details is not None:  # read by the local run's reader: its file and line
                raise InvalidInput(message, details={**details, "path": path}) from None
            raise InvalidInput(
                f"{path}: {message} (a local run, without --ray, names its line)",
                details={"path": path},
            ) from None
    finally:
        ray.shutdown()
