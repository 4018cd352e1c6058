"""In-process latency of classify next to the raw encoder forward, on Banking77 test texts.

    python -m bench.bench_latency [--n 1000] [--update-readme]

Trains Banking77 (20 examples per label) through ``Classifier.fit``, then, for each test
text, times the raw encoder forward (``encoder.embed([t], batch_size=1)``) and
``Classifier.classify(t)`` (encoder, engine, calibration and routing included),
interleaved in one run so that load changes on a shared machine hit both alike.
Reports p50/p95 of both and the ratio classify p50 / encoder p50 (issue 8: classify
p50 stays within 1.5x the raw encoder forward), the same ratio of thread CPU time (steadier
on a loaded machine), the same for one short text repeated, and texts/s of
``classify_batch``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence

from bench._common import DATASETS, percentile, update_readme
from triaged.classifier import Classifier
from triaged.evaluation import sample_per_label
from triaged.taxonomy import Taxonomy, read_jsonl

SHORT = "my card has not arrived yet"


def interleaved_times(
    fns: Mapping[str, Callable[[str], object]],
    texts: Sequence[str],
    warmup: int = 20,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds of each function on each text, calls interleaved text by text.

    Every function runs on a text before the next text starts, and the call order
    alternates from text to text, so neither gets a systematically warmer cache or a
    quieter moment of a shared machine.  The first ``warmup`` texts are run untimed.
    With ``cpu``, each call's thread CPU time (ms) is recorded there too: unlike wall
    time, it does not count the moments another process had the core.
    """
    names = list(fns)
    for t in texts[:warmup]:
        for k in names:
            fns[k](t)
    times: dict[str, list[float]] = {k: [] for k in names}
    if cpu is not None:
        cpu.update({k: [] for k in names})
    for i, t in enumerate(texts):
        for k in names if i % 2 == 0 else reversed(names):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            fns[k](t)
            times[k].append((time.perf_counter() - t0) * 1000)
            if cpu is not None:
                cpu[k].append((time.thread_time() - c0) * 1000)
    return times


def _summary(fns: Mapping[str, Callable[[str], object]], texts: Sequence[str]) -> dict[str, float]:
    cpu: dict[str, list[float]] = {}
    times = interleaved_times(fns, texts, cpu=cpu)
    out: dict[str, float] = {}
    for k, v in times.items():
        out[f"{k}_p50_ms"] = percentile(v, 50)
        out[f"{k}_p95_ms"] = percentile(v, 95)
        out[f"{k}_cpu_p50_ms"] = percentile(cpu[k], 50)
    out["ratio_p50"] = out["classify_p50_ms"] / out["encoder_p50_ms"]
    out["cpu_ratio_p50"] = out["classify_cpu_p50_ms"] / out["encoder_cpu_p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    tax = tax.with_examples(sample_per_label(tax.examples(), 20, 0), replace_all=True)
    clf = Classifier.from_taxonomy(tax).fit()
    enc = clf.encoder
    texts = [e.text for e in read_jsonl(root / "test.jsonl")][: args.n]
    fns: dict[str, Callable[[str], object]] = {
        "encoder": lambda t: enc.embed([t], batch_size=1),
        "classify": clf.classify,
    }
    test = _summary(fns, texts)
    short = _summary(fns, [SHORT] * len(texts))
    t0 = time.perf_counter()
    clf.classify_batch(texts)
    batch_tps = len(texts) / (time.perf_counter() - t0)
    res = {
        "n": len(texts),
        "mode": clf.mode,
        "test": test,
        "short_text": SHORT,
        "short": short,
        "batch_texts_per_second": batch_tps,
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(res, indent=1))
    if args.update_readme:
        rows = []
        for name, r in (
            (f"one Banking77 test text (n={len(texts)})", test),
            (
                f"one short text (`{SHORT}`, {len(texts)} calls)",
                short,
            ),
        ):
            rows.append(
                f"| {name} | {r['encoder_p50_ms']:.2f} | {r['encoder_p95_ms']:.2f} "
                f"| {r['classify_p50_ms']:.2f} | {r['classify_p95_ms']:.2f} "
                f"| {r['ratio_p50']:.2f}x | {r['cpu_ratio_p50']:.2f}x |"
            )
        update_readme(
            "latency",
            "| input | encoder forward p50 ms | encoder p95 ms | classify p50 ms "
            "| classify p95 ms | classify p50 / encoder p50 | same, CPU time |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
            "classify_batch (texts batched through the exact encoder graph: every result "
            f"equals classify's): {batch_tps:.0f} texts/s.\n\n"
            "Banking77 trained on 20 examples per label through `Classifier.fit` (default "
            "engine, lexical channel included). The raw encoder forward "
            "(`encoder.embed([t], batch_size=1)`) and `Classifier.classify(t)` (encoder, "
            "engine, calibration, prediction set, routing) are timed on the same texts, "
            "interleaved text by text in one run, so load changes on the shared machine hit "
            "both alike: the ratio is the comparable figure, the absolute times are not. "
            '"CPU time" is the same ratio of the calls\' thread CPU time, which a busy '
            "machine's waits do not inflate. 2 shared cores, onnxruntime with one intra-op "
            "thread. "
            "Reproduce: `python -m bench.bench_latency --update-readme`.",
        )


if __name__ == "__main__":
    main()
