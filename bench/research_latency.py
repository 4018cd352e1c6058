"""Per-call cost of the engine next to the raw encoder forward, and model blob size.

    python -m bench.research_latency [--n 300]

Fits Banking77 (20 examples per label, as bench_latency) through ``Classifier.fit`` with
and without the lexical channel, then times one short text: the encoder forward alone,
``Engine.predict`` alone, and ``Classifier.classify`` end to end (p50 over ``--n`` calls,
after warm-up).  Then fits CLINC150 on its full train split (cached embeddings) and
reports the size of the saved model blob (``Classifier.to_bytes`` equivalent: the
engine's arrays, compressed npz).
"""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import numpy as np

from bench._common import DATASETS, percentile
from bench.bench_latency import interleaved_times
from bench.embed_cache import embeddings, label_vectors
from triaged.classifier import Classifier
from triaged.evaluation import sample_per_label
from triaged.models import Engine
from triaged.taxonomy import OOS_LABEL, Taxonomy

SHORT = "my card has not arrived yet"


def _interleaved(fns: dict[str, Any], n: int) -> dict[str, float]:
    """p50 (ms) of each function, calls interleaved so that load changes hit all alike."""

    def ignore_text(fn: Any) -> Any:
        return lambda _t: fn()

    times = interleaved_times({k: ignore_text(fn) for k, fn in fns.items()}, [SHORT] * n)
    return {f"{k}_p50_ms": percentile(v, 50) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    tax = tax.with_examples(sample_per_label(tax.examples(), 20, 0), replace_all=True)
    out: dict[str, object] = {}
    for lexical in (True, False):
        clf = Classifier.from_taxonomy(tax, lexical=lexical).fit()
        enc = clf.encoder
        x = enc.embed([SHORT], batch_size=1)
        key = "lexical" if lexical else "dense_only"
        r = _interleaved(
            {
                "encoder": lambda: enc.embed([SHORT], batch_size=1),  # noqa: B023
                "engine": lambda: clf.engine.predict(x, [SHORT]),  # noqa: B023
                "classify": lambda: clf.classify(SHORT),  # noqa: B023
            },
            args.n,
        )
        r["ratio"] = r["classify_p50_ms"] / r["encoder_p50_ms"]
        out[key] = r
        print(key, json.dumps(r), flush=True)
    names, V = label_vectors("clinc150")
    index = {n: i for i, n in enumerate(names)}
    texts, labels, X = embeddings("clinc150", "train")
    rows = [i for i, lb in enumerate(labels) if lb != OOS_LABEL]
    eng = Engine().fit(
        X[rows],
        np.array([index[labels[i]] for i in rows]),
        label_vectors=V,
        texts=[texts[i] for i in rows],
    )
    arrays, _ = eng.to_state()
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    sizes = {k: v.nbytes for k, v in arrays.items()}
    big = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    print(json.dumps({"clinc150_full_blob_mb": len(buf.getvalue()) / 1e6, "largest": big}))


if __name__ == "__main__":
    main()
