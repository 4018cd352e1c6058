"""What reviewers called a gap: one proposed name per category they named.

A reviewer who answers ``new_category`` names what is missing.  Two rules follow from the
README's promise that a gap card proposes "the reviewers' name when they gave one":

* a cluster takes the name most of its named votes gave (it took it only when those votes
  were a third of the whole cluster: 10 unanimous ``age_limit`` votes in 34 inputs lost
  to a keyword name);
* clusters whose votes give the same name are one category: they are merged into the
  first (clustering split ``passcode_forgotten`` into four cards, ``_2`` to ``_4``, each
  inviting a duplicate label).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from triaged.insights.keywords import snake_case
from triaged.insights.records import DecisionRecord

__all__ = ["merge_named", "name_votes", "reviewer_name"]

IntArray = NDArray[np.int64]


def name_votes(members: Sequence[DecisionRecord]) -> Counter[str]:
    """The names reviewers proposed for these inputs (``new_category`` answers), as labels."""
    return Counter(snake_case(r.new_label) for r in members if r.is_new_category and r.new_label)


def reviewer_name(votes: Counter[str]) -> str | None:
    """The name more than half of the named votes (:func:`name_votes`) gave, or None."""
    if not votes:
        return None
    name, n = votes.most_common(1)[0]
    return name if n * 2 > sum(votes.values()) else None


def merge_named(
    groups: list[IntArray],
    coverage: list[float],
    terms: list[tuple[str, ...]],
    records: Sequence[DecisionRecord],
) -> tuple[list[IntArray], list[float], list[tuple[str, ...]]]:
    """Groups (members' indices, in rank order) whose reviewers gave one name, merged into
    the first of them; coverage is the size-weighted mean, terms the union."""
    out: list[IntArray] = []
    cov: list[float] = []
    out_terms: list[tuple[str, ...]] = []
    first: dict[str, int] = {}
    for idx, c, t in zip(groups, coverage, terms, strict=True):
        name = reviewer_name(name_votes([records[int(i)] for i in idx]))
        j = first.get(name) if name is not None else None
        if j is None:
            if name is not None:
                first[name] = len(out)
            out.append(idx)
            cov.append(c)
            out_terms.append(t)
            continue
        n0, n1 = len(out[j]), len(idx)
        out[j] = np.union1d(out[j], idx).astype(np.int64)
        cov[j] = (cov[j] * n0 + c * n1) / (n0 + n1)
        out_terms[j] = tuple(dict.fromkeys(out_terms[j] + t))
    return out, cov, out_terms
