"""The pieces of :meth:`triaged.models.engine.Engine.fit` for a trained head.

:class:`FitData` holds what every fit shares (standardised embeddings, prompt rows and their
weights, the lexical counts) and fits one logistic head and its held-out scores
(:class:`Part`); :func:`held_out_parts` makes the item folds and the label hold-out fits;
:class:`Featurizer` turns held-out scores into calibrator features; :class:`CalibrationMix`
weighs in-scope, simulated and real out-of-scope rows, fits the calibrator and the
cross-fitted confidences the routing evidence is made of.  See the engine's docstring.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from triaged.calibration import TemperatureScaler
from triaged.encoders.base import Vectors
from triaged.errors import InvalidInput
from triaged.models.calibrator import CorrectnessCalibrator, OneClassRule
from triaged.models.distance import MahalanobisDistance, within_label_dof
from triaged.models.features import FEATURE_SENSES, trained_features
from triaged.models.lexical import LexicalModel
from triaged.routing import RoutingEvidence

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

__all__ = [
    "CalibrationMix",
    "Featurizer",
    "FitData",
    "Part",
    "bank_rows",
    "distance_measurable",
    "evidence_groups",
    "fit_mix",
    "fold_ids",
    "fold_spread_dof",
    "held_out_jobs",
    "held_out_parts",
    "item_folds",
    "label_groups",
    "routing_evidence",
    "row_mask",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(slots=True)
class Part:
    """Held-out scores of training rows ``rows`` by a model fitted on rows ``train``."""

    rows: IntArray
    dense: FloatArray  # (len(rows), L) logits of the dense head (-inf: label held out)
    lex: FloatArray  # (len(rows), L) lexical scores (zeros without the channel)
    train: IntArray
    distance: MahalanobisDistance | None
    cover: FloatArray  # (len(rows),) lexical coverage by the fit's training n-grams


@dataclass(slots=True)
class FitData:
    """What every fit of one training run shares."""

    cfg: dict[str, Any]
    X: Vectors
    y: IntArray
    V: Vectors
    Z: NDArray[np.float32]  # standardised embeddings
    Zv: NDArray[np.float32]  # standardised label prompt vectors
    mean: FloatArray
    scale: FloatArray
    pw: FloatArray  # sample weight of each label's prompt row
    A: Any  # lexical TF-IDF rows (None without the channel)
    Cov: Any  # in-vocabulary n-gram shares (None without the channel)
    use_distance: bool

    @classmethod
    def prepare(
        cls,
        X: Vectors,
        y: IntArray,
        V: Vectors,
        cfg: dict[str, Any],
        A: Any,
        Cov: Any,
        use_distance: bool,
    ) -> FitData:
        n_labels = V.shape[0]
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
        return cls(cfg, X, y, V, Z, Zv, mean, scale, pw, A, Cov, use_distance)

    @property
    def n_labels(self) -> int:
        return int(self.V.shape[0])

    def lexical(
        self, train: IntArray | None = None, labels: IntArray | None = None
    ) -> LexicalModel:
        """The lexical channel fitted on rows ``train`` (all when None) over ``labels``.  A
        fold's SVM gets C scaled by all rows / its rows, so its margins have the final
        channel's scale (the hinge losses are summed)."""
        if self.A is None:
            raise ValueError("the lexical channel is off (no TF-IDF rows)")
        A, y = (self.A, self.y) if train is None else (self.A[train], self.y[train])
        return LexicalModel.fit(
            A,
            y,
            self.n_labels,
            labels=labels,
            alpha=float(self.cfg["lexical_alpha"]),
            method=str(self.cfg["lexical_model"]),
            C=len(self.y) / max(len(y), 1),
        )

    def head(
        self, idx: IntArray, warm: LogisticRegression | None, tol: float, labels: IntArray
    ) -> tuple[LogisticRegression, FloatArray, FloatArray]:
        """Logistic head on rows ``idx`` and the prompt rows of ``labels``; weights over all
        labels (the others get an intercept of -inf)."""
        from sklearn.linear_model import LogisticRegression  # fitting only (triaged.models)

        cfg, n_labels = self.cfg, self.n_labels
        if warm is None:
            model = LogisticRegression(C=float(cfg["C"]), max_iter=int(cfg["max_iter"]), tol=tol)
        elif len(labels) == n_labels:
            model = copy.deepcopy(warm)
            model.set_params(warm_start=True, tol=tol)
        else:
            model = LogisticRegression(
                C=float(cfg["C"]), max_iter=int(cfg["max_iter"]), tol=tol, warm_start=True
            )
            if len(labels) > 2 and warm.coef_.shape[0] == n_labels:
                model.coef_ = warm.coef_[labels].copy()
                model.intercept_ = warm.intercept_[labels].copy()
        model.fit(
            np.vstack([self.Z[idx], self.Zv[labels]]),
            np.concatenate([self.y[idx], labels]),
            sample_weight=np.concatenate([np.ones(len(idx)), self.pw[labels]]),
        )
        # Every kept label has its prompt row, so classes_ == labels (sorted).
        coef = model.coef_.astype(np.float64)
        icpt = model.intercept_.astype(np.float64)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row for class 1
            coef = np.vstack([np.zeros_like(coef), coef])
            icpt = np.concatenate([[0.0], icpt])
        W = np.zeros((n_labels, self.Z.shape[1]))
        b = np.full(n_labels, -np.inf)
        W[labels] = coef / self.scale
        b[labels] = icpt - W[labels] @ self.mean
        return model, W, b

    def final_head(self) -> tuple[LogisticRegression, FloatArray, FloatArray]:
        """The head on every row and every label (the served one)."""
        everything = np.arange(self.X.shape[0], dtype=np.int64)
        labels = np.arange(self.n_labels, dtype=np.int64)
        return self.head(everything, None, float(self.cfg["tol"]), labels)

    def part(self, rows: IntArray, train: IntArray, labels: IntArray, warm: Any) -> Part:
        """Rows ``rows`` scored by a head, lexical model and distance fitted on ``train``
        over ``labels``."""
        X, y, n_labels = self.X, self.y, self.n_labels
        _, W, b = self.head(train, warm, float(self.cfg["cv_tol"]), labels)
        lex = np.zeros((len(rows), n_labels))
        if self.A is not None:
            lex = self.lexical(train, labels).scores(self.A[rows])
        dist = MahalanobisDistance.fit(X[train], y[train], self.V) if self.use_distance else None
        cover = np.ones(len(rows))
        if self.Cov is not None:
            # coverage by the n-grams this fit's training rows contain
            seen = (np.asarray(self.Cov[train].sum(axis=0)).ravel() > 0).astype(np.float32)
            cover = np.asarray(self.Cov[rows] @ seen, dtype=np.float64).ravel()
        return Part(rows, X[rows] @ W.T + b, lex, train, dist, cover)


#: one held-out fit: its name, the rows it scores, the rows and labels it is fitted on
HeldOutJob = tuple[str, IntArray, IntArray, IntArray]


def held_out_jobs(
    y: IntArray, folds: IntArray, n_labels: int, cfg: dict[str, Any]
) -> tuple[list[HeldOutJob], list[IntArray]]:
    """The held-out fits of a fit on labels ``y`` (item folds, then label hold-outs) and
    the label groups; ``folds``: each row's item fold (:func:`item_folds`)."""
    lab = np.arange(n_labels, dtype=np.int64)
    n_folds = int(folds.max()) + 1 if len(y) else 0
    jobs: list[HeldOutJob] = []
    for f in range(n_folds):
        held = np.flatnonzero(folds == f)
        kept = np.flatnonzero(folds != f)
        if len(held) and len(kept):
            jobs.append((f"fold {f + 1}/{n_folds}", held, kept, lab))
    groups = label_groups(y, float(cfg["holdout_share"]), int(cfg["seed"]))
    for g, group in enumerate(groups):
        out = np.isin(y, group)
        keep_labels = lab[~np.isin(lab, group)]
        jobs.append(
            (f"label hold-out {g + 1}", np.flatnonzero(out), np.flatnonzero(~out), keep_labels)
        )
    return jobs, groups


def held_out_parts(
    data: FitData,
    full: LogisticRegression,
    folds: IntArray,
    progress: bool,
    threads: int = 1,
    on_fit: Callable[[str], None] | None = None,
) -> tuple[list[Part], list[Part], list[IntArray], int]:
    """Out-of-fold parts (item folds), label hold-out parts (items of held-out labels scored
    by heads that never saw them), the label groups and the number of folds; ``folds``: each
    row's item fold (:func:`item_folds`); ``on_fit``: called with each fit's name once it
    is done (from the thread that ran it).

    The fits are independent (each starts from the final head ``full``), so ``threads`` > 1
    runs that many at once: the lexical SVM (most of a large fit) and the BLAS calls release
    the GIL.  Each fit computes what it would alone, so the parts are the same, bit for bit,
    whatever ``threads`` is; only memory grows (each fit holds its own slices of the data)."""
    jobs, groups = held_out_jobs(data.y, folds, data.n_labels, data.cfg)
    n_folds = int(folds.max()) + 1 if len(data.y) else 0

    def run(job: HeldOutJob) -> Part:
        name, rows, train, labels = job
        part = data.part(rows, train, labels, full)
        if progress:
            print(name, file=sys.stderr, flush=True)  # not the output
        if on_fit is not None:
            on_fit(name)
        return part

    # each fit computes what it computes alone (lexical SVMs take turns on liblinear's one
    # random generator: ``solver_turns``), so threads leave the model as it is
    workers = max(1, min(int(threads), len(jobs)))
    if workers == 1:
        done = [run(job) for job in jobs]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="triaged-fit") as pool:
            done = list(pool.map(run, jobs))
    n_item = len(jobs) - len(groups)
    return done[:n_item], done[n_item:], groups, n_folds


def fit_threads(requested: int = 0) -> int:
    """Held-out fits run at once: ``requested``, or with 0 half this machine's cores (at
    least 1, at most 8: each fit holds its own slices of the data)."""
    if requested > 0:
        return int(requested)
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@dataclass(slots=True)
class Featurizer:
    """Calibrator features of held-out parts, with the fitted mix applied."""

    data: FitData
    T: float
    lex_w: float
    proto: FloatArray  # cosine of every training row to every label prompt
    blend: Callable[[FloatArray, FloatArray], FloatArray]
    n_features: int

    def none(self) -> FloatArray:
        return np.zeros((0, self.n_features))

    def features(self, p: Part, drop_own: bool = False) -> tuple[IntArray, FloatArray]:
        X, y = self.data.X, self.data.y
        z = p.dense / self.T + self.lex_w * p.lex
        rows = p.rows
        own = y[rows]
        if drop_own:
            z = z.copy()
            z[np.arange(len(rows)), own] = -np.inf
        P = self.blend(z, self.proto[rows])
        if drop_own:
            P[np.arange(len(rows)), own] = 0.0
            P /= P.sum(axis=1, keepdims=True)
        bank = bank_rows(y, p.train, int(self.data.cfg["bank"]), len(rows))
        sims = X[rows] @ X[bank].T
        if drop_own:
            sims = np.where(y[bank][None, :] == own[:, None], np.float32(-1.0), sims)
        top, F = trained_features(P, sims, y[bank], self.proto[rows], int(self.data.cfg["k"]))
        if p.distance is not None:
            F = np.column_stack([F, p.distance.to_labels(X[rows], top)])
        if self.data.Cov is not None:
            F = np.column_stack([F, p.cover])
        return top, F

    def stack(self, parts: list[Part], drop_own: bool = False) -> tuple[IntArray, FloatArray]:
        """Top labels and features of every part's rows, in order."""
        if not parts:
            return np.zeros(0, np.int64), self.none()
        done = [self.features(p, drop_own) for p in parts]
        return np.concatenate([t for t, _ in done]), np.vstack([f for _, f in done])


@dataclass(slots=True)
class CalibrationMix:
    """The calibrator's rows: in-scope (right or wrong), simulated out-of-scope, "own label
    removed" copies and real out-of-scope examples, with their weights."""

    F: FloatArray
    correct: NDArray[np.bool_]
    weights: FloatArray
    n_in: int
    n_sim: int
    n_pseudo: int
    n_oos: int
    C: float
    one_class: OneClassRule

    @classmethod
    def build(
        cls,
        F_in: FloatArray,
        correct_in: NDArray[np.bool_],
        F_sim: FloatArray,
        F_pseudo: FloatArray,
        F_oos: FloatArray,
        cfg: dict[str, Any],
        missing: float,
        features: tuple[str, ...],
    ) -> CalibrationMix:
        n_in = len(F_in)
        prior = float(cfg["sim_oos_prior"])
        w_sim = (prior / (1.0 - prior) * n_in / len(F_sim)) if len(F_sim) and prior > 0 else 0.0
        w_pseudo = min(missing / max(1.0 - missing, 1e-3), 20.0)
        # real out-of-scope examples: oos_weight each, but together never more than
        # oos_max_prior of the mix (many reviewed out_of_scope items beside few labelled
        # ones would otherwise teach the calibrator that most inputs are wrong)
        cap = float(cfg["oos_max_prior"])
        w_oos = float(cfg["oos_weight"])
        if len(F_oos) and n_in:
            w_oos = min(w_oos, cap / (1.0 - cap) * n_in / len(F_oos))
        F = np.vstack([F_in, F_sim, F_pseudo, F_oos])
        correct = np.concatenate([correct_in, np.zeros(len(F) - n_in, dtype=bool)])
        weights = np.concatenate(
            [
                np.ones(n_in),
                np.full(len(F_sim), w_sim),
                np.full(len(F_pseudo), w_pseudo),
                np.full(len(F_oos), w_oos),
            ]
        )
        return cls(
            F,
            correct,
            weights,
            n_in,
            len(F_sim),
            len(F_pseudo),
            len(F_oos),
            float(cfg["calibrator_C"]),
            OneClassRule(
                float(cfg["one_class_prior"]),
                float(cfg["one_class_corner"]),
                tuple(FEATURE_SENSES[name] for name in features),
            ),
        )

    def fit(self, n_features: int) -> CorrectnessCalibrator:
        """The served calibrator (a constant 0.5 without in-scope rows)."""
        rows = self.weights > 0
        if not self.n_in:
            return CorrectnessCalibrator.constant(n_features, 0.5)
        return CorrectnessCalibrator.fit(
            self.F[rows],
            self.correct[rows],
            sample_weight=self.weights[rows],
            C=self.C,
            one_class=self.one_class,
        )

    def cross_fitted(
        self, row_group: IntArray, n_groups: int, fallback: CorrectnessCalibrator
    ) -> FloatArray:
        """Each row's confidence from a calibrator fitted without the rows of its group, so
        that the routing evidence is held out at every stage."""
        fit_rows = self.weights > 0
        conf_all = np.zeros(len(self.F))
        for g in range(n_groups):
            out = row_group == g
            if not out.any():
                continue
            train = fit_rows & ~out
            cal = (
                CorrectnessCalibrator.fit(
                    self.F[train],
                    self.correct[train],
                    sample_weight=self.weights[train],
                    C=self.C,
                    one_class=self.one_class,
                )
                if self.n_in and train.any()
                else fallback
            )
            conf_all[out] = cal.predict(self.F[out])
        return conf_all

    def split(self, conf_all: FloatArray) -> tuple[FloatArray, FloatArray]:
        """In-scope confidences, and those of simulated + real out-of-scope rows."""
        n_in, end_sim = self.n_in, self.n_in + self.n_sim
        oos = np.concatenate([conf_all[n_in:end_sim], conf_all[len(self.F) - self.n_oos :]])
        return conf_all[:n_in], oos


def evidence_groups(
    groups: list[IntArray],
    n_labels: int,
    y_in: IntArray,
    sim_parts: list[Part],
    mix: CalibrationMix,
) -> IntArray:
    """The cross-fitting group of every calibrator row: an in-scope (or "own label removed")
    row's label group, a simulated row's held-out group, real out-of-scope rows dealt
    round-robin."""
    n_groups = max(len(groups), 2)
    label_group = np.zeros(n_labels, dtype=np.int64)
    if groups:
        for g, members in enumerate(groups):
            label_group[members] = g
    else:
        label_group = np.arange(n_labels, dtype=np.int64) % n_groups
    return np.concatenate(
        [
            label_group[y_in],
            np.concatenate([np.full(len(p.rows), g) for g, p in enumerate(sim_parts)])
            if sim_parts
            else np.zeros(0, np.int64),
            np.tile(label_group[y_in], 1)[: mix.n_pseudo],
            np.arange(mix.n_oos) % n_groups,
        ]
    ).astype(np.int64)


def bank_rows(y: IntArray, pool: IntArray, per_label: int, seed: int) -> IntArray:
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


def label_groups(y: IntArray, share: float, seed: int) -> list[IntArray]:
    """Disjoint groups of the labels that have examples, each about ``share`` of them, that
    together cover every label: each label is held out of exactly one extra fit.  None when
    fewer than three labels have examples (a head needs two labels left)."""
    present = np.unique(y)
    if share <= 0.0 or len(present) < 3:
        return []
    n_groups = int(min(len(present), max(2, round(1.0 / share))))
    rng = np.random.default_rng(seed + 7919)
    order = rng.permutation(present)
    groups = [np.sort(order[g::n_groups]).astype(np.int64) for g in range(n_groups)]
    return [g for g in groups if len(present) - len(g) >= 2]


def fit_mix(dense: FloatArray, lex: FloatArray, y: IntArray, use_lex: bool) -> tuple[float, float]:
    """Weights ``(a, c)`` of ``softmax(a * dense + c * lex)`` minimising the negative
    log-likelihood of ``y`` (``a`` is the inverse temperature; ``c = 0`` without a
    lexical channel).  Fitted on out-of-fold scores only."""
    if len(y) == 0:
        return 1.0, 0.0
    rows = np.arange(len(y))
    if not use_lex:
        return 1.0 / TemperatureScaler().fit(dense, y).temperature_, 0.0
    dense = np.where(np.isfinite(dense), dense, -1e9)

    def nll(params: FloatArray) -> float:
        z = params[0] * dense + params[1] * lex
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[rows, y]))

    from scipy.optimize import minimize  # fitting only (see triaged.models)

    best = minimize(nll, np.array([1.0, 0.1]), method="L-BFGS-B", bounds=[(1e-3, 1e3), (0, 1e3)])
    return float(best.x[0]), float(best.x[1])


def item_folds(y: IntArray, cfg: dict[str, Any]) -> IntArray:
    """The item folds of a fit on labels ``y`` (:func:`fold_ids` with the configured count)."""
    n_splits = int(cfg["folds"]) if len(y) >= int(cfg["small_n"]) else int(cfg["small_folds"])
    return fold_ids(y, n_splits, int(cfg["seed"]))


def distance_measurable(y: IntArray, folds: IntArray, dim: int) -> bool:
    """Whether the held-out folds can measure the labels' spread as the served fit does: at
    least as many within-label degrees of freedom in every fold as the embedding has
    dimensions.  With fewer, a fold's shrunk covariance is another yardstick than the served
    one's, and its held-out rows teach the calibrator a distance scale new inputs do not
    have (at two to five examples per label that cost up to 0.4 of ECE, and the distance
    added nothing to out-of-scope detection there)."""
    return fold_spread_dof(y, folds) >= dim


def fold_spread_dof(y: IntArray, folds: IntArray) -> int:
    """The fewest within-label degrees of freedom any item fold's training rows keep
    (:func:`triaged.models.distance.within_label_dof`): what a fold has to measure the
    labels' spread by.  0 without folds."""
    n_folds = int(folds.max()) + 1 if len(folds) else 0
    dofs = [within_label_dof(np.bincount(y[folds != f])) for f in range(n_folds)]
    return min(dofs) if dofs else 0


def fold_ids(y: IntArray, folds: int, seed: int) -> IntArray:
    """Stratified fold assignment: each label's rows are shuffled and dealt round-robin.

    Uses at most as many folds as the largest label has examples (and at least 2).  A
    label's only example is in no fold (-1: kept in every fold's training): held out, it
    would be an input of a label its fold never saw, not an in-scope row."""
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
        # a single example still moves the deal on: the other labels' folds stay the same
        out[idx] = (np.arange(len(idx)) + offset) % k if len(idx) > 1 else -1
        offset += len(idx)
    return out


def row_mask(mask: NDArray[np.bool_] | None, n: int, name: str) -> NDArray[np.bool_] | None:
    """``mask`` as a boolean vector of ``n`` rows (None: every row)."""
    if mask is None:
        return None
    out = np.asarray(mask, dtype=bool).ravel()
    if out.shape != (n,):
        raise InvalidInput(f"{name} has {out.size} rows but there are {n}")
    return out


def routing_evidence(
    conf_in: FloatArray,
    correct_in: NDArray[np.bool_],
    conf_oos: FloatArray,
    sim_labels: list[IntArray],
    trusted: NDArray[np.bool_] | None,
    real_kept: NDArray[np.bool_] | None,
) -> RoutingEvidence:
    """The held-out evidence of the auto lane: the in-scope rows whose label a person gave
    (``trusted``; None: all), and the simulated and real out-of-scope rows (the real ones
    last), clustered by the held-out label they belong to (each real out-of-scope example
    its own cluster); ``real_kept``: the real rows fit to stand for unknown inputs (None:
    all)."""
    n_sim = sum(len(s) for s in sim_labels)
    n_real = conf_oos.size - n_sim
    clusters = np.concatenate([*sim_labels, -1 - np.arange(n_real, dtype=np.int64)])
    keep = np.ones(conf_oos.size, dtype=bool)
    if real_kept is not None and n_real:
        keep[n_sim:] = real_kept
    in_keep = slice(None) if trusted is None else trusted
    return RoutingEvidence(conf_in[in_keep], correct_in[in_keep], conf_oos[keep], clusters[keep])
