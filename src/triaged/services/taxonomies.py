"""Taxonomies in the database: every change is a new, immutable version.

A taxonomy row points at its current version and at its active model (the
newest trained one); versions keep the full definition, examples included.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from triaged.errors import Conflict, LimitReached, NotFound, PayloadTooLarge, TaxonomyError
from triaged.inputs import bad_character, check_taxonomy_name
from triaged.services.ids import as_utc, new_id, utcnow
from triaged.storage import taxonomy_repo
from triaged.storage.key_repo import TAXONOMY_PREFIX
from triaged.taxonomy import OOS_LABEL, Example, Taxonomy
from triaged.taxonomy_rules import same_name

__all__ = [
    "TaxonomyRecord",
    "archive",
    "check_room",
    "check_size",
    "create",
    "forget_parsed",
    "get_record",
    "get_record_by_id",
    "label_renames",
    "list_records",
    "load_version",
    "merge_changes",
    "merge_update",
    "new_version",
    "record_in",
    "rename_changes",
]


@dataclass(frozen=True, slots=True)
class TaxonomyRecord:
    id: str
    workspace_id: str
    name: str
    current_version: int
    active_model_id: str | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    routing_version: int | None = None  # the current routing-policy version

    @classmethod
    def from_row(cls, row: Any, prefix: str = "") -> TaxonomyRecord:
        """The record of a ``taxonomies`` row (its columns named ``prefix`` + column)."""
        m = row._mapping
        archived = m[prefix + "archived_at"]
        return cls(
            id=m[prefix + "id"],
            workspace_id=m[prefix + "workspace_id"],
            name=m[prefix + "name"],
            current_version=m[prefix + "current_version"],
            active_model_id=m[prefix + "active_model_id"],
            created_at=as_utc(m[prefix + "created_at"]),
            updated_at=as_utc(m[prefix + "updated_at"]),
            archived_at=as_utc(archived) if archived else None,
            routing_version=m.get(prefix + "routing_version"),
        )


def check_distinct_labels(tax: Taxonomy) -> None:
    """No two labels whose names differ only in case or Unicode form ("Billing" beside
    "billing": one category written twice), the rule a proposed new category meets; the
    service refuses such a definition (a model or file read back is not checked).  Nor a
    label "OOS": out-of-scope examples are labelled ``oos``, and "OOS" beside it reads as one."""
    seen: list[str] = []
    for i, label in enumerate(tax.labels):
        if same_name([OOS_LABEL], label.name) is not None:
            where = f"labels[{i}].name"
            raise TaxonomyError(
                f"{where}: {label.name!r} is reserved (in any case) for out-of-scope examples",
                details={"field": where, "label": label.name, "reason": "reserved_label"},
            )
        same = same_name(seen, label.name)
        if same is not None:
            where = f"labels[{i}].name"
            raise TaxonomyError(
                f"{where}: label {label.name!r} differs from {same!r} only in case or Unicode "
                "form; use one name",
                details={"field": where, "label": label.name, "reason": "duplicate_label"},
            )
        seen.append(label.name)


def _insert_version(
    conn: Connection,
    taxonomy_id: str,
    tax: Taxonomy,
    renames: Mapping[str, str] | None = None,
    created_by: str | None = None,
) -> None:
    taxonomy_repo.insert_version(
        conn,
        taxonomy_id,
        tax.version,
        tax.to_dict(),
        tax.n_examples + len(tax.out_of_scope),
        dict(renames) if renames else None,
        created_by,
    )


def check_room(conn: Connection, workspace_id: str, limit: int) -> None:
    """409 ``limit_reached`` when the workspace has ``limit`` taxonomies that are not
    archived (``TRIAGED_MAX_TAXONOMIES_PER_WORKSPACE``); in the creating transaction."""
    n = taxonomy_repo.live_taxonomy_count(conn, workspace_id)
    if n >= limit:
        raise LimitReached(
            f"this workspace has {n} taxonomies, the most it may have ({limit}); archive one "
            "to make room (archived ones do not count)",
            details={
                "limit": limit,
                "count": n,
                "resource": "taxonomies",
                "setting": "TRIAGED_MAX_TAXONOMIES_PER_WORKSPACE",
            },
        )


def create(
    conn: Connection,
    workspace_id: str,
    tax: Taxonomy,
    *,
    limit: int | None = None,
    created_by: str | None = None,
) -> TaxonomyRecord:
    """Store a new taxonomy; its name must match :data:`triaged.inputs.NAME_PATTERN`;
    ``limit``: the most taxonomies (not archived) the workspace may have; ``created_by``:
    the API key id that made it (recorded on version 1)."""
    check_taxonomy_name(tax.name)
    check_distinct_labels(tax)
    if limit is not None:
        check_room(conn, workspace_id, limit)
    now = utcnow()
    tid = new_id("tax")
    try:
        with conn.begin_nested():
            taxonomy_repo.insert_taxonomy(conn, tid, workspace_id, tax.name, now)
    except IntegrityError:
        row = taxonomy_repo.taxonomy_named(conn, workspace_id, tax.name)
        if row is not None and TaxonomyRecord.from_row(row).archived_at is not None:
            # an archived taxonomy cannot be updated either: "update it instead" misled
            raise Conflict(
                f"taxonomy {tax.name!r} is archived; its name stays with its versions and "
                "decisions, so choose another name",
                details={"taxonomy": tax.name, "reason": "archived"},
            ) from None
        raise Conflict(
            f"taxonomy {tax.name!r} already exists in this workspace; update it instead",
            details={"taxonomy": tax.name},
        ) from None
    first = Taxonomy.from_dict({**tax.to_dict(), "version": 1})
    _insert_version(conn, tid, first, created_by=created_by)
    return get_record(conn, workspace_id, tax.name)


def get_record(
    conn: Connection, workspace_id: str, name: str, *, for_update: bool = False
) -> TaxonomyRecord:
    if bad_character(name) is not None:  # no stored name holds one (PostgreSQL would refuse it)
        raise NotFound("no such taxonomy", details={"reason": "bad_character"})
    row = taxonomy_repo.taxonomy_named(conn, workspace_id, name, for_update=for_update)
    if row is None:
        raise NotFound(f"no taxonomy {name!r}", details={"taxonomy": name})
    return TaxonomyRecord.from_row(row)


def record_in(row: Any, name: str) -> TaxonomyRecord:
    """The taxonomy ``name`` from a row of :func:`triaged.services.keys.authenticate_with_taxonomy`
    (NotFound, as :func:`get_record`, when the workspace has none of that name)."""
    if row._mapping[TAXONOMY_PREFIX + "id"] is None:
        raise NotFound(f"no taxonomy {name!r}", details={"taxonomy": name})
    return TaxonomyRecord.from_row(row, TAXONOMY_PREFIX)


def get_record_by_id(conn: Connection, workspace_id: str, taxonomy_id: str) -> TaxonomyRecord:
    row = taxonomy_repo.taxonomy_by_id(conn, workspace_id, taxonomy_id)
    if row is None:
        raise NotFound(f"no taxonomy {taxonomy_id!r}", details={"taxonomy_id": taxonomy_id})
    return TaxonomyRecord.from_row(row)


def list_records(
    conn: Connection,
    workspace_id: str,
    *,
    include_archived: bool = False,
    limit: int | None = None,
    after: str | None = None,
) -> list[TaxonomyRecord]:
    """The workspace's taxonomies by name; ``after`` a name and ``limit`` page through them."""
    rows = taxonomy_repo.workspace_taxonomies(
        conn, workspace_id, include_archived=include_archived, limit=limit, after=after
    )
    return [TaxonomyRecord.from_row(r) for r in rows]


def check_size(
    tax: Taxonomy, max_labels: int, max_examples: int, max_text_chars: int | None = None
) -> None:
    """Refuse a taxonomy over the operator's limits (413): training memory grows with the
    labels and examples; an example is a text like any classified one, at most
    ``max_text_chars`` characters (TRIAGED_MAX_TEXT_CHARS)."""
    n_labels = len(tax.labels)
    if n_labels > max_labels:
        raise PayloadTooLarge(
            f"a taxonomy has at most {max_labels} labels, got {n_labels} "
            "(TRIAGED_MAX_LABELS_PER_TAXONOMY)",
            details={"field": "labels", "limit": max_labels, "got": n_labels},
        )
    n_examples = sum(len(label.examples) for label in tax.labels) + len(tax.out_of_scope)
    if n_examples > max_examples:
        raise PayloadTooLarge(
            f"a taxonomy has at most {max_examples} examples, got {n_examples} "
            "(TRIAGED_MAX_EXAMPLES_PER_TAXONOMY)",
            details={"field": "examples", "limit": max_examples, "got": n_examples},
        )
    if max_text_chars is not None:
        _check_example_lengths(tax, max_text_chars)


def _check_example_lengths(tax: Taxonomy, limit: int) -> None:
    texts = [
        (f"labels[{i}].examples[{j}]", text)
        for i, label in enumerate(tax.labels)
        for j, text in enumerate(label.examples)
    ]
    texts += [(f"out_of_scope[{j}]", text) for j, text in enumerate(tax.out_of_scope)]
    for where, text in texts:
        if len(text) > limit:
            raise PayloadTooLarge(
                f"{where}: the example has {len(text)} characters; the limit is {limit} "
                "(TRIAGED_MAX_TEXT_CHARS)",
                details={"field": where, "limit": limit, "got": len(text)},
            )


#: parsed stored versions, by database, taxonomy, version, when it was written and the schema
#: revision (:func:`~triaged.storage.taxonomy_repo.version_stamp`): a stored version changes
#: only by a migration, and parsing one validates every example (0.7 s for
#: CLINC150's 15,000), which every page and call that reads a taxonomy paid
_PARSED: OrderedDict[tuple[str, str, int, str], tuple[Taxonomy, int]] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_VERSIONS = 64
# examples kept in all (about 150 bytes each: 300,000 is some 45 MB); a taxonomy larger
# than this alone is parsed on every read, as before
PARSED_EXAMPLES = 300_000


def _no_version(record: TaxonomyRecord, version: int) -> NotFound:
    return NotFound(
        f"taxonomy {record.name!r} has no version {version}",
        details={"taxonomy": record.name, "version": version},
    )


def forget_parsed() -> None:
    """Drop the parsed versions this process keeps (benchmarks time a first read)."""
    with _PARSED_LOCK:
        _PARSED.clear()


def load_version(conn: Connection, record: TaxonomyRecord, version: int | None = None) -> Taxonomy:
    v = record.current_version if version is None else version
    stamp = taxonomy_repo.version_stamp(conn, record.id, v)
    if stamp is None:
        raise _no_version(record, v)
    key = (str(conn.engine.url), record.id, v, stamp)
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key][0]
    row = taxonomy_repo.version_definition(conn, record.id, v)
    if row is None:  # gone since the line above (its taxonomy deleted)
        raise _no_version(record, v)
    tax = Taxonomy.from_dict({**row.definition, "version": v})
    size = sum(len(lb.examples) for lb in tax.labels) + len(tax.out_of_scope)
    with _PARSED_LOCK:
        _PARSED[key] = (tax, size)
        held = sum(n for _, n in _PARSED.values())
        while _PARSED and (len(_PARSED) > PARSED_VERSIONS or held > PARSED_EXAMPLES):
            held -= _PARSED.popitem(last=False)[1][1]
    return tax


def list_versions(conn: Connection, record: TaxonomyRecord) -> list[dict[str, Any]]:
    return [
        {
            "version": r.version,
            "n_examples": r.n_examples,
            "created_at": as_utc(r.created_at).isoformat(),
            "renames": dict(r.renames or {}),
            "created_by": r.created_by,
        }
        for r in taxonomy_repo.version_rows(conn, record.id)
    ]


def new_version(
    conn: Connection,
    record: TaxonomyRecord,
    tax: Taxonomy,
    renames: Mapping[str, str] | None = None,
    created_by: str | None = None,
) -> Taxonomy:
    """Store ``tax`` as the next version (atomic increment, so concurrent edits never clash),
    with the labels it renamed (``{old name: new name}``, :func:`label_renames`) and the
    API key id that made it (``created_by``)."""
    if record.archived_at is not None:
        raise Conflict(f"taxonomy {record.name!r} is archived", details={"taxonomy": record.name})
    check_distinct_labels(tax)
    version = taxonomy_repo.bump_version(conn, record.id)
    stored = Taxonomy.from_dict({**tax.to_dict(), "name": record.name, "version": version})
    _insert_version(conn, record.id, stored, renames, created_by)
    return stored


def label_renames(current: Taxonomy, changes: Mapping[str, Any]) -> dict[str, str]:
    """``{old name: new name}`` of the labels an update renames: a label given with
    ``renamed_from`` continues that label of ``current`` (its examples, reviews and
    decisions follow it).  The old name must be a label of ``current`` that the update
    drops, each at most once, and the new name must not already be another label of
    ``current`` (a swap or a merge is two edits: rename to a free name first)."""
    items = changes.get("labels") or []
    current_names = set(current.label_names)
    new_names = {str(item.get("name")) for item in items}
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        old = item.get("renamed_from")
        if old is None or old == item.get("name"):
            continue
        where = f"labels[{i}].renamed_from"
        new = str(item.get("name"))
        problem: tuple[str, str] | None = None
        if old not in current_names:
            problem = "unknown_label", f"{old!r} is not a label of the current version"
        elif old in out:
            problem = "duplicate_rename", f"{old!r} is renamed twice"
        elif old in new_names:
            problem = "label_kept", f"{old!r} is still in the labels: a rename drops the old name"
        elif new in current_names:
            problem = (
                "name_taken",
                (
                    f"{new!r} is already a label; rename to a name not in use (a swap is "
                    "two edits; to fold one label into another, POST .../labels/{label}/merge)"
                ),
            )
        if problem is not None:
            reason, message = problem
            raise TaxonomyError(
                f"{where}: {message}",
                details={"field": where, "label": old, "reason": reason},
            )
        out[str(old)] = new
    return out


def _has_label(current: Taxonomy, taxonomy: str, label: str) -> None:
    if label not in current.label_names:
        raise NotFound(
            f"taxonomy {taxonomy!r} has no label {label!r}",
            details={"taxonomy": taxonomy, "label": label},
        )


def rename_changes(
    current: Taxonomy, taxonomy: str, label: str, new_name: str, description: str | None
) -> dict[str, Any]:
    """The update (for :func:`merge_update`) that renames ``label`` to ``new_name``."""
    _has_label(current, taxonomy, label)
    if new_name != label and new_name in current.label_names:
        raise TaxonomyError(
            f"name: {new_name!r} is already a label; rename to a name not in use (to fold "
            "one label into another, merge it)",
            details={"field": "name", "label": label, "reason": "name_taken"},
        )
    labels: list[dict[str, Any]] = []
    for lb in current.labels:
        if lb.name != label:
            labels.append({"name": lb.name, "description": lb.description})
            continue
        described = lb.description if description is None else description
        labels.append({"name": new_name, "description": described, "renamed_from": label})
    return {"labels": labels}


def merge_changes(current: Taxonomy, taxonomy: str, label: str, into: str) -> dict[str, Any]:
    """The update (for :func:`merge_update`) that folds ``label`` into ``into``: ``label``
    goes, its examples join ``into``'s (each text once)."""
    _has_label(current, taxonomy, label)
    _has_label(current, taxonomy, into)
    if label == into:
        raise TaxonomyError(
            f"into: a label cannot be merged into itself ({label!r})",
            details={"field": "into", "label": label, "reason": "same_label"},
        )
    gone = next(lb for lb in current.labels if lb.name == label)
    labels: list[dict[str, Any]] = []
    for lb in current.labels:
        if lb.name == label:
            continue
        entry: dict[str, Any] = {"name": lb.name, "description": lb.description}
        if lb.name == into:
            entry["examples"] = list(dict.fromkeys([*lb.examples, *gone.examples]))
        labels.append(entry)
    return {"labels": labels}


def merge_update(current: Taxonomy, changes: Mapping[str, Any]) -> Taxonomy:
    """Apply a partial update: labels given without ``examples`` (or ``description``) keep
    their old ones (a label given with ``renamed_from``: those of the label it renames)."""
    data = current.to_dict()
    if changes.get("description") is not None:
        data["description"] = changes["description"]
    if changes.get("thresholds") is not None:
        data["thresholds"] = {**(data.get("thresholds") or {}), **dict(changes["thresholds"])}
    if changes.get("labels") is not None:
        old = {lb.name: lb for lb in current.labels}
        labels: list[dict[str, Any]] = []
        for item in changes["labels"]:
            entry = dict(item)
            was = old.get(str(entry.pop("renamed_from", None) or entry.get("name")))
            if entry.get("examples") is None:
                entry["examples"] = list(was.examples) if was else []
            if entry.get("description") is None:
                entry["description"] = was.description if was else ""
            labels.append(entry)
        data["labels"] = labels
    if changes.get("examples"):
        data["examples"] = list(changes["examples"])
    return Taxonomy.from_dict(data)


def add_examples(current: Taxonomy, examples: Sequence[Example]) -> Taxonomy:
    if not examples:
        raise TaxonomyError("no examples given", details={"field": "examples"})
    return current.with_examples(examples)


def archive(conn: Connection, record: TaxonomyRecord) -> TaxonomyRecord:
    if record.archived_at is None:
        taxonomy_repo.archive(conn, record.id)
    return TaxonomyRecord.from_row(taxonomy_repo.taxonomy_row(conn, record.id))
