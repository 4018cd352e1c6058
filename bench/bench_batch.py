"""Throughput of exact batching: classify_batch against one classify() call per text.

    python -m bench.bench_batch [--n 3080] [--batch-size 64] [--rounds 2]

Trains Banking77 (20 examples per label) through ``Classifier.fit`` and classifies the
Banking77 test texts (3,080) in slices, each slice timed both ways in one run, the order
alternating from slice to slice, so load changes on a shared machine hit both alike:

* ``classify`` one text at a time (``Classifier.classify``, the single-call path);
* ``classify_batch`` on the slice (texts grouped by token length, per-row-quantized graph);

and at the encoder level: one text per call, the same in two threads (onnxruntime releases
the GIL; each call its own single-text run), and ``embed_exact`` batches.  Every
classify_batch confidence is compared with its single-call value in the same run.
The ratio is the comparable figure; absolute rates depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench._common import DATASETS, write_results
from triaged.classifier import Classifier
from triaged.encoders.onnx import OnnxEncoder
from triaged.evaluation import sample_per_label
from triaged.taxonomy import Taxonomy, read_jsonl


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=0, help="test texts (0: all 3,080)")
    parser.add_argument("--batch-size", type=int, default=64)
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

    def enc_single(chunk: Sequence[str]) -> object:
        return [enc.embed([t], batch_size=1) for t in chunk]

    def enc_threads(chunk: Sequence[str]) -> object:
        return list(pool.map(lambda t: enc.embed([t], batch_size=1), chunk))

    def enc_batch(chunk: Sequence[str]) -> object:
        return enc.embed_exact(chunk, batch_size=bs)

    fns: dict[str, Callable[[Sequence[str]], object]] = {
        "classify_one_at_a_time": single,
        "classify_batch": batch,
        "encoder_one_per_call": enc_single,
        "encoder_two_threads": enc_threads,
        "encoder_exact_batches": enc_batch,
    }
    batch(slices[0][:64])  # warm-up: builds the per-row graph
    single(slices[0][:20])
    seconds = dict.fromkeys(fns, 0.0)
    max_diff = 0.0
    for r in range(args.rounds):
        for i, chunk in enumerate(slices):
            names = list(fns) if (i + r) % 2 == 0 else list(reversed(fns))
            outs: dict[str, object] = {}
            for name in names:
                dt, outs[name] = _timed(lambda f=fns[name]: f(chunk))  # type: ignore[misc]
                seconds[name] += dt
            a = np.array(outs["classify_one_at_a_time"])
            b = np.array(outs["classify_batch"])
            max_diff = max(max_diff, float(np.abs(a - b).max()))
    pool.shutdown()
    n = len(texts) * args.rounds
    rate = {k: n / v for k, v in seconds.items()}
    res = {
        "n_texts": len(texts),
        "rounds": args.rounds,
        "batch_size": bs,
        "texts_per_second": rate,
        "classify_batch_vs_one_at_a_time": rate["classify_batch"] / rate["classify_one_at_a_time"],
        "encoder_exact_batches_vs_one_per_call": rate["encoder_exact_batches"]
        / rate["encoder_one_per_call"],
        "encoder_two_threads_vs_one_per_call": rate["encoder_two_threads"]
        / rate["encoder_one_per_call"],
        "max_confidence_difference": max_diff,
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(res, indent=1))
    write_results("bench_batch", res)


if __name__ == "__main__":
    main()
