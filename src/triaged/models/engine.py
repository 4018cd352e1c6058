"""The Engine: embeddings in, label distribution and calibrated confidence out.

Two modes:

* ``zero-shot`` (no labelled examples): cosine similarity to the label prompt vectors,
  softmax at a fixed temperature, and a correctness calibrator whose constants were
  fitted once on public datasets (see :mod:`triaged.models.zeroshot`).
* ``trained``: standardised embeddings -> multinomial logistic regression.  Each label's
  prompt vector joins the training rows as one extra example, so labels without
  examples stay predictable and few-shot heads lean on the description.  K-fold
  out-of-fold logits fit a temperature, then a logistic *correctness* calibrator maps
  (max prob, margin, similarity to the nearest labelled examples, kNN agreement,
  similarity to the label prompt) to P(argmax is right).  Out-of-scope examples, when
  given, enter the calibrator as negatives, which teaches it to pull confidence down far
  from the labelled data.

Labels without examples (a partially labelled taxonomy) keep their zero-shot evidence:
the head's distribution is blended with the zero-shot one by the share of such labels,
and items predicted as one of them take the zero-shot calibrator's confidence.  With one
label, confidence is P(the input belongs to it) (:func:`triaged.models.zeroshot.membership`);
with two, it is capped by that membership of the top label.

Persistence is arrays + JSON only (:meth:`Engine.to_state` / :meth:`Engine.from_state`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from triaged.calibration import TemperatureScaler, expected_calibration_error
from triaged.encoders.base import Vectors
from triaged.errors import InvalidInput, NotFittedError
from triaged.models.calibrator import CorrectnessCalibrator
from triaged.models.features import (
    TRAINED_FEATURES,
    softmax_rows,
    trained_features,
    zero_shot_features,
)
from triaged.models.zeroshot import (
    ZERO_SHOT_TEMPERATURE,
    membership,
    zero_shot_calibrator,
)
from triaged.routing import RoutingEvidence

__all__ = ["DEFAULT_CONFIG", "Engine", "Prediction"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

STATE_VERSION = 2
#: State versions :meth:`Engine.from_state` reads (1: before routing evidence was stored).
_READABLE_VERSIONS = (1, 2)
#: Options of older engines that no longer exist (ignored when loading their state).
_RETIRED_OPTIONS = ("auto_threshold", "auto_target", "auto_z")
_CHUNK = 2048

DEFAULT_CONFIG: dict[str, Any] = {
    "C": 0.1,  # inverse L2 strength of the logistic head (on standardised embeddings)
    "folds": 3,  # cross-validation folds for the out-of-fold calibration data
    "small_folds": 8,  # ... and for small training sets (closer to the final head, cheap)
    "small_n": 3000,  # "small" means fewer examples than this
    "k": 10,  # neighbours for the kNN agreement signal
    "prompt_weight": 1.0,  # sample weight of each label's prompt vector as a training row
    # ... of the prompt row of a label without examples, in units of the median example
    # count of the labelled labels (so the head does not learn "example-less labels are rare")
    "missing_prompt_weight": 2.0,
    "calibrator_C": 1.0,
    "oos_weight": 8.0,  # sample weight of each out-of-scope example in the calibrator
    "pseudo_oos": 0.01,  # weight of "own label removed" copies of each example, as negatives
    "max_iter": 300,
    "tol": 1e-4,  # solver tolerance of the final head
    "cv_tol": 1e-4,  # tolerance of the warm-started cross-validation heads
    "bank": 8,  # labelled examples per label kept for the per-call similarity signals
    "seed": 0,
}


@dataclass(slots=True)
class Prediction:
    """Model output for ``n`` inputs over a taxonomy of ``L`` labels."""

    probs: FloatArray  # (n, L), rows sum to 1
    confidence: FloatArray  # (n,) calibrated P(top label is correct)
    top: IntArray  # (n,) argmax of probs


class Engine:
    """Vector classifier with calibrated confidence; see the module docstring."""

    mode: str

    def __init__(self, **config: Any) -> None:
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise InvalidInput(f"unknown engine option(s): {sorted(unknown)}")
        self.config: dict[str, Any] = {**DEFAULT_CONFIG, **config}
        self.mode = "unfitted"
        self._fitted = False
        self._report: dict[str, Any] = {}
        dim = 0
        self._label_vectors: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._train_X: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._train_y: IntArray = np.zeros(0, dtype=np.int64)
        self._bank: IntArray = np.zeros(0, dtype=np.int64)  # rows of train_X used for signals
        self._bank_X: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._W: FloatArray = np.zeros((0, dim))
        self._b: FloatArray = np.zeros(0)
        self._temperature = 1.0
        self._evidence = RoutingEvidence.empty()
        self._calibrator = zero_shot_calibrator()
        self._calibrator_zs = zero_shot_calibrator()
        self._missing = np.zeros(0, dtype=bool)
        self._beta = 0.0

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Vectors,
        y: NDArray[np.int64],
        *,
        label_vectors: Vectors,
        texts: Sequence[str] = (),
        oos_X: Vectors | None = None,
        oos_texts: Sequence[str] = (),
        progress: bool = False,
    ) -> Engine:
        """Fit on embeddings ``X`` with label indices ``y``; zero rows means zero-shot."""
        started = time.perf_counter()
        V = np.ascontiguousarray(label_vectors, dtype=np.float32)
        if V.ndim != 2 or V.shape[0] == 0:
            raise InvalidInput("label_vectors must be a non-empty (L, dim) array")
        n_labels, dim = V.shape
        X = np.asarray(X, dtype=np.float32).reshape(-1, dim)
        y = np.asarray(y, dtype=np.int64).ravel()
        if len(y) != X.shape[0]:
            raise InvalidInput(f"X has {X.shape[0]} rows but y has {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= n_labels):
            raise InvalidInput(f"label indices must lie in [0, {n_labels})")
        oos = (
            np.zeros((0, dim), dtype=np.float32)
            if oos_X is None
            else np.asarray(oos_X, dtype=np.float32).reshape(-1, dim)
        )
        self._label_vectors = V
        self._train_X = np.ascontiguousarray(X)
        self._train_y = y
        self._bank = _bank(y, np.arange(len(y), dtype=np.int64), int(self.config["bank"]), 0)
        self._bank_X = np.ascontiguousarray(X[self._bank])
        if X.shape[0] == 0 or n_labels < 2:
            self._fit_zero_shot()
        else:
            # One BLAS thread: the solver makes many small BLAS calls, and multi-threaded
            # BLAS spends more time synchronising than computing on them (10x+ slower on a
            # busy 2-core machine).
            with threadpool_limits(limits=1, user_api="blas"):
                self._fit_trained(X, y, V, oos, progress)
        self._fitted = True
        self._report["fit_seconds"] = round(time.perf_counter() - started, 3)
        self._report["n_examples"] = int(X.shape[0])
        self._report["n_out_of_scope"] = int(oos.shape[0])
        self._report["n_labels"] = int(n_labels)
        self._report["labels_without_examples"] = int(
            n_labels - len(np.unique(y)) if len(y) else n_labels
        )
        return self

    def _fit_zero_shot(self) -> None:
        self.mode = "zero-shot"
        self._W = np.zeros((0, self._label_vectors.shape[1]))
        self._b = np.zeros(0)
        self._temperature = ZERO_SHOT_TEMPERATURE
        self._calibrator = zero_shot_calibrator()
        # No labelled data to hold out: no evidence, so the auto lane stays closed.
        self._evidence = RoutingEvidence.empty()
        self._report = {"mode": self.mode, "temperature": self._temperature}

    def _fit_trained(
        self, X: Vectors, y: IntArray, V: Vectors, oos: Vectors, progress: bool
    ) -> None:
        cfg = self.config
        n, n_labels = X.shape[0], V.shape[0]
        lab = np.arange(n_labels, dtype=np.int64)
        # One standardisation for every fit, so fold fits can warm-start from the full fit.
        both = np.vstack([X, V])
        mean = both.mean(axis=0, dtype=np.float64)
        scale = both.std(axis=0, dtype=np.float64)
        scale[scale < 1e-6] = 1.0
        Z = ((X - mean) / scale).astype(np.float32)
        Zv = ((V - mean) / scale).astype(np.float32)
        pw = np.full(n_labels, float(cfg["prompt_weight"]))
        counts = np.bincount(y, minlength=n_labels)
        if (counts == 0).any():
            pw[counts == 0] = max(
                float(cfg["prompt_weight"]),
                float(cfg["missing_prompt_weight"]) * float(np.median(counts[counts > 0])),
            )
        self._set_partial()

        def head(
            idx: IntArray, warm: LogisticRegression | None, tol: float
        ) -> tuple[LogisticRegression, FloatArray, FloatArray]:
            if warm is None:
                model = LogisticRegression(
                    C=float(cfg["C"]), max_iter=int(cfg["max_iter"]), tol=tol
                )
            else:
                model = copy.deepcopy(warm)
                model.set_params(warm_start=True, tol=tol)
            model.fit(
                np.vstack([Z[idx], Zv]),
                np.concatenate([y[idx], lab]),
                sample_weight=np.concatenate([np.ones(len(idx)), pw]),
            )
            # Every label has its prompt row, so classes_ == 0..L-1 in every fit.
            coef = model.coef_.astype(np.float64)
            icpt = model.intercept_.astype(np.float64)
            if coef.shape[0] == 1:  # binary: sklearn keeps one row for class 1
                coef = np.vstack([np.zeros_like(coef), coef])
                icpt = np.concatenate([[0.0], icpt])
            W = coef / scale
            return model, W, icpt - W @ mean

        full, self._W, self._b = head(np.arange(n, dtype=np.int64), None, float(cfg["tol"]))

        # Out-of-fold logits and neighbour similarities for calibration.
        n_splits = int(cfg["folds"]) if n >= int(cfg["small_n"]) else int(cfg["small_folds"])
        folds = _fold_ids(y, n_splits, int(cfg["seed"]))
        n_folds = int(folds.max()) + 1 if n else 0
        k = int(cfg["k"])
        oof_logits = np.zeros((n, n_labels))
        oof_feats_parts: list[tuple[IntArray, Vectors, IntArray]] = []
        for f in range(n_folds):
            held = np.flatnonzero(folds == f)
            kept = np.flatnonzero(folds != f)
            if len(held) == 0 or len(kept) == 0:
                continue
            _, W, b = head(kept, full, float(cfg["cv_tol"]))
            oof_logits[held] = X[held] @ W.T + b
            oof_feats_parts.append((held, X[held], kept))
            if progress:
                print(f"fold {f + 1}/{n_folds}", flush=True)
        have = np.zeros(n, dtype=bool)
        for held, _, _ in oof_feats_parts:
            have[held] = True
        scaler = TemperatureScaler().fit(oof_logits[have], y[have])
        self._temperature = float(scaler.temperature_)
        T = self._temperature

        feats = np.zeros((n, len(TRAINED_FEATURES)))
        tops = np.zeros(n, dtype=np.int64)
        proto = (X @ V.T).astype(np.float64)
        # Items of labels that have no examples cannot appear in the out-of-fold data, so
        # their share of traffic (assumed uniform over labels) enters as pseudo negatives.
        missing = 1.0 - len(np.unique(y)) / n_labels
        pseudo_weight = max(float(cfg["pseudo_oos"]), min(missing / max(1.0 - missing, 1e-3), 20.0))
        pseudo: list[FloatArray] = []
        for held, Xh, kept in oof_feats_parts:
            P = self._blend(oof_logits[held] / T, proto[held])
            kept = _bank(y, kept, int(cfg["bank"]), f + 1)
            sims = Xh @ X[kept].T
            tops[held], feats[held] = trained_features(P, sims, y[kept], proto[held], k)
            if pseudo_weight > 0:
                # Pseudo out-of-scope: the same item as if its own label did not exist.
                rows = np.arange(len(held))
                z = oof_logits[held].copy()
                z[rows, y[held]] = -np.inf
                own = y[kept][None, :] == y[held][:, None]
                sims_wo = np.where(own, np.float32(-1.0), sims)
                Pw = self._blend(z / T, proto[held])
                Pw[rows, y[held]] = 0.0
                Pw /= Pw.sum(axis=1, keepdims=True)
                pseudo.append(trained_features(Pw, sims_wo, y[kept], proto[held], k)[1])
        correct = (tops == y)[have]
        F = feats[have]
        weights = np.ones(len(F))
        if pseudo:
            Fp = np.vstack(pseudo)
            F = np.vstack([F, Fp])
            correct = np.concatenate([correct, np.zeros(len(Fp), dtype=bool)])
            weights = np.concatenate([weights, np.full(len(Fp), pseudo_weight)])
        if oos.shape[0]:
            oos_feats = self._trained_outputs(oos)[2]
            F = np.vstack([F, oos_feats])
            correct = np.concatenate([correct, np.zeros(oos.shape[0], dtype=bool)])
            weights = np.concatenate([weights, np.full(oos.shape[0], float(cfg["oos_weight"]))])
        if len(F):
            self._calibrator = CorrectnessCalibrator.fit(
                F, correct, sample_weight=weights, C=float(cfg["calibrator_C"])
            )
            conf = self._calibrator.predict(F)
        else:
            self._calibrator = CorrectnessCalibrator.constant(len(TRAINED_FEATURES), 0.5)
            conf = np.zeros(0)
        self.mode = "trained"
        in_scope = np.arange(len(F)) < int(have.sum())
        self._evidence = RoutingEvidence(conf[in_scope], correct[in_scope], conf[~in_scope])
        self._report = {
            "mode": self.mode,
            "temperature": T,
            "cv_folds": n_folds,
            "zero_shot_blend": self._beta,  # share of labels without examples
            "cv_accuracy": float(correct[in_scope].mean()) if in_scope.any() else None,
            "cv_ece": (
                float(expected_calibration_error(conf[in_scope], correct[in_scope]))
                if in_scope.any()
                else None
            ),
            "calibrator": dict(
                zip(TRAINED_FEATURES, map(float, self._calibrator.coef), strict=True)
            ),
        }

    # --------------------------------------------------------------- prediction
    def _set_partial(self) -> None:
        """Labels without examples (derived from ``train_y``) and the zero-shot share."""
        n_labels = self._label_vectors.shape[0]
        self._missing = np.bincount(self._train_y, minlength=n_labels) == 0
        self._beta = float(self._missing.mean()) if len(self._train_y) else 1.0

    def _blend(self, logits: FloatArray, proto: FloatArray) -> FloatArray:
        """Softmax of the head's logits, geometrically blended with the zero-shot
        distribution (``proto``: cosine to the label prompts) by the share of labels that
        have no examples: a head trained on a few labels leans towards them, and zero-shot
        evidence is all the others have.  The plain softmax when every label has examples."""
        if self._beta <= 0.0:
            return softmax_rows(logits)
        z = logits - logits.max(axis=1, keepdims=True)
        head_log = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return softmax_rows(
            (1.0 - self._beta) * head_log + self._beta * proto / ZERO_SHOT_TEMPERATURE
        )

    def _membership(self, X: Vectors, proto: FloatArray, top: IntArray) -> FloatArray:
        """P(row belongs to its ``top`` label) from prompt (``proto``) and example cosines."""
        out = np.zeros(X.shape[0])
        bank_y = self._train_y[self._bank]
        for label in np.unique(top):
            rows = np.flatnonzero(top == label)
            ex = self._bank_X[bank_y == label]
            sims = _rows_dot(X[rows], ex).astype(np.float64) if len(ex) else None
            out[rows] = membership(proto[rows, label], sims)
        return out

    def _partial_confidence(
        self, X: Vectors, proto: FloatArray, top: IntArray, conf: FloatArray
    ) -> FloatArray:
        """Confidence when some labels have no examples.  The trained calibrator never saw
        an item of such a label: for items predicted as one, the zero-shot calibrator has
        the only informed view; for the others, that view (also capped by the input's
        membership of the top label) is mixed in by the squared share of example-less
        labels, whose items can look like labelled ones to the head."""
        z_top, z_feats = zero_shot_features(proto, ZERO_SHOT_TEMPERATURE)
        z_conf = self._calibrator_zs.predict(z_feats)
        zs_view = np.where(z_top == top, z_conf, np.minimum(conf, 1.0 - z_conf))
        w = self._beta**2
        mixed = (1.0 - w) * conf + w * np.minimum(zs_view, self._membership(X, proto, top))
        out: FloatArray = np.where(self._missing[top], zs_view, mixed)
        return out

    def _trained_outputs(self, X: Vectors) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
        """Probabilities, argmax, calibrator features and cosine to the label prompts."""
        logits = (_rows_dot(X, self._W) + self._b) / self._temperature
        proto = _rows_dot(X, self._label_vectors).astype(np.float64)
        P = self._blend(logits, proto)
        tops = np.zeros(X.shape[0], dtype=np.int64)
        feats = np.zeros((X.shape[0], len(TRAINED_FEATURES)))
        bank_X = self._bank_X
        bank_y = self._train_y[self._bank]
        for s in range(0, X.shape[0], _CHUNK):
            sl = slice(s, s + _CHUNK)
            sims = _rows_dot(X[sl], bank_X)
            tops[sl], feats[sl] = trained_features(
                P[sl], sims, bank_y, proto[sl], int(self.config["k"])
            )
        return P, tops, feats, proto

    def predict(self, X: Vectors, texts: Sequence[str] = ()) -> Prediction:
        """Label distribution, calibrated confidence and argmax for each row of ``X``."""
        if not self._fitted:
            raise NotFittedError("the engine has not been fitted")
        X = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, self._label_vectors.shape[1])
        if self.mode == "zero-shot":
            proto = _rows_dot(X, self._label_vectors).astype(np.float64)
            P = softmax_rows(proto / self._temperature)
            top, feats = zero_shot_features(proto, self._temperature)
            conf = self._calibrator.predict(feats)
        else:
            P, top, feats, proto = self._trained_outputs(X)
            conf = self._calibrator.predict(feats)
            if self._beta > 0.0:
                conf = self._partial_confidence(X, proto, top, conf)
        if self._label_vectors.shape[0] <= 2:
            # One label: confidence is P(the input belongs to it); two labels: the top
            # label cannot be more likely right than the input is to belong to it.
            conf = np.minimum(conf, self._membership(X, proto, top))
        conf = np.clip(conf, 0.0, 1.0)
        return Prediction(probs=P, confidence=conf.astype(np.float64), top=top)

    def neighbors(self, X: Vectors, k: int) -> tuple[IntArray, NDArray[np.float32]]:
        """Indices (into the rows given to :meth:`fit`) and cosine similarities of the
        ``k`` nearest labelled examples of each row of ``X``, most similar first."""
        if not self._fitted:
            raise NotFittedError("the engine has not been fitted")
        X = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, self._label_vectors.shape[1])
        m = self._train_X.shape[0]
        k = max(0, min(int(k), m))
        if k == 0:
            return np.zeros((X.shape[0], 0), dtype=np.int64), np.zeros((X.shape[0], 0), np.float32)
        sims = X @ self._train_X.T
        if k < m:
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            idx = np.tile(np.arange(m), (len(X), 1))
        near = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-near, axis=1, kind="stable")
        return (
            np.take_along_axis(idx, order, axis=1).astype(np.int64),
            np.take_along_axis(near, order, axis=1).astype(np.float32),
        )

    def report(self) -> dict[str, Any]:
        return dict(self._report)

    def routing_evidence(self) -> RoutingEvidence:
        """Held-out (confidence, correct) of in-scope items and confidences of simulated
        out-of-scope items, recorded at fit time, from which the service certifies an
        auto threshold (:func:`triaged.routing.certify_auto_threshold`).  Empty for
        zero-shot engines and for engines saved before evidence was recorded."""
        if not self._fitted:
            raise NotFittedError("the engine has not been fitted")
        return self._evidence

    # -------------------------------------------------------------- persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for ``np.savez``) and JSON-able metadata; no pickled objects."""
        if not self._fitted:
            raise NotFittedError("the engine has not been fitted")
        arrays: dict[str, np.ndarray] = {
            "label_vectors": self._label_vectors,
            "train_X": self._train_X,
            "train_y": self._train_y,
            "bank": self._bank,
            "W": self._W,
            "b": self._b,
            **self._calibrator.to_arrays("cal_"),
            **self._evidence.to_arrays("evidence_"),
        }
        meta: dict[str, Any] = {
            "state_version": STATE_VERSION,
            "mode": self.mode,
            "config": dict(self.config),
            "temperature": self._temperature,
            "report": self._report,
        }
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Engine:
        if int(meta.get("state_version", 0)) not in _READABLE_VERSIONS:
            raise InvalidInput(f"unsupported engine state version {meta.get('state_version')!r}")
        config = {k: v for k, v in meta["config"].items() if k not in _RETIRED_OPTIONS}
        eng = cls(**config)
        eng.mode = str(meta["mode"])
        eng._temperature = float(meta["temperature"])
        # Version 1 stored no evidence: empty, so the auto lane stays closed until retrained.
        eng._evidence = RoutingEvidence.from_arrays(arrays, "evidence_")
        eng._report = dict(meta.get("report") or {})
        eng._label_vectors = np.ascontiguousarray(arrays["label_vectors"], dtype=np.float32)
        eng._train_X = np.ascontiguousarray(arrays["train_X"], dtype=np.float32)
        eng._train_y = np.asarray(arrays["train_y"], dtype=np.int64)
        eng._bank = np.asarray(arrays["bank"], dtype=np.int64)
        eng._bank_X = np.ascontiguousarray(eng._train_X[eng._bank])
        eng._W = np.asarray(arrays["W"], dtype=np.float64)
        eng._b = np.asarray(arrays["b"], dtype=np.float64)
        eng._calibrator = CorrectnessCalibrator.from_arrays(arrays, "cal_")
        if eng.mode == "trained":
            eng._set_partial()
        eng._fitted = True
        return eng


def _rows_dot(X: NDArray[Any], M: NDArray[Any]) -> NDArray[Any]:
    """``X @ M.T``; for a few rows with single-threaded ``einsum`` loops, which avoid the
    multi-threaded BLAS start-up (milliseconds on a busy machine) on the single-text path."""
    if X.shape[0] <= 4:
        small: NDArray[Any] = np.einsum("ij,kj->ki", M, X)
        return small
    full: NDArray[Any] = X @ M.T
    return full


def _bank(y: IntArray, pool: IntArray, per_label: int, seed: int) -> IntArray:
    """At most ``per_label`` rows of ``pool`` per label (seeded sample), sorted.

    The similarity signals are computed against this bank instead of every example so
    that prediction cost stays small and independent of the training-set size."""
    if len(pool) == 0:
        return pool
    rng = np.random.default_rng(seed)
    yp = y[pool]
    keep = np.zeros(len(pool), dtype=bool)
    for label in np.unique(yp):
        idx = np.flatnonzero(yp == label)
        if len(idx) > per_label:
            idx = rng.choice(idx, per_label, replace=False)
        keep[idx] = True
    out: IntArray = pool[keep]
    return out


def _fold_ids(y: IntArray, folds: int, seed: int) -> IntArray:
    """Stratified fold assignment: each label's rows are shuffled and dealt round-robin.

    Uses at most as many folds as the largest label has examples (and at least 2)."""
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.bincount(y)
    k = int(max(2, min(folds, counts.max())))
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.int64)
    offset = 0
    for label in np.flatnonzero(counts):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        out[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return out
