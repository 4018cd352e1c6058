"""The taxonomy's own scale: how alike groups of one label's examples are.

Gap discovery uses it instead of fixed radii: two gap clusters as alike as two small groups
of one label are one category (:func:`merge_clusters`), and a cluster is *inside* a label
when its centroid is as close to the label's centre as random groups of the label's
examples of the same size are (:func:`inside_labels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "centroid",
    "centroids",
    "common_direction",
    "inside_by_scale",
    "inside_labels",
    "label_scale",
    "merge_clusters",
    "repeat_groups",
    "trim_to_core",
    "unit_rows",
    "unite_repeats",
]

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]


def unit_rows(X: NDArray[Any]) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    A = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    out: FloatArray = A / np.maximum(norms, 1e-12)
    return out


def centroid(rows: NDArray[Any]) -> FloatArray:
    """The direction of a group of rows: their mean, scaled to unit length."""
    row: FloatArray = unit_rows(np.asarray(rows).mean(axis=0, keepdims=True))[0]
    return row


def centroids(groups: Iterable[NDArray[Any]]) -> FloatArray:
    """:func:`centroid` of each group, stacked (one row per group)."""
    return unit_rows(np.stack([np.asarray(g).mean(axis=0) for g in groups]))


def label_scale(
    ref: FloatArray,
    ref_labels: list[str],
    seed: int,
    merge_quantile: float = 0.5,
    join_quantile: float | None = 0.25,
    half: int = 4,
) -> tuple[float, float] | None:
    """The taxonomy's own scale: how alike two small groups of one label are, and how close
    one example is to its label's centroid.

    Returns ``(merge_at, join_at)``: the ``merge_quantile`` of the cosine between the
    centroids of two disjoint groups of ``half`` examples of the same label, over labels
    (two gap clusters this alike are one category, however the density-based clustering
    cut them), and the ``join_quantile`` of the examples' cosine to their own label's
    centroid (a leftover candidate this close to a gap cluster's centroid belongs to it;
    2.0, never, when ``join_quantile`` is None).  None with too few labelled examples.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(ref_labels)
    pair_sims: list[float] = []
    own_sims: list[float] = []
    for label in np.unique(y):
        members = ref[y == label]
        if members.shape[0] < 2 * half:
            continue
        order = rng.permutation(members.shape[0])
        a = centroid(members[order[:half]])
        b = centroid(members[order[half : 2 * half]])
        pair_sims.append(float(a @ b))
        cen = centroid(members)
        own_sims.extend((members @ cen).tolist())
    if len(pair_sims) < 2:
        return None
    join_at = 2.0 if join_quantile is None else float(np.quantile(own_sims, join_quantile))
    return float(np.quantile(pair_sims, merge_quantile)), join_at


def merge_clusters(Z: FloatArray, labels: IntArray, merge_at: float, join_at: float) -> IntArray:
    """Merge clusters whose centroids are as alike as two groups of one label (single link
    on centroids, ``merge_at``), then let noise points join the nearest merged cluster when
    they are at least ``join_at`` similar to its centroid; clusters renumbered."""
    n_c = int(labels.max()) + 1 if labels.size else 0
    if n_c == 0:
        return labels
    cents = centroids(Z[labels == c] for c in range(n_c))
    parent = list(range(n_c))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sims = cents @ cents.T
    for i, j in zip(*np.nonzero(np.triu(sims, 1) >= merge_at), strict=True):
        parent[find(int(i))] = find(int(j))
    roots = sorted({find(c) for c in range(n_c)})
    renum = {r: k for k, r in enumerate(roots)}
    out = np.array([renum[find(int(c))] if c >= 0 else -1 for c in labels], dtype=np.int64)
    merged = centroids(Z[out == k] for k in range(len(roots)))
    noise = np.flatnonzero(out < 0)
    if noise.size:
        to = Z[noise] @ merged.T
        best = to.argmax(axis=1)
        ok = to[np.arange(noise.size), best] >= join_at
        out[noise[ok]] = best[ok]
    return out


def inside_by_scale(
    Z: FloatArray, labels: IntArray, label_cents: FloatArray, merge_at: float
) -> NDArray[np.bool_]:
    """Clusters as alike to an existing label's centroid as two groups of one label's
    examples (``merge_at``): inside that label."""
    n_clusters = int(labels.max()) + 1
    out = np.zeros(n_clusters, dtype=bool)
    if label_cents.shape[0]:
        for c in range(n_clusters):
            cen = centroid(Z[labels == c])
            out[c] = float((label_cents @ cen).max()) >= merge_at
    return out


def inside_labels(
    Z: FloatArray,
    labels: IntArray,
    ref: FloatArray,
    ref_labels: Sequence[str],
    quantile: float,
    seed: int,
    draws: int = 64,
) -> NDArray[np.bool_]:
    """For each cluster, whether it lies inside the label whose centroid it is most alike,
    compared at matched sizes.

    With ``s`` the cluster's size capped at half the label's examples, each draw splits the
    label's examples into a group ``a`` of ``s`` and the rest ``b``, and takes ``s`` of the
    cluster's members: the cosine between ``a``'s and ``b``'s centroids is the null (how
    alike a group of the label's own inputs is to the rest of it), the cosine between the
    members' centroid and ``b``'s the observation.  Inside: the median observation reaches
    the ``quantile`` of the null.

    The size matters: the centroid of a large group is a sharper estimate, so a large
    cluster must sit closer to a label's centre than a small group to be that label's
    traffic; and a label with few examples gives a blurred centre that the cluster is
    compared with at the same blur.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(ref_labels)
    names = np.unique(y)
    groups = [ref[y == lb] for lb in names]
    cents = centroids(groups)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    out = np.zeros(n_clusters, dtype=bool)
    for c in range(n_clusters):
        idx = np.flatnonzero(labels == c)
        cen = centroid(Z[idx])
        members = groups[int((cents @ cen).argmax())]
        m = members.shape[0]
        if m < 4:
            continue
        size = max(1, min(idx.size, m // 2))
        null = np.empty(draws)
        seen = np.empty(draws)
        for d in range(draws):
            order = rng.permutation(m)
            a = centroid(members[order[:size]])
            b = centroid(members[order[size:]])
            own = Z[rng.choice(idx, size, replace=False)]
            null[d] = float(a @ b)
            seen[d] = float(centroid(own) @ b)
        out[c] = float(np.median(seen)) >= float(np.quantile(null, quantile))
    return out


def trim_to_core(
    Z: FloatArray, labels: IntArray, min_size: int, mads: float
) -> tuple[IntArray, NDArray[np.float64], FloatArray]:
    """Drop members far below the median similarity to their centroid; renumber clusters."""
    out = np.full_like(labels, -1)
    cuts: list[float] = []
    cents: list[FloatArray] = []
    for c in range(int(labels.max()) + 1 if labels.size else 0):
        idx = np.flatnonzero(labels == c)
        if idx.size == 0:
            continue
        cen = centroid(Z[idx])
        sims = Z[idx] @ cen
        med = float(np.median(sims))
        mad = float(np.median(np.abs(sims - med))) * 1.4826
        cut = med - mads * mad
        keep = idx[sims >= cut - 1e-9]
        if keep.size < min_size:
            continue
        out[keep] = len(cuts)
        cuts.append(cut)
        cents.append(centroid(Z[keep]))
    stacked = np.stack(cents) if cents else np.zeros((0, Z.shape[1]), np.float32)
    return out, np.asarray(cuts, dtype=np.float64), stacked


def common_direction(V: FloatArray, R: FloatArray, reference_labels: Sequence[str]) -> FloatArray:
    """The common direction taken out of every vector: the mean of the labelled examples
    (sentence embeddings share a direction that hides differences).  With examples of one
    label only, that mean is the label's own centre: centred on it, the label has no
    direction left, half its examples point away from the other half and every cluster
    looked "inside" it (a one-label taxonomy never showed a gap); the examples and the
    candidates together give the mean then."""
    if R.shape[0] == 0:
        return np.asarray(V.mean(axis=0), dtype=np.float32)
    if len(set(reference_labels)) == 1:
        return np.asarray(np.concatenate([R, V]).mean(axis=0), dtype=np.float32)
    return np.asarray(R.mean(axis=0), dtype=np.float32)


def repeat_groups(Z: FloatArray, texts: Sequence[str] | None = None) -> list[IntArray]:
    """Group ids of identical rows of ``Z`` and, with ``texts``, of identical texts: the
    encoder's int8 vectors of one text differ with the batch it was embedded in (by up to
    0.02 a coordinate), so repeats are found by their text as well."""
    _, rows = np.unique(np.ascontiguousarray(Z), axis=0, return_inverse=True)
    groups = [np.asarray(rows, dtype=np.int64).reshape(-1)]
    if texts is not None:
        _, same = np.unique(np.asarray(list(texts), dtype=object), return_inverse=True)
        groups.append(np.asarray(same, dtype=np.int64).reshape(-1))
    return groups


def unite_repeats(labels: IntArray, groups: Sequence[IntArray]) -> IntArray:
    """Cluster labels where the members of each group (:func:`repeat_groups`: the same
    text again, or texts the encoder cannot tell apart: emoji-only texts all embed alike)
    share one label, the most common among them (noise included); clusters left empty are
    dropped and the rest renumbered.  HDBSCAN splits a run of identical points between
    leaves at random: 30 emoji-only inputs came back as three gap clusters of the same
    texts, a few left as noise."""
    if labels.size == 0 or labels.max() < 0:
        return labels
    out = labels.copy()
    for group in groups:
        for g in np.flatnonzero(np.bincount(group) > 1):
            members = np.flatnonzero(group == g)
            values, counts = np.unique(out[members], return_counts=True)
            out[members] = values[int(counts.argmax())]
    kept = np.unique(out[out >= 0])
    renum = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
    renum[kept] = np.arange(kept.size)
    return np.where(out >= 0, renum[np.maximum(out, 0)], -1).astype(np.int64)
