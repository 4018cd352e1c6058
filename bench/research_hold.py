"""What the hold threshold chosen from the evidence changes on the open-intent protocol.

    python -m bench.research_hold                      # Banking77 25%, CLINC150 50%, SO 75%
    python -m bench.research_hold --cells banking77:0.25 --seeds 0-4

The service used to hold a decision below a fixed 0.60.  In the open-intent protocol (ADB)
a held decision predicts "open", and with most traffic open a fixed 0.60 holds too little.
The service now chooses the hold threshold ``h`` on the engine's routing evidence only
(:func:`triaged.routing_hold.evidence_hold_threshold`: out-of-fold in-scope rows and label
hold-out rows, no test data) to maximise the expected accuracy of "act on the top label" vs
"hold" under the operator's expected out-of-scope share ``pi``:

    (1 - pi) * P_in(conf >= h and top label right) + pi * P_oos(conf < h)

Here the test split's accuracy and macro-F1 over known labels + open (ADB's metrics) are
reported at the old 0.60 and at ``h``.  ``pi`` is the protocol's share of unknown labels, as
``triaged eval --known-ratio`` passes it.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import f1_score

from bench.embed_cache import embeddings, label_vectors
from triaged.evaluation import known_labels_for_seed
from triaged.models import Engine
from triaged.routing_hold import evidence_hold_threshold

OLD_HOLD = 0.60


def run(dataset: str, ratio: float, seed: int) -> dict[str, float]:
    names, V = label_vectors(dataset)
    known = known_labels_for_seed(names, ratio, seed)
    index = {k: i for i, k in enumerate(known)}
    texts, labels, X = embeddings(dataset, "train")
    rows = np.array([i for i, lb in enumerate(labels) if lb in index])
    eng = Engine().fit(
        X[rows],
        np.array([index[labels[i]] for i in rows]),
        label_vectors=V[[names.index(k) for k in known]],
        texts=[texts[i] for i in rows],
    )
    t_texts, t_labels, tX = embeddings(dataset, "test")
    keep = np.array([i for i, lb in enumerate(t_labels) if lb != "oos"])
    pred = eng.predict(tX[keep], [t_texts[i] for i in keep])
    truth = np.array([index.get(t_labels[i], -1) for i in keep])
    h = evidence_hold_threshold(
        eng.routing_evidence(), expected_out_of_scope=1 - ratio, floor=OLD_HOLD
    ).threshold

    def scores(threshold: float) -> tuple[float, float]:
        held = pred.confidence < threshold
        guess = np.where(held, -1, pred.top)
        return float((guess == truth).mean()), float(f1_score(truth, guess, average="macro"))

    (acc_f, f1_f), (acc_h, f1_h) = scores(OLD_HOLD), scores(h)
    return {"h": h, "acc_060": acc_f, "f1_060": f1_f, "acc_h": acc_h, "f1_h": f1_h}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--cells",
        default="banking77:0.25,clinc150:0.5,stackoverflow:0.75",
        help="dataset:ratio,...",
    )
    ap.add_argument("--seeds", default="0", help="e.g. 0-4")
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    print("| dataset | known | seed | h | acc / F1 at 0.60 | acc / F1 at h |")
    print("|---|---:|---:|---:|---:|---:|")
    for cell in args.cells.split(","):
        dataset, ratio = cell.split(":")
        for seed in seeds:
            r = run(dataset, float(ratio), seed)
            print(
                f"| {dataset} | {float(ratio):.0%} | {seed} | {r['h']:.3f} | "
                f"{100 * r['acc_060']:.2f} / {100 * r['f1_060']:.2f} | "
                f"{100 * r['acc_h']:.2f} / {100 * r['f1_h']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
