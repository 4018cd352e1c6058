"""In-process latency and throughput of classify on Banking77 test texts.

    python -m bench.bench_latency [--n 1000] [--update-readme]

Reports p50/p99 of ``Classifier.classify(text)`` one text at a time (encoder,
model, calibration and routing included) and texts/s of ``classify_batch``.
"""

from __future__ import annotations

import argparse
import json
import time

from bench._common import DATASETS, percentile, update_readme
from triaged.classifier import Classifier
from triaged.evaluation import sample_per_label
from triaged.taxonomy import Taxonomy, read_jsonl


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    tax = tax.with_examples(sample_per_label(tax.examples(), 20, 0), replace_all=True)
    clf = Classifier.from_taxonomy(tax).fit()
    texts = [e.text for e in read_jsonl(root / "test.jsonl")][: args.n]
    for t in texts[:20]:
        clf.classify(t)
    single = []
    for t in texts:
        t0 = time.perf_counter()
        clf.classify(t)
        single.append((time.perf_counter() - t0) * 1000)
    short_text = "my card has not arrived yet"
    short = []
    for _ in range(len(texts)):
        t0 = time.perf_counter()
        clf.classify(short_text)
        short.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    clf.classify_batch(texts)
    batch_tps = len(texts) / (time.perf_counter() - t0)
    res = {
        "n": len(texts),
        "short_text": short_text,
        "short_p50_ms": percentile(short, 50),
        "short_p99_ms": percentile(short, 99),
        "single_p50_ms": percentile(single, 50),
        "single_p99_ms": percentile(single, 99),
        "single_texts_per_second": len(single) / (sum(single) / 1000),
        "batch_texts_per_second": batch_tps,
    }
    print(json.dumps(res, indent=1))
    if args.update_readme:
        update_readme(
            "latency",
            "| measure | value |\n|---|---|\n"
            f"| classify one short text (`{res['short_text']}`), p50 "
            f"| {res['short_p50_ms']:.2f} ms |\n"
            f"| classify one short text, p99 | {res['short_p99_ms']:.2f} ms |\n"
            f"| classify one Banking77 test text, p50 | {res['single_p50_ms']:.2f} ms |\n"
            f"| classify one Banking77 test text, p99 | {res['single_p99_ms']:.2f} ms |\n"
            f"| one at a time | {res['single_texts_per_second']:.0f} texts/s |\n"
            "| classify_batch (one encoder call per text: results never depend on batching) "
            f"| {res['batch_texts_per_second']:.0f} texts/s |\n\n"
            f"Banking77 test texts (n={res['n']}), 2 cores, onnxruntime with one intra-op thread. "
            "Reproduce: `python -m bench.bench_latency --update-readme`.",
        )


if __name__ == "__main__":
    main()
