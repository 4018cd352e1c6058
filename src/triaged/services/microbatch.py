"""Micro-batching: concurrent classify requests share one encoder call.

Each API request classifies its own few texts; under load, many requests wait for the
encoder at once.  :class:`MicroBatcher` wraps the process's encoder: the first caller to find
a free encoder slot runs at once with whatever is queued (leader); callers that arrive while
every slot is busy queue up and the next leader encodes them all in one exact batch
(:meth:`OnnxEncoder.embed_exact`: a length-sorted padded batch through the per-row-quantized
graph), then hands each caller its rows.  There is one slot per CPU core, so concurrent
requests keep every core busy and batch only what would otherwise wait.  Results are
exactly the single-call ones, so batching never changes a decision.

With no concurrency nothing waits: a caller that finds the encoder idle runs immediately.
Only when the previous batch joined several callers does a leader hold the door open for
``window`` seconds (at most 2 ms; ``TRIAGED_MICROBATCH_WINDOW_MS``) to let more in.
``TRIAGED_MICROBATCH=false`` turns it off.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from triaged.encoders import DEFAULT_ENCODER, Encoder, ExactBatchEncoder, Vectors, wrap_encoder

__all__ = ["MAX_WINDOW_MS", "MicroBatcher", "install"]

MAX_WINDOW_MS = 2.0


@dataclass(eq=False)  # calls are told apart by identity: two may carry the same texts
class _Call:
    texts: list[str]
    vectors: Vectors | None = None
    error: BaseException | None = None
    taken: bool = False  # in a leader's batch
    done: bool = False


@dataclass
class Stats:
    """Counters since start: encoder calls made, callers served, texts, leader waits."""

    batches: int = 0
    calls: int = 0
    texts: int = 0
    waits: int = 0
    largest: int = 0  # most callers joined in one encoder call
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class MicroBatcher:
    """An encoder wrapper that joins concurrent ``embed_exact`` calls (see module doc)."""

    def __init__(
        self, inner: ExactBatchEncoder, *, window_ms: float = 1.0, max_texts: int = 256
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.window = min(max(window_ms, 0.0), MAX_WINDOW_MS) / 1000.0
        self.max_texts = max_texts
        self.stats = Stats()
        self._cond = threading.Condition()
        self._pending: list[_Call] = []
        # encoder calls in flight at once: one per core, so batching never costs parallelism
        self.parallel = _cores()
        self._running = 0
        self._last_joined = 1
        warm = getattr(inner, "warm_up", None)
        if callable(warm):  # build the batch graph before the first burst needs it
            # not a daemon: the interpreter waits for it (a second or two) before it exits.  A
            # daemon thread still inside onnxruntime when the process stops early (`triaged
            # serve` on a taken port, a failed start) aborted it: "terminate called without
            # an active exception", exit code 134 instead of the error
            threading.Thread(target=warm, name="triaged-encoder-warm-up", daemon=False).start()

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        """Training-time embedding: passed through unchanged."""
        return self.inner.embed(texts, batch_size=batch_size, progress=progress)

    def embed_exact(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        progress: bool = False,
        threads: int = 1,
    ) -> Vectors:
        if progress or threads > 1 or len(texts) >= self.max_texts:  # a batch already
            return self.inner.embed_exact(
                texts, batch_size=batch_size, progress=progress, threads=threads
            )
        call = _Call(list(texts))
        with self._cond:
            self._pending.append(call)
            while not call.done and (call.taken or self._running >= self.parallel):
                self._cond.wait()
            if not call.done:
                batch = self._lead(call)
        if not call.done:
            self._run(batch)
        if call.error is not None:
            raise call.error
        assert call.vectors is not None
        return call.vectors

    def _lead(self, own: _Call) -> list[_Call]:
        """Under the lock: become the leader, wait out the window when callers have been
        arriving together, and take the queue (own call first, FIFO, up to max_texts)."""
        self._running += 1
        self._pending.remove(own)
        own.taken = True
        if self.window > 0 and self._last_joined > 1:
            self.stats.waits += 1
            deadline = time.monotonic() + self.window
            while sum(len(c.texts) for c in self._pending) < self.max_texts:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        batch, n = [own], len(own.texts)
        rest: list[_Call] = []
        for c in self._pending:
            if n + len(c.texts) <= self.max_texts:
                c.taken = True
                batch.append(c)
                n += len(c.texts)
            else:
                rest.append(c)
        self._pending = rest
        return batch

    def _run(self, batch: list[_Call]) -> None:
        texts = [t for c in batch for t in c.texts]
        try:
            X = self.inner.embed_exact(texts)
            start = 0
            for c in batch:
                c.vectors = np.ascontiguousarray(X[start : start + len(c.texts)])
                start += len(c.texts)
        except BaseException as exc:  # every joined caller sees the encoder's error
            for c in batch:
                c.error = exc
        with self._cond:
            for c in batch:
                c.done = True
            self._running -= 1
            self._last_joined = len(batch)
            s = self.stats
            s.batches += 1
            s.calls += len(batch)
            s.texts += len(texts)
            s.largest = max(s.largest, len(batch))
            self._cond.notify_all()


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def install(settings: Any) -> None:
    """Wrap this process's default encoder in a :class:`MicroBatcher` (once), as the
    settings say (``microbatch``, ``microbatch_window_ms``, ``microbatch_max_texts``)."""
    if not getattr(settings, "microbatch", True):
        return
    window = float(getattr(settings, "microbatch_window_ms", 1.0))
    max_texts = int(getattr(settings, "microbatch_max_texts", 256))

    def wrap(enc: Encoder) -> Encoder:
        if isinstance(enc, MicroBatcher):
            enc.window = min(max(window, 0.0), MAX_WINDOW_MS) / 1000.0
            enc.max_texts = max_texts
            return enc
        if not isinstance(enc, ExactBatchEncoder):
            return enc  # nothing to join: such an encoder runs one text per call
        return MicroBatcher(enc, window_ms=window, max_texts=max_texts)

    wrap_encoder(DEFAULT_ENCODER, wrap)
