"""Texts longer than the encoder's window: reading the whole text (windows averaged) against
reading its first window only.

    python -m bench.bench_long                  # DBpedia-14 long documents, seeds 0-2
    python -m bench.bench_long --update-readme

None of the shared sets has a text longer than the bundled encoder's window (256 tokens;
DBpedia-14's longest test text has 66), so this builds long documents from DBpedia-14's
abstracts, three ways, for train and test alike (train documents from the train split,
test documents from the test split, each document of one label):

* ``topic``: twelve abstracts of the label (about 450 tokens: two windows);
* ``header``: a 300-token notice that every document shares (an email disclaimer), then
  three abstracts of the label: the first window is mostly notice;
* ``footer``: three abstracts of the label, then that notice.

Each is trained on 10 documents per label (``--shots``) and scored on 20 test documents per
label with the default engine, the documents' vectors read with at most 1 window (the
behaviour before 6 December) and at most 8 (now); the lexical channel reads the whole text
in both.  Synthetic documents: a check of the mechanism, not a figure about real long texts.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from typing import Any

import numpy as np

from bench._common import DATASETS, update_readme, write_results
from triaged.calibration import expected_calibration_error
from triaged.encoders.onnx import OnnxEncoder
from triaged.models import Engine

NOTICE = (
    "This message and any attachments are confidential and intended solely for the "
    "addressee. If you have received it in error, please notify the sender immediately "
    "and delete it from your system. Any unauthorised use, disclosure, copying or "
    "distribution is strictly prohibited. Opinions expressed are those of the author and "
    "do not necessarily reflect the views of the company. The company accepts no "
    "liability for any damage caused by any virus transmitted by this email. "
)
NOTICE_TEXT = " ".join([NOTICE] * 4)  # about 300 tokens
KINDS = ("topic", "header", "footer")
TEST_PER_LABEL = 20


def _rows(split: str) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    with (DATASETS / "dbpedia14" / f"{split}.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by.setdefault(row["label"], []).append(row["text"])
    return by


def _doc(kind: str, parts: list[str]) -> str:
    if kind == "topic":
        return " ".join(parts)
    body = " ".join(parts[:3])
    return f"{NOTICE_TEXT}\n\n{body}" if kind == "header" else f"{body}\n\n{NOTICE_TEXT}"


def _docs(by: dict[str, list[str]], kind: str, per_label: int, rng: random.Random):
    texts, labels = [], []
    for label in sorted(by):
        pool = by[label]
        for _ in range(per_label):
            texts.append(_doc(kind, rng.sample(pool, 12)))
            labels.append(label)
    return texts, labels


def run(kind: str, shots: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    train_by, test_by = _rows("train"), _rows("test")
    names = sorted(train_by)
    tr_t, tr_l = _docs(train_by, kind, shots, rng)
    te_t, te_l = _docs(test_by, kind, TEST_PER_LABEL, rng)
    index = {n: i for i, n in enumerate(names)}
    y, truth = np.array([index[x] for x in tr_l]), np.array([index[x] for x in te_l])
    out: dict[str, Any] = {"kind": kind, "shots": shots, "seed": seed}
    for windows in (1, 8):
        enc = OnnxEncoder(max_windows=windows)
        V = enc.embed_exact(names)
        X, tX = enc.embed_exact(tr_t, batch_size=16), enc.embed_exact(te_t, batch_size=16)
        eng = Engine(seed=seed).fit(X, y, label_vectors=V, texts=tr_t)
        pred = eng.predict(tX, te_t)
        right = pred.top == truth
        out[f"w{windows}"] = {
            "accuracy": float(right.mean()),
            "ece": float(expected_calibration_error(pred.confidence, right)),
        }
    return out


def render(results: list[dict[str, Any]], seeds: list[int], minutes: float) -> str:
    lines = [
        "| documents | examples per label | accuracy, first window | accuracy, whole text "
        "| ECE, first window | ECE, whole text |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        for shots in sorted({r["shots"] for r in results}):
            rows = [r for r in results if r["kind"] == kind and r["shots"] == shots]
            if not rows:
                continue

            def m(w: str, k: str, rows: list[dict[str, Any]] = rows) -> float:
                return float(np.mean([r[w][k] for r in rows]))

            lines.append(
                f"| {kind} | {shots} | {m('w1', 'accuracy'):.3f} | {m('w8', 'accuracy'):.3f} "
                f"| {m('w1', 'ece'):.3f} | {m('w8', 'ece'):.3f} |"
            )
    lines.append("")
    lines.append(
        f"DBpedia-14 documents built as described in `bench/bench_long.py` (14 labels, "
        f"{TEST_PER_LABEL} test documents each), seeds {seeds[0]}-{seeds[-1]} (means), "
        f"{platform.machine()}, {minutes:.1f} min. Reproduce: `python -m bench.bench_long "
        "--update-readme`."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--shots", default="10")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    a, _, b = args.seeds.partition("-")
    seeds = list(range(int(a), int(b or a) + 1))
    started = time.perf_counter()
    results = []
    for kind in KINDS:
        for shots in (int(s) for s in args.shots.split(",")):
            for seed in seeds:
                r = run(kind, shots, seed)
                print(json.dumps(r), flush=True)
                results.append(r)
    write_results("long", results)
    table = render(results, seeds, (time.perf_counter() - started) / 60)
    print(table)
    if args.update_readme:
        update_readme("long", table)


if __name__ == "__main__":
    main()
