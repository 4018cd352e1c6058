"""Words a label's traffic uses and no example does: lexical evidence of a gap.

Embedding clusters miss a missing category whose inputs read like a sibling's: ATIS's
"which airline serves Denver" sits among the flight questions, "what ground
transportation is there in Boston" among the fares, and the model gives them the
sibling's label.  Their words give them away: with ``atis_airline`` removed, ``airline``
occurs in 16 of the inputs labelled ``atis_abbreviation`` and in 2 of its 100+ examples.

For each label, the candidates the model gave it are compared word by word with the
label's own examples and with all the taxonomy's examples.  A word in at least
``min_size`` of those candidates, at least ``min_fold`` times as frequent there as in the
label's examples, and over-represented against both (one-sided Fisher exact tests, the
larger p-value Bonferroni-corrected over every word and label tested, family-wise level
``alpha``) is a *term gap*.  Its group is every candidate with that word among the labels
where the word was significant; groups that share most of their inputs merge (``ground``
and ``transportation``).  The tests are exact and corrected for their number: nothing is
fitted to a dataset.  :func:`triaged.insights.gaps.find_gap_clusters` then treats a group
like a cluster (trimmed to its core, dropped when a known label vouches for it, as ATIS
airfare questions about a city no example names are).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from triaged.insights.config import InsightsConfig
from triaged.insights.keywords import stop_words
from triaged.insights.records import DecisionRecord
from triaged.insights.scale import trim_to_core
from triaged.insights.vouch import vouched_members

__all__ = ["TermGroup", "new_term_gaps", "term_groups", "words"]

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]

_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]", re.UNICODE)


def words(text: str) -> frozenset[str]:
    """The content words of ``text`` (lower case, no stop words, at least 3 letters)."""
    stop = stop_words()
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in stop)


@dataclass(frozen=True, slots=True)
class TermGroup:
    """Candidates that share a word their labels' examples do not use."""

    terms: tuple[str, ...]  # the word(s), most significant first
    labels: tuple[str, ...]  # the model's labels whose examples lack them
    members: NDArray[np.int64]  # indices into the candidates
    p_value: float  # the smallest corrected p-value among the terms


def _fisher_greater(
    k: NDArray[np.int64], n: int, k_ref: NDArray[np.int64], n_ref: NDArray[np.int64]
) -> NDArray[np.float64]:
    """One-sided Fisher exact p-values that a word is more frequent among ``n`` texts
    (``k`` with it) than among ``n_ref`` reference texts (``k_ref`` with it)."""
    from scipy.stats import hypergeom  # insights only: scipy.stats takes a second to import

    total = k + k_ref
    p: NDArray[np.float64] = hypergeom.sf(k - 1, n + n_ref, total, n)
    return p


def _doc_counts(texts: Sequence[frozenset[str]]) -> Counter[str]:
    """How many of ``texts`` hold each word."""
    return Counter(w for ws in texts for w in ws)


def term_groups(
    candidate_words: Sequence[frozenset[str]],
    candidate_labels: Sequence[str],
    example_words: Mapping[str, Sequence[frozenset[str]]],
    *,
    min_size: int,
    alpha: float,
    min_fold: float,
) -> list[TermGroup]:
    """Term gaps among the candidates (see the module docstring), largest group first.

    ``candidate_words`` / ``candidate_labels``: each candidate's words and the model's
    label; ``example_words``: the words of every labelled example, per label.
    """
    if not candidate_words or not any(example_words.values()):
        return []
    label_counts = {lb: (_doc_counts(t), len(t)) for lb, t in example_words.items() if t}
    all_counts = sum((c for c, _ in label_counts.values()), Counter[str]())
    n_all = sum(n for _, n in label_counts.values())
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(candidate_labels):
        by_label.setdefault(label, []).append(i)
    tests: list[tuple[str, str, float]] = []  # (label, word, p) of the words over min_fold
    n_tests = 0
    for label, idx in by_label.items():
        if len(idx) < min_size or label not in label_counts:
            continue
        counts = _doc_counts([candidate_words[i] for i in idx])
        terms = [w for w, c in counts.items() if c >= min_size]
        if not terms:
            continue
        # against the label's own examples (at least ``min_fold`` times as frequent) and
        # against all the taxonomy's examples: both tests must pass
        own_counts, n_own = label_counts[label]
        k = np.array([counts[w] for w in terms], dtype=np.int64)
        k_own = np.array([own_counts.get(w, 0) for w in terms], dtype=np.int64)
        k_all = np.array([all_counts.get(w, 0) for w in terms], dtype=np.int64)
        fold = (k / len(idx)) / ((k_own + 1) / (n_own + 1))
        p_own = _fisher_greater(k, len(idx), k_own, np.full(len(terms), n_own))
        p_all = _fisher_greater(k, len(idx), k_all, np.full(len(terms), n_all))
        worse = np.maximum(p_own, p_all)
        tests += [(label, w, float(worse[j])) for j, w in enumerate(terms) if fold[j] >= min_fold]
        n_tests += len(terms)
    hits: dict[str, tuple[float, set[str]]] = {}
    for label, w, p_raw in tests:
        corrected = p_raw * n_tests  # Bonferroni over every (label, word) tested
        if corrected <= alpha:
            best, labels = hits.get(w, (1.0, set()))
            hits[w] = (min(best, corrected), labels | {label})
    groups: list[tuple[list[str], set[str], set[int], float]] = []
    for w, (p_w, labels) in sorted(hits.items(), key=lambda kv: (kv[1][0], kv[0])):
        members = {i for lb in labels for i in by_label[lb] if w in candidate_words[i]}
        for g in groups:  # merge with a group sharing most of its inputs
            inter = len(g[2] & members)
            if inter * 2 >= min(len(g[2]), len(members)):
                g[0].append(w)
                g[1].update(labels)
                g[2].update(members)
                break
        else:
            groups.append(([w], set(labels), members, p_w))
    out = [
        TermGroup(tuple(ts), tuple(sorted(lbs)), np.array(sorted(mem), dtype=np.int64), p)
        for ts, lbs, mem, p in groups
    ]
    out.sort(key=lambda g: (-len(g.members), g.p_value))
    return out


def new_term_gaps(
    records: Sequence[DecisionRecord],
    labels: IntArray,
    kept: list[int],
    lexicon: tuple[Sequence[frozenset[str]], Mapping[str, Sequence[frozenset[str]]]],
    config: InsightsConfig,
    vouch: tuple[FloatArray, FloatArray, list[str]] | None = None,
) -> list[tuple[IntArray, tuple[str, ...]]]:
    """Term gaps (:func:`triaged.insights.terms.term_groups`) that no kept cluster already
    holds half of, largest first, within the report's cap.  ``lexicon``: each candidate's
    words (:func:`words`) and the words of every labelled example, per label."""
    found = term_groups(
        lexicon[0],
        [r.label for r in records],
        lexicon[1],
        min_size=config.min_report_size,
        alpha=config.term_alpha or 0.0,
        min_fold=config.term_min_fold,
    )
    out: list[tuple[IntArray, tuple[str, ...]]] = []
    room = config.max_gap_clusters - len(kept)
    in_cluster = np.isin(labels, kept)
    taken = in_cluster.copy()
    for group in found:
        held_by = labels[group.members]
        in_kept = held_by[in_cluster[group.members]]
        if in_kept.size and np.bincount(in_kept).max() * 2 >= group.members.size:
            continue  # already reported as (most of) a cluster
        new = group.members[~taken[group.members]]  # what no reported group holds yet
        if new.size < config.min_report_size:
            continue
        one = np.full(labels.shape[0], -1, dtype=np.int64)
        one[new] = 0
        if vouch is not None:  # trimmed to its core like a cluster
            one = trim_to_core(vouch[0], one, config.min_report_size, config.trim_mads)[0]
            new = np.flatnonzero(one == 0)
            if new.size == 0:
                continue
        if vouch is not None and config.vouch_share is not None:
            flags = vouched_members(
                vouch[0], new, records, vouch[1], vouch[2], config.vouch_confidence
            )
            if flags.mean() >= config.vouch_share:
                continue  # a known label's traffic that uses a new word (a new city)
            if config.shed_vouched and new.size - int(flags.sum()) >= config.min_report_size:
                new = new[~flags]  # as clusters shed them (gaps._shed_vouched)
        if len(out) >= room:
            break
        out.append((new, group.terms))
        taken[new] = True
    return out
