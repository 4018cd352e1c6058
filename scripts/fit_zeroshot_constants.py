"""Refit the constants that ship in :mod:`triaged.models.zeroshot`.

    python scripts/fit_zeroshot_constants.py                # print them as Python literals
    python scripts/fit_zeroshot_constants.py --check        # ... and compare with the shipped ones
    python scripts/fit_zeroshot_constants.py --datasets DIR # datasets in the shared format

Run by maintainers after changing the encoder, the prompt format or the feature list; never
at install or run time.  Two groups of constants are refitted, exactly as the original
experiments did:

* **Zero-shot correctness calibrator** (``_MEAN``, ``_SCALE``, ``_COEF``,
  ``_INTERCEPT``).  For every train/val item of Banking77, CLINC150 and
  SNIPS: :func:`~triaged.models.features.zero_shot_features` of its cosines to the label
  prompts (``Label.prompt`` embedded by the bundled encoder), and whether the argmax label
  is right (CLINC150 ``oos`` items are always wrong).  A
  :class:`~triaged.models.calibrator.CorrectnessCalibrator` (C=1) is fitted with each
  dataset weighted equally.  (Confidence is no longer bent at an "auto knee": routing
  thresholds are certified by :mod:`triaged.routing` from held-out evidence.)
* **Membership models** (``_MEMBER_ZS``, ``_MEMBER_TRAINED``) for one- and two-label
  taxonomies.  Per dataset (SNIPS, Banking77, CLINC150, in that order, one
  ``numpy.random.default_rng(0)`` for all) and per label: 10 of the label's items become its
  "examples", the next 50 are positives, and 100 items of other labels (``oos`` included)
  are negatives.  Features: cosine to the label prompt (zero-shot model), plus the nearest
  and mean top-3 cosine to the 10 examples (trained model).  Logistic regression (C=1),
  positives and negatives weighted equally within each label, labels equally within a
  dataset, datasets equally.  The features stay float32 as the encoder returns them (so
  sklearn fits in float32), and the coefficients are rounded to 4 decimals, as shipped.

Only ``train.jsonl`` and ``val.jsonl`` are read, never ``test.jsonl``.

Embeddings are cached under ``bench/.cache/embeddings`` (git-ignored), keyed by encoder
name and a hash of the texts; delete that folder to re-embed.

Reproducibility.  With the bundled int8 encoder (onnxruntime, one thread, x86-64) this
reproduces the shipped constants exactly: the embeddings are bit-identical to the ones the
experiments cached, and every constant matches to the printed digits.  Embeddings are not
bit-stable everywhere, though: the encoder quantizes activations dynamically, with one scale
per batch (length-sorted runs of 64 texts), so another batch size, onnxruntime version or
CPU kernel moves the vectors (batch size 32 or 128: cosine 0.993 to the batch-64 vector on
median, 0.97 at worst).  Refitted on such embeddings, the zero-shot coefficients move by up
to 15% (the seven features are nearly collinear), while the functions they define barely
do: zero-shot confidence 0.004-0.005 mean absolute difference, membership
probabilities <= 0.001.  ``--check`` therefore passes when every constant is within
``tol * max(1, |shipped|)``, or else when the mean absolute difference of each
probability on the fitting data is within ``tol`` (default 0.01).  Anything larger means
that the shipped constants are stale (the encoder, prompts, features or data changed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from triaged.encoders import get_encoder
from triaged.models import zeroshot
from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.features import ZERO_SHOT_FEATURES, zero_shot_features
from triaged.taxonomy import OOS_LABEL, Taxonomy, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = Path(os.environ.get("TRIAGED_DATASETS", ROOT.parent / "shared" / "datasets"))
DEFAULT_CACHE = ROOT / "bench" / ".cache" / "embeddings"

ZERO_SHOT_DATASETS = ("banking77", "clinc150", "snips")
MEMBER_DATASETS = ("snips", "banking77", "clinc150")  # order matters: one shared RNG
FIT_SPLITS = ("train", "val")  # never "test"
MEMBER_EXAMPLES, MEMBER_POSITIVES, MEMBER_NEGATIVES = 10, 50, 100

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Constants = dict[str, Any]


@dataclass
class Split:
    X: F32  # (n, dim) embeddings
    y: I64  # (n,) label index, -1 for out-of-scope


@dataclass
class Dataset:
    name: str
    label_vectors: F32  # (L, dim) embeddings of Label.prompt
    splits: dict[str, Split]

    def stacked(self) -> Split:
        parts = [self.splits[s] for s in FIT_SPLITS if s in self.splits]
        return Split(np.vstack([p.X for p in parts]), np.concatenate([p.y for p in parts]))


class EmbeddingCache:
    """Embeds texts with the bundled encoder once and keeps the vectors as ``.npy`` files.

    Each list of texts is embedded in one ``embed`` call, so batches (and hence the int8
    activation scales) are the same as in the original experiments."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.encoder = get_encoder()

    def embed(self, key: str, texts: Sequence[str]) -> F32:
        digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
        path = self.folder / f"{self.encoder.name}-{key}-{digest}.npy"
        if path.exists():
            cached: F32 = np.load(path)
            return cached
        print(f"embedding {key} ({len(texts)} texts)", file=sys.stderr, flush=True)
        X = self.encoder.embed(list(texts), progress=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, X)
        tmp.replace(path)
        return X


def load_dataset(root: Path, cache: EmbeddingCache) -> Dataset:
    """Label prompt vectors and the embedded train/val splits of one dataset folder."""
    tax = Taxonomy.from_dataset_dir(root, split="none")
    names = tax.label_names
    index = {name: i for i, name in enumerate(names)}
    V = cache.embed(f"{root.name}-labels", [lb.prompt for lb in tax.labels])
    splits: dict[str, Split] = {}
    for split in FIT_SPLITS:
        path = root / f"{split}.jsonl"
        if not path.exists():
            continue
        rows = list(read_jsonl(path))
        texts = [r.text for r in rows]
        y = np.array([-1 if r.label == OOS_LABEL else index[r.label] for r in rows], np.int64)
        splits[split] = Split(cache.embed(f"{root.name}-{split}", texts), y)
    return Dataset(root.name, V, splits)


# --------------------------------------------------------------- zero-shot calibrator
def zero_shot_data(ds: Dataset) -> tuple[F64, NDArray[np.bool_]]:
    feats, correct = [], []
    for split in FIT_SPLITS:
        if split not in ds.splits:
            continue
        s = ds.splits[split]
        sims = (s.X @ ds.label_vectors.T).astype(np.float64)
        top, f = zero_shot_features(sims, zeroshot.ZERO_SHOT_TEMPERATURE)
        feats.append(f)
        correct.append(top == s.y)
    return np.vstack(feats), np.concatenate(correct)


def fit_zero_shot(datasets: Sequence[Dataset]) -> tuple[Constants, F64]:
    """The calibrator constants, and the features they were fitted on."""
    data = [zero_shot_data(ds) for ds in datasets]
    F = np.vstack([f for f, _ in data])
    ok = np.concatenate([o for _, o in data])
    w = np.concatenate([np.full(len(o), 1.0 / len(o)) for _, o in data])
    w *= len(w) / w.sum()
    cal = CorrectnessCalibrator.fit(F, ok, sample_weight=w, C=1.0)
    constants: Constants = {
        "_MEAN": [round(float(x), 6) for x in cal.mean],
        "_SCALE": [round(float(x), 6) for x in cal.scale],
        "_COEF": [round(float(x), 6) for x in cal.coef],
        "_INTERCEPT": round(cal.intercept, 6),
    }
    return constants, F


# ------------------------------------------------------------------ membership models
def fit_membership(datasets: Sequence[Dataset]) -> tuple[Constants, F64, F64]:
    """The membership constants, and the prompt-only and trained features they were fitted on."""
    rng = np.random.default_rng(0)
    Fz, Ft, Y, W = [], [], [], []
    for ds in datasets:
        s = ds.stacked()
        X, y, V = s.X, s.y, ds.label_vectors
        n_labels = len(V)
        for c in range(n_labels):
            pos = np.flatnonzero(y == c)
            rng.shuffle(pos)
            ex = pos[:MEMBER_EXAMPLES]
            pos = pos[MEMBER_EXAMPLES : MEMBER_EXAMPLES + MEMBER_POSITIVES]
            neg = rng.choice(np.flatnonzero(y != c), MEMBER_NEGATIVES, replace=False)
            query = np.concatenate([pos, neg])
            lab = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
            prompt_sim = X[query] @ V[c]  # float32, as in the experiments
            ex_sims = -np.sort(-(X[query] @ X[ex].T), axis=1)
            Fz.append(prompt_sim[:, None])
            Ft.append(np.column_stack([prompt_sim, ex_sims[:, 0], ex_sims[:, :3].mean(axis=1)]))
            Y.append(lab)
            W.append(np.where(lab == 1, 1 / len(pos), 1 / len(neg)) / n_labels)
    y_all = np.concatenate(Y)
    w_all = np.concatenate(W)
    Fz_all, Ft_all = np.vstack(Fz), np.vstack(Ft)
    constants: Constants = {}
    for name, F in (("_MEMBER_ZS", Fz_all), ("_MEMBER_TRAINED", Ft_all)):
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(F, y_all, sample_weight=w_all * len(w_all))
        coef = tuple(round(float(c), 4) for c in model.coef_[0])
        icpt = round(float(model.intercept_[0]), 4)
        constants[name] = (coef[0], icpt) if len(coef) == 1 else (coef, icpt)
    return constants, Fz_all.astype(np.float64), Ft_all.astype(np.float64)


# ---------------------------------------------------------------------------- check
def shipped() -> Constants:
    names = (
        "_MEAN",
        "_SCALE",
        "_COEF",
        "_INTERCEPT",
        "_MEMBER_ZS",
        "_MEMBER_TRAINED",
    )
    return {name: getattr(zeroshot, name) for name in names}


def flatten(value: Any) -> list[float]:
    if isinstance(value, list | tuple):
        return [x for v in value for x in flatten(v)]
    return [float(value)]


def zero_shot_conf(c: Constants, F: F64) -> F64:
    """Shipped-style zero-shot confidence."""
    cal = CorrectnessCalibrator(
        np.array(c["_MEAN"], dtype=np.float64),
        np.array(c["_SCALE"], dtype=np.float64),
        np.array(c["_COEF"], dtype=np.float64),
        float(c["_INTERCEPT"]),
    )
    out: F64 = cal.predict(F)
    return out


def member_prob(c: Constants, name: str, F: F64) -> F64:
    weights, intercept = c[name]
    z = F @ np.array(flatten(weights)) + float(intercept)
    out: F64 = 1.0 / (1.0 + np.exp(-z))
    return out


def compare(fitted: Constants, ship: Constants, feats: dict[str, F64], tol: float) -> bool:
    """Print how far each refitted constant is from the shipped one, then compare the
    *functions* they define on the fitting data (the zero-shot features are nearly
    collinear, so single coefficients can move a lot while the confidence barely does).
    Passes when every constant agrees within ``tol`` (relative to ``max(1, |shipped|)``),
    or else when the mean absolute difference of every probability does."""
    same = True
    for name, value in fitted.items():
        a, b = np.array(flatten(value)), np.array(flatten(ship[name]))
        err = np.abs(a - b) / np.maximum(1.0, np.abs(b)) if a.shape == b.shape else np.inf
        print(f"  {name:16s} max scaled difference {np.max(err):.2e}")
        same &= bool(np.max(err) <= tol)
    if same:
        return True
    print("constants differ; the probabilities they give on the fitting data:")
    diffs = {
        "zero-shot confidence": np.abs(
            zero_shot_conf(fitted, feats["zs"]) - zero_shot_conf(ship, feats["zs"])
        ),
        "membership (prompt only)": np.abs(
            member_prob(fitted, "_MEMBER_ZS", feats["mz"])
            - member_prob(ship, "_MEMBER_ZS", feats["mz"])
        ),
        "membership (with examples)": np.abs(
            member_prob(fitted, "_MEMBER_TRAINED", feats["mt"])
            - member_prob(ship, "_MEMBER_TRAINED", feats["mt"])
        ),
    }
    ok = True
    for name, d in diffs.items():
        print(f"  {name:28s} mean |diff| {d.mean():.4f}  p99 {np.quantile(d, 0.99):.4f}")
        ok &= bool(d.mean() <= tol)
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets",
        type=Path,
        default=DEFAULT_DATASETS,
        help="folder with banking77/, clinc150/, snips/ (default: %(default)s)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="embedding cache folder (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the constants in src/triaged/models/zeroshot.py",
    )
    parser.add_argument(
        "--tol", type=float, default=0.01, help="--check tolerance, relative to max(1, |shipped|)"
    )
    args = parser.parse_args(argv)
    if len(zeroshot._COEF) != len(ZERO_SHOT_FEATURES):
        print("note: the shipped calibrator does not match ZERO_SHOT_FEATURES", file=sys.stderr)
    cache = EmbeddingCache(args.cache)
    loaded = {name: load_dataset(args.datasets / name, cache) for name in ZERO_SHOT_DATASETS}
    fitted, F_zs = fit_zero_shot([loaded[n] for n in ZERO_SHOT_DATASETS])
    member, F_mz, F_mt = fit_membership([loaded[n] for n in MEMBER_DATASETS])
    fitted.update(member)
    for name, value in fitted.items():
        if name == "_INTERCEPT":
            print(f"{name} = {value:.6f}")
        else:
            print(f"{name} = {value!r}")
    if args.check:
        print()
        feats = {"zs": F_zs, "mz": F_mz, "mt": F_mt}
        if not compare(fitted, shipped(), feats, args.tol):
            print(f"constants differ from src/triaged/models/zeroshot.py beyond tol={args.tol}")
            return 1
        print(f"shipped constants reproduced within tol={args.tol}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
