"""Throughput of exact batching: classify_batch against one classify() call per text.

    python -m bench.bench_batch [--n 3080] [--batch-size 64] [--rounds 2]

Trains Banking77 (20 examples per label) through ``Classifier.fit`` and classifies the
Banking77 test texts (3,080) in slices, each slice timed both ways in one run, the order
alternating from slice to slice, so load changes on a shared machine hit both alike:

* ``classify`` one text at a time (``Classifier.classify``, the single-call path);
* ``classify_batch`` on the slice (texts grouped by token length, per-row-quantized graph),
  with its default threads (batches encoded at a time: the process's cores, at most 4) and
  with ``threads=1``;

and at the encoder level: one text per call, the same in two threads (onnxruntime releases
the GIL; each call its own single-text run), and ``embed_exact`` batches.  Every
classify_batch confidence is compared with its single-call value in the same run.
Micro-batching: 32 threads calling ``classify`` one text at a time with the plain encoder
and with the API's :class:`MicroBatcher` (rounds alternated), and one caller's p50 latency
with both (interleaved text by text).
The ratio is the comparable figure; absolute rates depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench._common import DATASETS, percentile, write_results
from triaged.classifier import Classifier, _default_threads
from triaged.encoders.onnx import OnnxEncoder
from triaged.evaluation import sample_per_label
from triaged.services.microbatch import MicroBatcher
from triaged.taxonomy import Taxonomy, read_jsonl


def _timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result): CPU time stays comparable when
    other processes load the machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _threaded(clf: Classifier, texts: Sequence[str], threads: int) -> float:
    """texts/s of ``threads`` threads each classifying its share one text per call (as
    concurrent API requests do)."""
    with ThreadPoolExecutor(threads) as pool:
        wall, cpu, _ = _timed(lambda: list(pool.map(clf.classify, texts)))
        return len(texts) / wall, len(texts) / cpu


def micro_batching(clf: Classifier, texts: Sequence[str], rounds: int) -> dict[str, float]:
    """Concurrent classify() calls with the plain encoder and with a MicroBatcher, alternated
    in one run; and single-caller latency of both, interleaved text by text."""
    enc = clf.encoder
    assert isinstance(enc, OnnxEncoder)
    model = clf.to_bytes()
    plain = Classifier.from_bytes(model, encoder=enc)
    joined = Classifier.from_bytes(model, encoder=MicroBatcher(enc, window_ms=1.0))
    rate: dict[str, list[float]] = {"plain": [], "micro": []}
    cpu: dict[str, list[float]] = {"plain": [], "micro": []}
    for r in range(rounds):
        for name in ("plain", "micro") if r % 2 == 0 else ("micro", "plain"):
            w, c = _threaded(plain if name == "plain" else joined, texts, 32)
            rate[name].append(w)
            cpu[name].append(c)
    lat: dict[str, list[float]] = {"plain": [], "micro": []}
    for i, t in enumerate(texts[:400]):
        for name in ("plain", "micro") if i % 2 == 0 else ("micro", "plain"):
            t0 = time.perf_counter()
            (plain if name == "plain" else joined).classify(t)
            lat[name].append((time.perf_counter() - t0) * 1000)
    out = {f"{k}_32_threads_texts_per_second": sum(v) / len(v) for k, v in rate.items()}
    out["micro_vs_plain_32_threads"] = (
        out["micro_32_threads_texts_per_second"] / out["plain_32_threads_texts_per_second"]
    )
    out.update({f"{k}_32_threads_texts_per_cpu_second": sum(v) / len(v) for k, v in cpu.items()})
    out["cpu_micro_vs_plain_32_threads"] = (
        out["micro_32_threads_texts_per_cpu_second"] / out["plain_32_threads_texts_per_cpu_second"]
    )
    out.update({f"{k}_1_caller_p50_ms": percentile(v, 50) for k, v in lat.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=0, help="test texts (0: all 3,080)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--slice", type=int, default=1540, help="texts per timed slice")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    tax = tax.with_examples(sample_per_label(tax.examples(), 20, 0), replace_all=True)
    clf = Classifier.from_taxonomy(tax).fit()
    enc = clf.encoder
    assert isinstance(enc, OnnxEncoder)
    texts = [e.text for e in read_jsonl(root / "test.jsonl")]
    texts = texts[: args.n] if args.n else texts
    slices = [texts[i : i + args.slice] for i in range(0, len(texts), args.slice)]
    bs = args.batch_size
    pool = ThreadPoolExecutor(2)

    def single(chunk: Sequence[str]) -> list[float]:
        return [clf.classify(t).confidence for t in chunk]

    def batch(chunk: Sequence[str]) -> list[float]:
        return [r.confidence for r in clf.classify_batch(chunk, batch_size=bs)]

    def batch_one_thread(chunk: Sequence[str]) -> list[float]:
        return [r.confidence for r in clf.classify_batch(chunk, batch_size=bs, threads=1)]

    def enc_single(chunk: Sequence[str]) -> object:
        return [enc.embed([t], batch_size=1) for t in chunk]

    def enc_threads(chunk: Sequence[str]) -> object:
        return list(pool.map(lambda t: enc.embed([t], batch_size=1), chunk))

    def enc_batch(chunk: Sequence[str]) -> object:
        return enc.embed_exact(chunk, batch_size=bs)

    fns: dict[str, Callable[[Sequence[str]], object]] = {
        "classify_one_at_a_time": single,
        "classify_batch": batch,
        "classify_batch_one_thread": batch_one_thread,
        "encoder_one_per_call": enc_single,
        "encoder_two_threads": enc_threads,
        "encoder_exact_batches": enc_batch,
    }
    batch(slices[0][:64])  # warm-up: builds the per-row graph
    single(slices[0][:20])
    seconds = dict.fromkeys(fns, 0.0)
    cpu = dict.fromkeys(fns, 0.0)
    max_diff = 0.0
    for r in range(args.rounds):
        for i, chunk in enumerate(slices):
            names = list(fns) if (i + r) % 2 == 0 else list(reversed(fns))
            outs: dict[str, object] = {}
            for name in names:
                dt, ct, outs[name] = _timed(lambda f=fns[name], c=chunk: f(c))  # type: ignore[misc]
                seconds[name] += dt
                cpu[name] += ct
            a = np.array(outs["classify_one_at_a_time"])
            for name in ("classify_batch", "classify_batch_one_thread"):
                max_diff = max(max_diff, float(np.abs(a - np.array(outs[name])).max()))
    pool.shutdown()
    micro = micro_batching(clf, texts[:1540], args.rounds)
    n = len(texts) * args.rounds
    rate = {k: n / v for k, v in seconds.items()}
    cpu_rate = {k: n / v for k, v in cpu.items()}
    res = {
        "n_texts": len(texts),
        "rounds": args.rounds,
        "batch_size": bs,
        "classify_batch_threads": _default_threads(),
        "texts_per_second": rate,
        "texts_per_cpu_second": cpu_rate,
        "cpu_classify_batch_vs_one_at_a_time": cpu_rate["classify_batch"]
        / cpu_rate["classify_one_at_a_time"],
        "cpu_encoder_exact_batches_vs_one_per_call": cpu_rate["encoder_exact_batches"]
        / cpu_rate["encoder_one_per_call"],
        "classify_batch_vs_one_at_a_time": rate["classify_batch"] / rate["classify_one_at_a_time"],
        "classify_batch_one_thread_vs_one_at_a_time": rate["classify_batch_one_thread"]
        / rate["classify_one_at_a_time"],
        "cpu_classify_batch_one_thread_vs_one_at_a_time": cpu_rate["classify_batch_one_thread"]
        / cpu_rate["classify_one_at_a_time"],
        "encoder_exact_batches_vs_one_per_call": rate["encoder_exact_batches"]
        / rate["encoder_one_per_call"],
        "encoder_two_threads_vs_one_per_call": rate["encoder_two_threads"]
        / rate["encoder_one_per_call"],
        "max_confidence_difference": max_diff,
        "micro_batching": micro,
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(res, indent=1))
    write_results("bench_batch", res)


if __name__ == "__main__":
    main()
