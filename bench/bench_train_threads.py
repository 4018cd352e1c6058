"""Training time with one thread and with several, on a taxonomy of many labels.

    python -m bench.bench_train_threads                   # 285 labels, up to 100 examples each
    python -m bench.bench_train_threads --per-label 0     # every training example (67,665)
    python -m bench.bench_train_threads --threads 1,2,4

The six shared datasets' labels become one taxonomy (285 labels; each dataset's label names
kept apart), trained on up to ``--per-label`` training examples of each label (seeded draw;
0: all) from their cached vectors (``bench.embed_cache``).  The same fit runs once per
``--threads`` value, one after another in this process, and the script checks that every
array of the saved model is the same, bit for bit, whatever the threads
(:func:`triaged.models.training.held_out_parts`: fits run side by side; lexical SVMs that
solve the dual problem take turns on liblinear's random generator,
:mod:`triaged.models.solver_turns`).  ``--per-label 10`` gives a taxonomy whose SVMs solve
the dual problem (fewer rows than lexical terms).  Timing only: compare the ratio within
one run.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np

from bench.embed_cache import ALL, embeddings, label_vectors
from triaged.models import Engine


def _taxonomy(per_label: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    Xs, ys, Vs, texts = [], [], [], []
    offset = 0
    for dataset in ALL:
        names, V = label_vectors(dataset)
        index = {n: i for i, n in enumerate(names)}
        t, labels, X = embeddings(dataset, "train")
        rows: dict[str, list[int]] = {}
        for i, lb in enumerate(labels):
            if lb in index:
                rows.setdefault(lb, []).append(i)
        keep = sorted(
            j
            for members in rows.values()
            for j in (rng.permutation(members)[:per_label] if per_label else members)
        )
        Xs.append(X[keep])
        ys.append(np.array([index[labels[i]] + offset for i in keep], dtype=np.int64))
        texts += [t[i] for i in keep]
        Vs.append(V)
        offset += len(names)
    return np.vstack(Xs), np.concatenate(ys), np.vstack(Vs), texts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-label", type=int, default=100, help="0: every training example")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    X, y, V, texts = _taxonomy(args.per_label, args.seed)
    print(f"{V.shape[0]} labels, {len(y)} examples ({platform.machine()})", flush=True)
    states: dict[int, dict[str, np.ndarray]] = {}
    for threads in (int(t) for t in args.threads.split(",")):
        started = time.perf_counter()
        engine = Engine().fit(X, y, label_vectors=V, texts=texts, threads=threads)
        seconds = time.perf_counter() - started
        states[threads] = engine.to_state()[0]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"threads {threads}: {seconds:.1f} s, {engine.report()['lexical_terms']} lexical "
            f"terms, peak RSS so far {rss:.0f} MB",
            flush=True,
        )
    first = next(iter(states.values()))
    same = all(all(np.array_equal(first[k], state[k]) for k in first) for state in states.values())
    print("the same model, bit for bit, whatever the threads:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
