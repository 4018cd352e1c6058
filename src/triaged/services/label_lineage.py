"""What a label of an older taxonomy version is called now.

A version records the renames it was asked for (a label given with ``renamed_from``, or
``POST .../labels/{label}/rename``): such a label *continues as* its new name.  Otherwise a
PATCH sends the whole label list, and a label whose name changed is one label gone and
another new; between two consecutive versions a label that is gone continues as the label
of the next version that holds at least half of its examples (a rename keeps its examples;
a merge moves them into a kept label), or, when it had no examples, as the only new label
with its (non-empty) description.  A label gone without such a successor was removed: its
decisions keep its name.

The decision log keeps the label each decision got under its taxonomy version; insights
read them under the current names (:func:`current_names`), so the traffic of a renamed
label is its own traffic, not a gap, and its health is one entry.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from triaged.services.ids import as_utc
from triaged.storage import taxonomy_repo
from triaged.taxonomy import Label


class _Labelled(Protocol):
    """A taxonomy version as lineage reads it (a :class:`~triaged.taxonomy.Taxonomy`, or a
    stored version read without validation)."""

    @property
    def labels(self) -> Sequence[Label]: ...

    @property
    def label_names(self) -> list[str]: ...


__all__ = [
    "Lineage",
    "current_label_names",
    "current_names",
    "lineage",
    "now_called",
    "successors",
    "version_at",
]


def successors(
    before: _Labelled, after: _Labelled, renames: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{gone label: the label of after it continues as}`` (see the module docstring);
    ``renames``: those ``after`` recorded."""
    kept = set(after.label_names)
    holder = {text: lb.name for lb in after.labels for text in lb.examples}
    new = [lb for lb in after.labels if lb.name not in set(before.label_names)]
    out: dict[str, str] = {}
    for label in before.labels:
        if label.name in kept:
            continue
        if renames and renames.get(label.name) in kept:
            out[label.name] = renames[label.name]
            continue
        if label.examples:
            votes = Counter(holder[t] for t in set(label.examples) if t in holder)
            if votes:
                name, n = votes.most_common(1)[0]
                if 2 * n >= len(set(label.examples)):
                    out[label.name] = name
            continue
        described = label.description.strip()
        same = [lb.name for lb in new if described and lb.description.strip() == described]
        if len(same) == 1:
            out[label.name] = same[0]
    return out


@dataclass(frozen=True, slots=True)
class _Version:
    """A stored taxonomy version's labels, read without the validation a
    :class:`~triaged.taxonomy.Taxonomy` does on every example (it was valid when stored;
    validating 15,000 examples takes 0.7 s, and a history holds one copy per version)."""

    version: int
    labels: tuple[Label, ...]

    @property
    def label_names(self) -> list[str]:
        return [lb.name for lb in self.labels]


def _read_version(definition: Mapping[str, Any], version: int) -> _Version:
    """The labels of a stored definition (as ``Taxonomy.to_dict`` writes it: labels with
    their examples; examples given apart as ``{text, label}`` join their label)."""
    apart: dict[str, list[str]] = {}
    for ex in definition.get("examples") or ():
        if isinstance(ex, Mapping):
            apart.setdefault(str(ex.get("label")), []).append(str(ex.get("text")))
    labels = []
    for lb in definition.get("labels") or ():
        if not isinstance(lb, Mapping):
            labels.append(Label(str(lb), "", tuple(apart.get(str(lb), ()))))
            continue
        name = str(lb.get("name"))
        texts = [e.get("text") if isinstance(e, Mapping) else e for e in lb.get("examples") or ()]
        labels.append(
            Label(
                name,
                str(lb.get("description") or ""),
                tuple(str(t) for t in [*texts, *apart.get(name, ())]),
            )
        )
    return _Version(version, tuple(labels))


def current_label_names(conn: Connection, taxonomy_id: str) -> frozenset[str]:
    """The labels of the taxonomy's current version."""
    current = int(taxonomy_repo.taxonomy_row(conn, taxonomy_id).current_version)
    row = taxonomy_repo.version_definition(conn, taxonomy_id, current)
    if row is None:
        return frozenset()
    return frozenset(_read_version(row.definition, current).label_names)


def _chain(
    taxes: Sequence[_Version], renames: Mapping[int, Mapping[str, str]] | None = None
) -> dict[int, dict[str, str]]:
    """Per version of ``taxes`` (consecutive, oldest first), ``{label then: label now}``
    for its labels that go by another name in the last one (``renames``: per version, the
    renames it recorded)."""
    out: dict[int, dict[str, str]] = {}
    later: dict[str, str] = {}  # each label of the next version: its name now
    for i in range(len(taxes) - 1, -1, -1):
        tax = taxes[i]
        if i + 1 == len(taxes):
            now = {name: name for name in tax.label_names}
        else:
            nxt_tax = taxes[i + 1]
            step = successors(tax, nxt_tax, (renames or {}).get(nxt_tax.version))
            now = {}
            for name in tax.label_names:
                nxt = step.get(name, name)
                # a label removed (no successor) keeps its own name
                now[name] = later.get(nxt, name)
        out[tax.version] = {k: w for k, w in now.items() if k != w}
        later = now
    return out


def current_names(
    conn: Connection, taxonomy_id: str, versions: Iterable[int]
) -> dict[int, dict[str, str]]:
    """For each of ``versions`` (those the decisions at hand were made under), the labels
    of that version that go by another name in the current version."""
    wanted = sorted(set(versions))
    if not wanted:
        return {}
    chained, _ = _history(conn, taxonomy_id, since=wanted[0])
    return {v: chained.get(v, {}) for v in wanted}


def now_called(conn: Connection, taxonomy_id: str, names: Iterable[str]) -> dict[str, str]:
    """Of ``names`` (labels no longer in the taxonomy), those that continue under another
    name now: ``{old name: current name}``.  A name reads as it was the last time a version
    held it (a name used, removed and used again follows its last use)."""
    wanted = set(names)
    if not wanted:
        return {}
    chained, held_by = _history(conn, taxonomy_id, since=1)
    out: dict[str, str] = {}
    for version, held in reversed(held_by):  # newest first: a name's last use decides
        for name in wanted - set(out):
            if name in held:
                out[name] = chained.get(version, {}).get(name, name)
    return {k: v for k, v in out.items() if k != v}


History = tuple[dict[int, dict[str, str]], tuple[tuple[int, frozenset[str]], ...]]
_CACHE: OrderedDict[tuple[str, str, int, str], History] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 256  # histories kept per process (each: label names and renames, no examples)


def _history(
    conn: Connection, taxonomy_id: str, *, since: int, current: int | None = None
) -> History:
    """The chain of renames from ``since`` to the current version (``current``, read when
    not given), and each version's label names.  Stored versions change only by a
    migration: a history is read once per current version (its stamp:
    :func:`~triaged.storage.taxonomy_repo.version_stamp`) and database, and kept, so reading
    labels under their names now costs two small queries."""
    if current is None:
        current = int(taxonomy_repo.taxonomy_row(conn, taxonomy_id).current_version)
    key = (
        str(conn.engine.url),
        taxonomy_id,
        since,
        f"{current}:{taxonomy_repo.version_stamp(conn, taxonomy_id, current)}",
    )
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    rows = [
        r
        for r in taxonomy_repo.version_definitions(conn, taxonomy_id, since=since)
        if r.version <= current  # a version written since the read above: not ours yet
    ]
    versions = [_read_version(row.definition, int(row.version)) for row in rows]
    renames = {int(row.version): dict(row.renames or {}) for row in rows}
    out: History = (
        _chain(versions, renames),
        tuple((v.version, frozenset(v.label_names)) for v in versions),
    )
    with _CACHE_LOCK:
        _CACHE[key] = out
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def version_at(conn: Connection, taxonomy_id: str) -> Callable[[datetime], int]:
    """``at(when)``: the taxonomy version in force at ``when`` (the first version for a time
    before it), so that a label name a reviewer chose reads as it meant then."""
    rows = taxonomy_repo.version_rows(conn, taxonomy_id)
    starts = tuple(as_utc(r.created_at) for r in rows)
    versions = tuple(int(r.version) for r in rows)
    return lambda when: _in_force(starts, versions, when, 1)


def _in_force(
    starts: Sequence[datetime], versions: Sequence[int], when: datetime, default: int
) -> int:
    """Of ``versions`` (written at ``starts``, oldest first), the one in force at ``when``:
    the first for a time before it, ``default`` when there are none."""
    if not versions:
        return default
    i = bisect_right(starts, as_utc(when)) - 1
    return versions[max(i, 0)]


@dataclass(frozen=True, slots=True)
class Lineage:
    """A taxonomy's label history from one version on, read once: what a label of a
    version is called now, and which version was in force when."""

    current_version: int
    since: int
    renamed: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    current: frozenset[str] | None = None  # the current labels (None: not read, none gone)
    starts: tuple[datetime, ...] = ()
    versions: tuple[int, ...] = ()

    def now(self, version: int, name: str) -> str:
        """``name`` of ``version`` as the current version calls it (a removed label keeps
        its own name)."""
        return self.renamed.get(version, {}).get(name, name)

    def label_now(self, version: int, name: str) -> str | None:
        """As :meth:`now`, None when the label was removed since."""
        if version >= self.current_version or self.current is None:
            return name
        called = self.now(version, name)
        return called if called in self.current else None

    def at(self, when: datetime) -> int:
        """The version in force at ``when`` (the first version for a time before it)."""
        return _in_force(self.starts, self.versions, when, self.current_version)

    def agrees(self, version: int, label: str, when: datetime, said: str) -> bool:
        """Whether ``said``, a label as the version in force at ``when`` named it (a
        reviewer's answer), is ``label`` of ``version`` (a decision's), both read under
        their names now: a rename or merge since does not make them differ."""
        return self.now(self.at(when), said) == self.now(version, label)


def lineage(conn: Connection, taxonomy_id: str, versions: Iterable[int]) -> Lineage:
    """The :class:`Lineage` needed to read labels of ``versions`` (those of the decisions
    at hand) under their current names: nothing is read but the current version number
    while they are all the current version's."""
    current = int(taxonomy_repo.taxonomy_row(conn, taxonomy_id).current_version)
    since = min(versions, default=current)
    if since >= current:
        return Lineage(current_version=current, since=current)
    chained, names = _history(conn, taxonomy_id, since=since, current=current)
    rows = taxonomy_repo.version_rows(conn, taxonomy_id)
    return Lineage(
        current_version=current,
        since=since,
        renamed=chained,
        current=names[-1][1] if names else None,
        starts=tuple(as_utc(r.created_at) for r in rows),
        versions=tuple(int(r.version) for r in rows),
    )
