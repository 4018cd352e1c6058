"""Research: what separates gap clusters from clusters of known labels' traffic?

    python -m bench.research_gaps [--datasets ...] [--seeds 0 1 2]

Reads the cached runs of :mod:`bench.bench_gaps` (run it first), repeats the clustering of
:func:`triaged.insights.gaps.find_gap_clusters` *before* its filters, and prints for every
cluster its true majority label (removed or known), purity, size, and the evidence each
filter sees: kNN coverage (``raw``; ``cov`` is 1.0 where the centroid rule of the previous
default calls the cluster inside a label), the centroid's similarity to the nearest label's
centroid minus the 4-vs-4 merge scale (``cent``), the size-aware inside test at the 5%
and 25% quantiles (``in05``/``in25``, :func:`triaged.insights.gaps.inside_labels`) and the
vouched share.

What it showed (4 December, seeds 0-2): the 4-vs-4 centroid rule called SNIPS's removed
AddToPlaylist (59 inputs, purity 0.98, coverage 0.05) "inside PlayMusic" because a large
cluster's centroid is a sharper estimate than a 4-example group's; the size-aware test does
not.  StackOverflow's known-label clusters have raw coverage 0.02-0.15 because 6,000
candidates meet at most 1,000 reference rows, so coverage is compared with what
exchangeable inputs would get in the pool.  Conformal novelty p-values of single inputs
against each label's leave-one-out density (tried, then dropped) did not separate gap
clusters from known ones on any dataset (StackOverflow gaps had median p 0.3-0.9).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import numpy as np

from bench._common import DATASETS, CachedEncoder
from bench.bench_gaps import classified
from bench.embed_cache import ALL
from triaged.insights import DecisionRecord, InsightsConfig
from triaged.insights.gaps import (
    _balanced_sample,
    _cluster_coverage,
    _cluster_open,
    _explained,
)
from triaged.insights.report import _embed_records, _reference_examples, gap_candidates
from triaged.insights.scale import inside_by_scale, inside_labels, unit_rows
from triaged.insights.vouch import vouched_shares
from triaged.taxonomy import Taxonomy


def clusters_of(
    run: dict[str, Any], cfg: InsightsConfig, enc: CachedEncoder
) -> list[dict[str, Any]]:
    removed = run["removed"]
    base = Taxonomy.from_dataset_dir(DATASETS / run["dataset"])
    tax = Taxonomy(name="x", labels=tuple(lb for lb in base.labels if lb.name not in removed))
    recs = [DecisionRecord.from_mapping(r) for r in run["records"]]
    truth = run["truth"]
    _, ex_labels, ex_vecs = _reference_examples(tax, cfg, None, lambda: enc, {})
    idx = gap_candidates(recs, cfg)
    cands = [recs[i] for i in idx]
    V = _embed_records(cands, lambda: enc)
    center = ex_vecs.mean(axis=0)
    Z = unit_rows(V - center)
    ref_c = unit_rows(ex_vecs - center)
    explained = _explained(Z, ref_c, ex_labels, cands, cfg)
    labels, cents, merge_at = _cluster_open(Z, ref_c, ex_labels, np.flatnonzero(~explained), cfg)
    n_c = int(labels.max()) + 1
    ref_z = _balanced_sample(ref_c, len(cands), cfg.seed)
    raw = _cluster_coverage(Z, labels, ref_z, cfg)
    cov = np.where(inside_by_scale(Z, labels, cents, merge_at), 1.0, raw)
    vouch = vouched_shares(Z, labels, cands, ref_c, ex_labels, cfg.vouch_confidence)
    in05 = inside_labels(Z, labels, ref_c, ex_labels, 0.05, 0)
    in25 = inside_labels(Z, labels, ref_c, ex_labels, 0.25, 0)
    out = []
    for c in range(n_c):
        m = np.flatnonzero(labels == c)
        t = Counter(truth[int(cands[i].id)] for i in m)  # type: ignore[arg-type]
        lb, k = t.most_common(1)[0]
        cen = unit_rows(Z[m].mean(axis=0, keepdims=True))[0]
        out.append(
            {
                "dataset": run["dataset"],
                "seed": run["seed"],
                "kind": "gap" if lb in removed else ("oos" if lb == "oos" else "known"),
                "label": lb,
                "purity": round(k / m.size, 2),
                "size": int(m.size),
                "cov": round(float(cov[c]), 2),
                "raw": round(float(raw[c]), 2),
                "in05": bool(in05[c]),
                "in25": bool(in25[c]),
                "cent": round(float((cents @ cen).max()) - merge_at, 3) if cents.size else 0.0,
                "vouch": round(float(vouch[c]), 2),
                "conf": round(float(np.mean([cands[i].confidence for i in m])), 2),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", nargs="*", default=list(ALL))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="bench/.cache/research_gaps.jsonl")
    args = ap.parse_args()
    cfg = InsightsConfig()
    rows = []
    for ds in args.datasets:
        enc = CachedEncoder([ds])
        for seed in args.seeds:
            rows += clusters_of(classified(ds, seed), cfg, enc)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    for r in rows:
        if r["kind"] == "gap" or r["size"] >= 5:
            print(r)


if __name__ == "__main__":
    main()
