"""The Engine: embeddings (and texts) in, label distribution and calibrated confidence out.

Two modes:

* ``zero-shot`` (no labelled examples): cosine similarity to the label prompt vectors,
  softmax at a fixed temperature, and a correctness calibrator whose constants were
  fitted once on public datasets (see :mod:`triaged.models.zeroshot`).  No routing
  evidence: the certified auto lane stays closed until the taxonomy has examples.
* ``trained``: standardised embeddings -> multinomial logistic regression.  Each label's
  prompt vector joins the training rows as one extra example, so labels without
  examples stay predictable and few-shot heads lean on the description.  A lexical
  channel (:mod:`triaged.models.lexical`: TF-IDF word and character n-grams, one-vs-rest
  linear SVM margins) is mixed in log-linearly: ``softmax(dense / T + c * lexical)``, with ``T``
  and ``c`` fitted on out-of-fold scores (NLL).  A logistic *correctness* calibrator
  maps (max prob, margin, similarity to the nearest labelled examples, kNN agreement,
  similarity to the label prompt, Mahalanobis distance to the predicted label
  (:mod:`triaged.models.distance`), where the held-out folds keep enough examples per
  label to measure it as the served model does) to P(argmax is right).

Calibration data, all held out:

* item folds: out-of-fold rows of every label (in-scope, right or wrong);
* label hold-out: ``round(1 / holdout_share)`` extra fits, each without a disjoint group
  of labels (prompt rows included); their items, scored by a model that never saw the
  label, are *simulated out-of-scope* inputs.  They enter the calibrator as negatives
  with a total weight of ``sim_oos_prior`` (of all calibrator weight), and real ``oos``
  examples with ``oos_weight`` each (together at most ``oos_max_prior`` of the weight).

The routing evidence (:meth:`Engine.routing_evidence`) is the in-scope rows' confidence
and correctness and the simulated (and real) out-of-scope rows' confidence, each
confidence from a calibrator fitted without the row's label group: the service certifies
its auto threshold from it (:func:`triaged.routing.certify_auto_threshold`).  Confidence
itself is not bent towards any threshold.  The global constants (``sim_oos_prior``,
``lexical_model``) are fitted leave-one-dataset-out by ``scripts/fit_engine_constants.py``,
and ``one_class_corner`` by ``scripts/fit_one_class_prior.py``.

Labels without examples (a partially labelled taxonomy) keep their zero-shot evidence:
the head's distribution is blended with the zero-shot one by the share of such labels,
and items predicted as one of them take the zero-shot calibrator's confidence.  With one
label, confidence is P(the input belongs to it) (:func:`triaged.models.zeroshot.membership`).
Two labels are calibrated like more (a membership cap fitted on intent data held nearly
every in-scope input of other domains); with no label to hold out, their out-of-scope
evidence is their ``out_of_scope`` examples (reviewed ones, marked by ``oos_evidence``, train
the calibrator only), and with no held-out error their confidence still orders inputs.

Persistence is arrays + JSON only (:meth:`Engine.to_state` / :meth:`Engine.from_state`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.calibration import expected_calibration_error
from triaged.encoders.base import Vectors
from triaged.errors import InvalidInput, NotFittedError
from triaged.models.blas_limit import one_blas_thread
from triaged.models.calibrator import ONE_CLASS_PRIOR, CorrectnessCalibrator
from triaged.models.conformal import DEFAULT_ALPHA, ConformalSets
from triaged.models.distance import MahalanobisDistance
from triaged.models.features import (
    COVERAGE_FEATURE,
    DISTANCE_FEATURE,
    TRAINED_FEATURES,
    softmax_rows,
    trained_features,
    zero_shot_features,
)
from triaged.models.fit_progress import FitSteps, ProgressFn
from triaged.models.lexical import LexicalModel, LexicalVocabulary
from triaged.models.rows import dequantize as _dequantize
from triaged.models.rows import quantize as _quantize
from triaged.models.rows import rows_dot as _rows_dot
from triaged.models.training import (
    CalibrationMix,
    Featurizer,
    FitData,
    bank_rows,
    distance_measurable,
    evidence_groups,
    fit_mix,
    held_out_jobs,
    held_out_parts,
    item_folds,
    routing_evidence,
    row_mask,
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
    # When every held-out row is right (calibrator.OneClassRule): weight of one pseudo-error
    # at their least sure corner, or with 0 the constant (right + a) / (n + 2a); both fitted
    # leave-one-dataset-out (scripts/fit_one_class_prior.py: five of six folds chose 1.0)
    "one_class_corner": 1.0,
    "one_class_prior": ONE_CLASS_PRIOR,
    "oos_weight": 8.0,  # sample weight of each out-of-scope example in the calibrator
    # ... but all of them together at most this share of the calibrator's weight (a safety
    # bound, not fitted: it binds only where out-of-scope examples outweigh labelled ones;
    # CLINC150's 100 beside 15,000, the only shared set with such examples, stay at 8 each)
    "oos_max_prior": 0.1,
    # Label hold-out: each of round(1 / share) extra fits leaves out a share of the labels;
    # their items, scored by a head that never saw the label, are simulated out-of-scope.
    "holdout_share": 0.25,
    # Total calibrator weight of the simulated out-of-scope items, as a share of all
    # calibrator weight (the prior of an unknown input in the calibrator's training mix).
    # Fitted leave-one-dataset-out (scripts/fit_engine_constants.py; every fold chose it).
    "sim_oos_prior": 0.02,
    "distance": True,  # class-conditional Mahalanobis distance as a calibrator signal
    "lexical": True,  # TF-IDF word + char n-gram channel, mixed in
    # its fit: "svm" (one-vs-rest linear SVM, C=1) or "cnb" (Complement NB, before 4 Dec)
    "lexical_model": "svm",
    # Size budget of the lexical channel: at most this many (term, label) weights
    # (float16: 9 MB), so the vocabulary is min(lexical_max_terms, budget / labels).
    "lexical_budget": 4_500_000,
    "lexical_max_terms": 100_000,
    # additive smoothing of the "cnb" lexical channel's counts
    "lexical_alpha": 1.0,
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
        self._lex_weight = 0.0  # weight of the lexical scores in the logits (0: no channel)
        self._vocab: LexicalVocabulary | None = None
        self._lexical: LexicalModel | None = None
        self._distance: MahalanobisDistance | None = None
        self._features: tuple[str, ...] = TRAINED_FEATURES
        self._evidence = RoutingEvidence.empty()
        self._conformal = ConformalSets.empty()  # prediction sets (issue 13)
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
        trusted: NDArray[np.bool_] | None = None,
        oos_evidence: NDArray[np.bool_] | None = None,
        threads: int = 1,
        on_progress: ProgressFn | None = None,
    ) -> Engine:
        """Fit on embeddings ``X`` with label indices ``y``; zero rows means zero-shot.

        ``trusted``: per row, whether a person gave its label (default: every row); the
        others are trained on but left out of the routing evidence.  ``oos_evidence``: per
        out-of-scope row, whether it is a fair example of unknown inputs (default: every
        row); the others train the calibrator but are left out of the routing evidence.
        ``threads``: held-out fits run at once (the same model whatever the number; see
        :func:`~triaged.models.training.held_out_parts`).  ``on_progress(done, total, stage)``
        after each :meth:`fit_steps` step (final fit, each held-out fit, calibration)."""
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
        self._trusted = row_mask(trusted, len(y), "trusted")
        oos = (
            np.zeros((0, dim), dtype=np.float32)
            if oos_X is None
            else np.asarray(oos_X, dtype=np.float32).reshape(-1, dim)
        )
        self._oos_evidence = row_mask(oos_evidence, oos.shape[0], "oos_evidence")
        self._label_vectors = V
        # Kept (for neighbours and the similarity bank) as stored: int8, 1/127 steps.
        self._train_X = _dequantize(_quantize(X))
        self._train_y = y
        self._bank = bank_rows(y, np.arange(len(y), dtype=np.int64), int(self.config["bank"]), 0)
        self._bank_X = np.ascontiguousarray(self._train_X[self._bank])
        steps = FitSteps(self.fit_steps(y, n_labels), on_progress)
        if X.shape[0] == 0 or n_labels < 2:
            self._fit_zero_shot()
            steps.step("zero-shot")
        else:
            with one_blas_thread():  # shared by overlapping trainings (see the module)
                self._fit_trained(
                    X, y, V, oos, (list(texts), list(oos_texts)), progress, threads, steps
                )
        self._fitted = True
        self._report["fit_seconds"] = round(time.perf_counter() - started, 3)
        self._report["n_examples"] = int(X.shape[0])
        self._report["n_out_of_scope"] = int(oos.shape[0])
        self._report["n_labels"] = int(n_labels)
        self._report["labels_without_examples"] = int(
            n_labels - len(np.unique(y)) if len(y) else n_labels
        )
        return self

    def fit_steps(self, y: NDArray[np.int64], n_labels: int) -> int:
        """Steps :meth:`fit` reports on labels ``y`` of ``n_labels`` (zero-shot: one)."""
        if len(y) == 0 or n_labels < 2:
            return 1
        return len(held_out_jobs(y, item_folds(y, self.config), n_labels, self.config)[0]) + 2

    def _fit_zero_shot(self) -> None:
        self.mode = "zero-shot"
        self._W = np.zeros((0, self._label_vectors.shape[1]))
        self._b = np.zeros(0)
        self._temperature = ZERO_SHOT_TEMPERATURE
        self._calibrator = zero_shot_calibrator()
        # No labelled data to hold out: no evidence, so the auto lane stays closed.
        self._evidence = RoutingEvidence.empty()
        self._conformal = ConformalSets.empty()  # nothing held out: no prediction sets
        self._report = {"mode": self.mode, "temperature": self._temperature}

    def _fit_vocabulary(self, texts: list[str], n_labels: int, ok: bool) -> tuple[Any, Any]:
        """The lexical channel's one vocabulary (unsupervised) for every fit, and the TF-IDF
        rows and n-gram shares of ``texts`` (None, None without the channel)."""
        cfg, self._vocab = self.config, None
        if not (bool(cfg["lexical"]) and ok and len(texts) == self._train_X.shape[0]):
            return None, None
        budget = int(cfg["lexical_budget"]) // max(n_labels, 1)  # terms per label
        vocab = LexicalVocabulary.fit(texts, min(int(cfg["lexical_max_terms"]), budget))
        if not len(vocab):
            return None, None
        self._vocab = vocab
        A, Cov, _ = vocab.transform_counts(texts)
        self._features += (COVERAGE_FEATURE,)
        return A, Cov

    def _fit_trained(
        self,
        X: Vectors,
        y: IntArray,
        V: Vectors,
        oos: Vectors,
        all_texts: tuple[list[str], list[str]],
        progress: bool,
        threads: int,
        steps: FitSteps,
    ) -> None:
        cfg, (n_labels, dim), (texts, oos_texts) = self.config, V.shape, all_texts
        self._set_partial()
        folds = item_folds(y, cfg)  # one deal: the distance check and the held-out fits
        use_distance = bool(cfg["distance"]) and distance_measurable(y, folds, dim)
        self._features = TRAINED_FEATURES + ((DISTANCE_FEATURE,) if use_distance else ())
        self._lexical = None
        A, Cov = self._fit_vocabulary(texts, n_labels, ok=len(oos_texts) in (0, len(oos)))
        data = FitData.prepare(X, y, V, cfg, A, Cov, use_distance)
        full, self._W, self._b = data.final_head()
        if A is not None:
            self._lexical = data.lexical()
        self._distance = MahalanobisDistance.fit(X, y, V) if use_distance else None
        steps.step("final fit")
        parts, sim_parts, groups, n_folds = held_out_parts(
            data, full, folds, progress, max(1, int(threads)), lambda _: steps.step("held-out fits")
        )
        rows_in = np.concatenate([p.rows for p in parts]) if parts else np.zeros(0, np.int64)
        D_in = np.vstack([p.dense for p in parts]) if parts else np.zeros((0, n_labels))
        S_in = np.vstack([p.lex for p in parts]) if parts else np.zeros((0, n_labels))
        inv_t, lex_w = fit_mix(D_in, S_in, y[rows_in], A is not None)
        self._temperature = T = 1.0 / inv_t
        self._lex_weight = lex_w
        proto = (X @ V.T).astype(np.float64)
        # Prediction sets: conformal scores of the out-of-fold rows, final mix applied.
        P_in = self._blend(np.nan_to_num(D_in / T + lex_w * S_in, neginf=-1e9), proto[rows_in])
        self._conformal = ConformalSets.fit(P_in, y[rows_in])

        feats = Featurizer(data, T, lex_w, proto, self._blend, len(self._features))
        tops, F_in = feats.stack(parts)
        correct_in = tops == y[rows_in]
        # Labels without examples cannot be held out; their share of traffic (assumed
        # uniform over labels) enters as "own label removed" copies of each item.
        missing = 1.0 - len(np.unique(y)) / n_labels
        F_pseudo = feats.stack(parts, drop_own=True)[1] if missing > 0 and parts else feats.none()
        F_oos = self._trained_outputs(oos, oos_texts)[2] if oos.shape[0] else feats.none()
        _, F_sim = feats.stack(sim_parts)
        mix = CalibrationMix.build(
            F_in, correct_in, F_sim, F_pseudo, F_oos, cfg, missing, self._features
        )
        self._calibrator = mix.fit(len(self._features))
        row_group = evidence_groups(groups, n_labels, y[rows_in], sim_parts, mix)
        conf_all = mix.cross_fitted(row_group, max(len(groups), 2), self._calibrator)
        conf_in, conf_oos = mix.split(conf_all)
        trusted = None if self._trusted is None else self._trusted[rows_in]
        sim_y = [y[p.rows] for p in sim_parts]
        self._evidence = routing_evidence(
            conf_in, correct_in, conf_oos, sim_y, trusted, self._oos_evidence
        )
        steps.step("calibration")
        self.mode, n_in = "trained", len(F_in)
        self._report = {
            "mode": self.mode,
            "temperature": T,
            "lexical_weight": lex_w,
            "lexical_terms": len(self._vocab) if self._vocab is not None else 0,
            "cv_folds": n_folds,
            "label_holdout_fits": len(sim_parts),
            "zero_shot_blend": self._beta,  # share of labels without examples
            "cv_accuracy": float(correct_in.mean()) if n_in else None,
            "cv_ece": (float(expected_calibration_error(conf_in, correct_in)) if n_in else None),
            "evidence": {"n_in": self._evidence.n_in, "n_oos": self._evidence.n_oos},
            "conformal_n": self._conformal.n,
            "calibrator": dict(zip(self._features, map(float, self._calibrator.coef), strict=True)),
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

    def _lexical_scores(self, texts: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        """Lexical scores ``(n, L)`` and vocabulary coverage ``(n,)`` of ``texts``."""
        if self._vocab is None or self._lexical is None:
            raise NotFittedError("no lexical channel")
        if len(texts) <= 4:  # one text: skip the sparse-matrix machinery
            return self._lexical.scores_for(self._vocab, texts)
        A, cover = self._vocab.transform(texts)
        return self._lexical.scores(A), cover

    def _trained_outputs(
        self, X: Vectors, texts: Sequence[str] = ()
    ) -> tuple[FloatArray, IntArray, FloatArray, FloatArray]:
        """Probabilities, argmax, calibrator features and cosine to the label prompts."""
        logits = (_rows_dot(X, self._W) + self._b) / self._temperature
        cover: FloatArray | None = None
        if self._lexical is not None:
            if len(texts) != X.shape[0]:
                raise InvalidInput("this model has a lexical channel: pass the texts too")
            lex, cover = self._lexical_scores(texts)
            if self._lex_weight > 0.0:
                logits = logits + self._lex_weight * lex
        proto = _rows_dot(X, self._label_vectors).astype(np.float64)
        P = self._blend(logits, proto)
        tops = np.zeros(X.shape[0], dtype=np.int64)
        feats = np.zeros((X.shape[0], len(self._features)))
        bank_X = self._bank_X
        bank_y = self._train_y[self._bank]
        for s in range(0, X.shape[0], _CHUNK):
            sl = slice(s, s + _CHUNK)
            sims = _rows_dot(X[sl], bank_X)
            top, F = trained_features(P[sl], sims, bank_y, proto[sl], int(self.config["k"]))
            if self._distance is not None and DISTANCE_FEATURE in self._features:
                F = np.column_stack([F, self._distance.to_labels(X[sl], top)])
            if cover is not None and COVERAGE_FEATURE in self._features:
                F = np.column_stack([F, cover[sl]])
            tops[sl], feats[sl] = top, F
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
            P, top, feats, proto = self._trained_outputs(X, texts)
            conf = self._calibrator.predict(feats)
            if self._beta > 0.0:
                conf = self._partial_confidence(X, proto, top, conf)
        if self._label_vectors.shape[0] == 1:
            # One label: the only question is whether the input belongs to it.
            conf = np.minimum(conf, self._membership(X, proto, top))
        conf = np.clip(conf, 0.0, 1.0)
        return Prediction(probs=P, confidence=conf.astype(np.float64), top=top)

    def example_vectors(self) -> Vectors:
        """The labelled examples' vectors, in the order given to :meth:`fit`, as stored
        (int8 steps of 1/127: cosine similarities within ~0.01 of the encoder's)."""
        out = self._train_X.view()
        out.flags.writeable = False
        return out

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

    def prediction_set_sizes(
        self, probs: FloatArray, alpha: float = DEFAULT_ALPHA
    ) -> IntArray | None:
        """Size of each row's split-conformal prediction set (its labels: the row's ``size``
        most probable) at miscoverage ``alpha``; ``None`` without held-out calibration
        (zero-shot engines, engines saved before sets existed).  See
        :mod:`triaged.models.conformal`."""
        return self._conformal.set_sizes(probs, alpha)

    # -------------------------------------------------------------- persistence
    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (for ``np.savez``) and JSON-able metadata; no pickled objects."""
        if not self._fitted:
            raise NotFittedError("the engine has not been fitted")
        arrays: dict[str, np.ndarray] = {
            "label_vectors": self._label_vectors,
            "train_X_i8": _quantize(self._train_X),
            "train_y": self._train_y,
            "bank": self._bank,
            "W": self._W,
            "b": self._b,
            **self._calibrator.to_arrays("cal_"),
            **self._evidence.to_arrays("evidence_"),
            **self._conformal.to_arrays("conformal_"),
        }
        if self._vocab is not None and self._lexical is not None:
            arrays.update(self._vocab.to_arrays("lex_"))
            arrays.update(self._lexical.to_arrays("lex_"))
        if self._distance is not None:
            arrays.update(self._distance.to_arrays("dist_"))

        meta: dict[str, Any] = {
            "state_version": STATE_VERSION,
            "mode": self.mode,
            "config": dict(self.config),
            "temperature": self._temperature,
            "lexical_weight": self._lex_weight,
            "features": list(self._features),
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
        # Saved before prediction sets: no scores, so no sets (never an uncalibrated one).
        eng._conformal = ConformalSets.from_arrays(arrays, "conformal_")
        eng._features = tuple(meta.get("features", TRAINED_FEATURES))
        eng._lex_weight = float(meta.get("lexical_weight", 0.0))
        if "lex_idf" in arrays:
            eng._vocab = LexicalVocabulary.from_arrays(arrays, "lex_")
            eng._lexical = LexicalModel.from_arrays(arrays, "lex_")
        if "dist_whiten" in arrays:
            eng._distance = MahalanobisDistance.from_arrays(arrays, "dist_")
        eng._report = dict(meta.get("report") or {})
        eng._label_vectors = np.ascontiguousarray(arrays["label_vectors"], dtype=np.float32)
        if "train_X_i8" in arrays:
            eng._train_X = _dequantize(np.asarray(arrays["train_X_i8"], dtype=np.int8))
        else:  # state version 1: float32
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
