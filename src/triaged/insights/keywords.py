"""Distinctive keywords per group of texts (class-based TF-IDF) and label names from them.

c-TF-IDF treats all texts of one group as one document: a term scores high when it
is frequent inside the group and rare across the other groups, including the
background groups (the taxonomy's own labels), so a gap cluster's keywords say what
sets it apart from the categories that already exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np

from triaged.taxonomy_rules import MAX_LABEL_NAME

__all__ = ["class_tfidf_keywords", "fit_name", "propose_name", "snake_case"]

_TOKEN = r"(?u)\b[^\W\d_][\w'’-]*[^\W_]\b|\b[^\W\d_]\b"
# extra words that carry no topic in short requests to an assistant or a support desk
_EXTRA_WORDS = """please pls want wanna need like know tell let ok okay hey hi hello thanks thank
just really would could can will im i'm i’m do does did don't dont can't cant
id i'd ill i'll ive i've youre you're whats what's hows how's"""
_EXTRA_STOP = frozenset(_EXTRA_WORDS.split())


@cache
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words and the extra ones above (read when first needed:
    scikit-learn takes seconds to import, and only insights use it)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _EXTRA_STOP


def class_tfidf_keywords(
    groups: Sequence[Sequence[str]],
    *,
    background: Sequence[Sequence[str]] = (),
    top_n: int = 8,
    ngram_range: tuple[int, int] = (1, 2),
) -> list[list[tuple[str, float]]]:
    """Top ``top_n`` (term, score) pairs for each group in ``groups``.

    ``background`` groups take part in the IDF only (their keywords are not returned).
    The score is BERTopic's c-TF-IDF: ``tf(t, c) * log(1 + A / f(t))`` with ``tf`` the
    term's share of the group's tokens, ``A`` the mean tokens per group and ``f(t)``
    the term's frequency over all groups.
    """
    docs = [" ".join(g) for g in groups] + [" ".join(g) for g in background]
    if not groups:
        return []
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(
        ngram_range=ngram_range,
        lowercase=True,
        token_pattern=_TOKEN,
        stop_words=sorted(stop_words()),
    )
    try:
        counts = vec.fit_transform(docs).astype(np.float64).tocsr()
    except ValueError:  # empty vocabulary (only stop words)
        return [[] for _ in groups]
    terms = vec.get_feature_names_out()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    tf = counts.multiply(1.0 / np.maximum(totals, 1.0)[:, None]).tocsr()
    freq = np.asarray(counts.sum(axis=0)).ravel()
    avg = float(totals.mean()) if totals.size else 1.0
    idf = np.log1p(avg / np.maximum(freq, 1.0))
    out: list[list[tuple[str, float]]] = []
    for i in range(len(groups)):
        row = tf.getrow(i)
        idx, vals = row.indices, row.data * idf[row.indices]
        # a term must occur at least twice in a group to describe it (unless the group is tiny)
        raw = counts.getrow(i)
        support = dict(zip(raw.indices.tolist(), raw.data.tolist(), strict=True))
        order = np.argsort(-vals, kind="stable")
        picked: list[tuple[str, float]] = []
        for min_count in (2 if len(groups[i]) >= 4 else 1, 1):
            for j in order:
                term = str(terms[int(idx[j])])
                if support.get(int(idx[j]), 0) < min_count or _redundant(term):
                    continue
                if any(term == t for t, _ in picked):
                    continue
                picked.append((term, round(float(vals[j]), 6)))
                if len(picked) >= top_n:
                    break
            if len(picked) >= min(3, top_n):
                break
        out.append(picked)
    return out


def _redundant(term: str) -> bool:
    """A bigram that repeats one word (``"w2 w2"``, ``"time time"``) says nothing new."""
    words = term.split()
    return len(words) == 2 and (words[0] == words[1] or _same_stem(words[0], words[1]))


def _same_stem(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return long.startswith(short) and len(long) - len(short) <= 2


def snake_case(text: str) -> str:
    """``"Lost luggage!"`` -> ``"lost_luggage"``."""
    words = re.findall(r"[^\W_]+", text.lower().replace("'", "").replace("’", ""))
    return "_".join(words)


def fit_name(base: str, suffix: str = "") -> str:
    """``base`` + ``suffix``, ``base`` cut so the whole is a valid label name length
    (``MAX_LABEL_NAME``): a cluster of one very long word must still propose a name
    that the one-click action can create."""
    return base[: MAX_LABEL_NAME - len(suffix)] + suffix


def propose_name(
    keywords: Sequence[tuple[str, float]],
    texts: Sequence[str],
    *,
    taken: Iterable[str] = (),
    max_words: int = 3,
) -> str:
    """A snake_case label name from a cluster's keywords, unique among ``taken``.

    The best bigram wins when it scores at least half the best term (it reads as a
    phrase); otherwise the best unigram, joined by the next unigram that occurs in
    at least 40% of the cluster's texts.  Intents are requests: when a request verb
    (``cancel``, ``change``, ``order``...) comes right before that phrase in at least 30%
    of the texts, the name is verb + object (``change_pin``).  A name with the same words
    as a label in ``taken`` (an existing label, stems compared) takes the next keyword
    instead of a number where one is left.
    """
    taken_list = [t.lower() for t in taken]
    taken_set = set(taken_list)
    name = ""
    if keywords:
        best = keywords[0][1]
        bigrams = [(t, s) for t, s in keywords if " " in t]
        unigrams = [t for t, _ in keywords if " " not in t]
        if " " in keywords[0][0]:
            name = keywords[0][0]
        elif bigrams and bigrams[0][1] >= 0.5 * best and keywords[0][0] in bigrams[0][0].split():
            name = bigrams[0][0]
        else:
            name = keywords[0][0]
            lowered = [t.lower() for t in texts]
            for word in unigrams[1:3]:
                if word in name.split() or any(_same_stem(word, w) for w in name.split()):
                    continue
                share = sum(1 for t in lowered if re.search(rf"\b{re.escape(word)}\b", t))
                if lowered and share / len(lowered) >= 0.4:
                    name = _in_text_order(name, word, lowered)
                    break
    if name:
        name = _with_verb(name, texts, max_words)
        name = _distinct(name, keywords, taken_list, max_words)
    base = fit_name(snake_case(" ".join(name.split()[:max_words])) or "new_category")
    candidate, n = base, 2
    while candidate.lower() in taken_set:
        candidate = fit_name(base, f"_{n}")
        n += 1
    return candidate


#: Verbs that open requests to an assistant or a support desk (verb + object names).
_VERBS = """activate add apply block book buy cancel change check close delete dispute exchange
find freeze get increase lock make move open order pay play recover remove renew replace
report request reset schedule send set share show start stop top transfer turn unlock update
upgrade verify withdraw"""
REQUEST_VERBS = frozenset(_VERBS.split())
_FILLER = r"(?:(?:my|the|a|an|our|your|this|that|some|new|up)\s+){0,2}"


def _with_verb(name: str, texts: Sequence[str], max_words: int) -> str:
    """``verb name`` when a request verb comes right before the name's first word (two
    filler words allowed) in at least 30% of the texts."""
    words = name.split()
    if not texts or words[0] in REQUEST_VERBS or len(words) >= max_words:
        return name
    head = re.escape(words[0])
    counts: dict[str, int] = {}
    for t in texts:
        for verb in {
            m.group(1) for m in re.finditer(rf"\b([a-z]+)\s+{_FILLER}{head}\b", t.lower())
        }:
            if verb in REQUEST_VERBS:
                counts[verb] = counts.get(verb, 0) + 1
    if not counts:
        return name
    if len(words) > 1:  # only a phrase that reads as one: its words adjacent in the texts
        phrase = re.compile(r"\b" + r"\s+".join(map(re.escape, words)) + r"\b")
        if sum(1 for t in texts if phrase.search(t.lower())) / len(texts) < 0.3:
            return name
    verb, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return f"{verb} {name}" if n / len(texts) >= 0.3 else name


def _stems(name: str) -> frozenset[str]:
    return frozenset(w[:5] for w in re.split(r"[\s_]+", name.lower()) if w)


def _distinct(
    name: str, keywords: Sequence[tuple[str, float]], taken: Sequence[str], max_words: int
) -> str:
    """Add the best keyword not in the name when the name has the words of a taken one."""
    taken_stems = {_stems(t) for t in taken}
    if _stems(name) not in taken_stems:
        return name
    for term, _ in keywords:
        extra = [w for w in term.split() if _stems(w) - _stems(name)]
        if extra:
            longer = " ".join([*name.split(), extra[0]][-max_words:])
            if _stems(longer) not in taken_stems:
                return longer
    return name


def _in_text_order(first: str, second: str, texts: Sequence[str]) -> str:
    """Join two words in the order they usually appear in the texts."""
    before = after = 0
    for t in texts:
        i, j = t.find(first), t.find(second)
        if i >= 0 and j >= 0:
            if i < j:
                before += 1
            else:
                after += 1
    return f"{first} {second}" if before >= after else f"{second} {first}"
