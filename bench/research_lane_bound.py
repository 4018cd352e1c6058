"""Where the certified auto lane of a full training set stops, and why.

    python -m bench.research_lane_bound                 # CLINC150, its oos examples included
    python -m bench.research_lane_bound --dataset banking77

Trains the default engine on the dataset's train split (its ``oos`` items as out-of-scope
examples) and prints, per threshold of the service's grid, the three parts of the auto
lane's error bound (target 0.02 at 95%, 20% of traffic expected out of scope;
:func:`triaged.routing.certify_auto_threshold`): in-scope held-out items above the
threshold and their error bound, the lower bound of the in-scope share above it, and the
simulated out-of-scope rows above it with the clustered upper bound of that share; next to
what the test split shows at the same threshold: auto share, auto_error_all (out-of-scope
counted as wrong) and the share of the test's own out-of-scope items above the threshold.
Research output only (bench/results/lane_bound_<dataset>.json); the README quotes it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from bench._common import write_results
from bench.embed_cache import embeddings, label_vectors
from triaged.models import Engine
from triaged.routing import cp_lower, cp_upper, lane_bound_at
from triaged.taxonomy import OOS_LABEL

THRESHOLDS = (0.999, 0.995, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.9)
LEVEL, PI = 0.95, 0.2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="clinc150")
    args = ap.parse_args(argv)
    names, V = label_vectors(args.dataset)
    texts, labels, X = embeddings(args.dataset, "train")
    t_texts, t_labels, tX = embeddings(args.dataset, "test")
    index = {n: i for i, n in enumerate(names)}
    rows = np.array([i for i, lb in enumerate(labels) if lb in index], np.int64)
    oos = np.array([i for i, lb in enumerate(labels) if lb == OOS_LABEL], np.int64)
    engine = Engine().fit(
        X[rows],
        np.array([index[labels[i]] for i in rows], np.int64),
        label_vectors=V,
        texts=[texts[i] for i in rows],
        oos_X=X[oos] if len(oos) else None,
        oos_texts=[texts[i] for i in oos],
    )
    evidence = engine.routing_evidence()
    pred = engine.predict(tX, t_texts)
    truth = np.array([index.get(lb, -1) for lb in t_labels])
    right = pred.top == truth
    test_oos = truth < 0
    delta = (1.0 - LEVEL) / 3
    out: list[dict[str, Any]] = []
    print(
        f"{args.dataset}: {evidence.n_in} held-out in-scope rows, {evidence.n_oos} out-of-scope "
        f"rows in {evidence.n_oos_clusters} clusters; test {len(truth)} ({int(test_oos.sum())} oos)"
    )
    for t in THRESHOLDS:
        bound = lane_bound_at(evidence, t, confidence_level=LEVEL, expected_out_of_scope=PI)
        hits, oos_upper = evidence.oos_share_upper(t, delta)
        auto = pred.confidence >= t
        row = {
            "threshold": t,
            "in_scope_above": bound.n,
            "in_scope_wrong": bound.errors,
            "in_scope_error_upper": cp_upper(bound.errors, bound.n, delta),
            "in_scope_share_lower": cp_lower(bound.n, evidence.n_in, delta),
            "simulated_oos_above": hits / max(evidence.n_oos, 1),
            "oos_share_upper": oos_upper,
            "bound": bound.upper_bound,
            "test_auto_share": float(auto.mean()),
            "test_auto_error_all": float(1.0 - right[auto].mean()) if auto.any() else None,
            "test_oos_above": float(auto[test_oos].mean()) if test_oos.any() else None,
        }
        out.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    write_results(f"lane_bound_{args.dataset}", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
