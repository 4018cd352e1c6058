"""Taxonomies: the categories a team defines, with descriptions, examples and thresholds.

A :class:`Taxonomy` is an immutable value object.  It loads from YAML or JSON::

    name: support
    thresholds: {auto: 0.9}       # optional: a threshold not set is the service's to choose
    labels:
      - name: billing
        description: Questions about invoices, charges and refunds
        examples: ["Why was I charged twice?"]
    examples:                     # optional, extra examples as {text, label}
      - {text: "refund please", label: billing}

or from a dataset folder in the shared format (``labels.json`` + ``train.jsonl``).
Examples labelled ``oos`` in a dataset are out-of-scope: never a category, kept
apart as :attr:`Taxonomy.out_of_scope` so models can learn what "none" looks like.

Every validation problem raises :class:`~triaged.errors.TaxonomyError` (or
:class:`~triaged.errors.DatasetError`) whose message names the file, line and field.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from triaged.errors import DatasetError, TaxonomyError
from triaged.inputs import is_blank
from triaged.taxonomy_rules import (
    LineLoader,
    at,
    check_chars,
    check_description,
    check_keys,
    check_name,
    example_problem,
    line_of_key,
)
from triaged.textfiles import not_utf8, read_text

__all__ = [
    "OOS_LABEL",
    "Example",
    "Label",
    "Taxonomy",
    "Thresholds",
    "label_index",
    "not_utf8",
    "read_jsonl",
]

OOS_LABEL = "oos"
DEFAULT_AUTO = 0.85
DEFAULT_REVIEW = 0.60
THRESHOLDS = ("auto", "review")
_NAME_RE = re.compile(r"^[^\s].*$", re.S)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Routing thresholds: ``confidence >= auto`` acts automatically, ``>= review`` acts
    but is flagged for a spot-check, anything lower is held for a human."""

    auto: float = DEFAULT_AUTO
    review: float = DEFAULT_REVIEW

    def __post_init__(self) -> None:
        for name in ("auto", "review"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or math.isnan(value)
                or not 0.0 <= value <= 1.0
            ):
                raise TaxonomyError(
                    f"threshold {name!r} must be a number between 0 and 1, got {value!r}",
                    details={"field": f"thresholds.{name}"},
                )
        if self.review > self.auto:
            raise TaxonomyError(
                f"threshold 'review' ({self.review}) must not exceed 'auto' ({self.auto})",
                details={"field": "thresholds"},
            )

    def to_dict(self) -> dict[str, float]:
        return {"auto": float(self.auto), "review": float(self.review)}


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()

    @property
    def prompt(self) -> str:
        """Text that describes the label for zero-shot scoring."""
        readable = self.name.replace("_", " ").replace("-", " ")
        readable = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", readable).lower()
        desc = self.description.strip()
        if not desc or desc.lower() == readable:
            return readable
        return f"{readable}: {desc}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "examples": list(self.examples)}


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A named, versioned set of labels plus routing thresholds."""

    name: str
    labels: tuple[Label, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    description: str = ""
    version: int = 1
    out_of_scope: tuple[str, ...] = ()
    #: example and out-of-scope texts trained on but never evidence for the auto lane: a
    #: retrain's ``auto`` decisions (no person gave their label) and its reviewed
    #: out-of-scope inputs (routing chose which inputs got reviewed, so they are no fair
    #: sample of the inputs no label covers).  Not serialised.
    not_evidence: frozenset[str] = frozenset()
    #: the thresholds the definition sets itself (of "auto", "review"): the others are the
    #: defaults, which the service's routing policy decides in their place.  Only these are
    #: serialised.  None: those that differ from the defaults (a taxonomy built in code).
    thresholds_set: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.thresholds_set is None:
            unset = Thresholds()
            given = {k for k in THRESHOLDS if getattr(self.thresholds, k) != getattr(unset, k)}
            object.__setattr__(self, "thresholds_set", frozenset(given))
        check_name(self.name, "name")
        if not self.labels:
            raise TaxonomyError("a taxonomy needs at least one label", details={"field": "labels"})
        check_description(self.description, "description")
        seen: dict[str, int] = {}
        for i, label in enumerate(self.labels):
            where = f"labels[{i}].name"
            check_name(label.name, where)
            check_description(label.description, f"labels[{i}].description")
            if label.name == OOS_LABEL:
                raise TaxonomyError(
                    f"{where}: {OOS_LABEL!r} is reserved for out-of-scope examples",
                    details={"field": where},
                )
            # one name however its characters are composed ("café" as é or as e + U+0301
            # look the same to a reviewer and were two labels)
            key = unicodedata.normalize("NFC", label.name)
            if key in seen:
                first = self.labels[seen[key]].name
                same = "" if label.name == first else " (the same text composed another way)"
                raise TaxonomyError(
                    f"{where}: duplicate label name {label.name!r}{same} "
                    f"(first defined at labels[{seen[key]}])",
                    details={"field": where, "label": label.name},
                )
            seen[key] = i
            for j, ex in enumerate(label.examples):
                if not isinstance(ex, str) or is_blank(ex):
                    raise TaxonomyError(
                        f"labels[{i}].examples[{j}]: examples must be non-empty strings",
                        details={"field": f"labels[{i}].examples[{j}]"},
                    )
                check_chars(ex, f"labels[{i}].examples[{j}]")
        for j, ex in enumerate(self.out_of_scope):
            if not isinstance(ex, str) or is_blank(ex):
                raise TaxonomyError(
                    f"out_of_scope[{j}]: examples must be non-empty strings",
                    details={"field": f"out_of_scope[{j}]"},
                )
            check_chars(ex, f"out_of_scope[{j}]")

    # ----------------------------------------------------------------- queries
    def given_thresholds(self) -> dict[str, float]:
        """The thresholds the definition sets itself (what was asked for), by name."""
        given = self.thresholds_set or frozenset()
        return {k: v for k, v in self.thresholds.to_dict().items() if k in given}

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def index(self, label: str) -> int:
        try:
            return self.label_names.index(label)
        except ValueError:
            raise TaxonomyError(
                f"unknown label {label!r} for taxonomy {self.name!r}", details={"label": label}
            ) from None

    def examples(self) -> list[Example]:
        return [Example(text, label.name) for label in self.labels for text in label.examples]

    @property
    def n_examples(self) -> int:
        return sum(len(label.examples) for label in self.labels)

    def with_examples(self, examples: Iterable[Example], *, replace_all: bool = False) -> Taxonomy:
        """A copy with ``examples`` added (unknown labels raise; ``oos`` goes to out_of_scope)."""
        by_label: dict[str, list[str]] = {
            label.name: ([] if replace_all else list(label.examples)) for label in self.labels
        }
        oos = [] if replace_all else list(self.out_of_scope)
        for n, ex in enumerate(examples):
            if ex.label == OOS_LABEL:
                oos.append(ex.text)
            elif ex.label not in by_label:
                raise TaxonomyError(
                    f"example {n}: unknown label {ex.label!r}",
                    details={"index": n, "label": ex.label},
                )
            else:
                by_label[ex.label].append(ex.text)
        labels = tuple(replace(lb, examples=tuple(by_label[lb.name])) for lb in self.labels)
        return replace(self, labels=labels, out_of_scope=tuple(oos))

    def to_dict(self, *, include_examples: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "thresholds": self.given_thresholds(),  # those set only ({}: none)
            "labels": [
                lb.to_dict()
                if include_examples
                else {"name": lb.name, "description": lb.description}
                for lb in self.labels
            ],
        }
        if include_examples and self.out_of_scope:
            data["out_of_scope"] = list(self.out_of_scope)
        return data

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Taxonomy:
        """Build and validate from plain data (as parsed from YAML/JSON or an API body)."""
        if not isinstance(data, Mapping):
            raise TaxonomyError(f"{source}: a taxonomy must be a mapping", details={"file": source})
        try:
            return _from_mapping(data, source)
        except TaxonomyError as exc:
            if source != "<dict>" and not exc.message.startswith(source):
                exc.details.setdefault("file", source)
                exc.message = f"{source}: {exc.message}"
                exc.args = (exc.message,)
            raise

    @classmethod
    def load(cls, path: str | Path) -> Taxonomy:
        """Load from a ``.yaml``/``.yml``/``.json`` file, a dataset folder, or a dataset's
        JSONL file (``train.jsonl``: labels as for its folder, the examples of the file)."""
        p = Path(path)
        if p.is_dir():
            return cls.from_dataset_dir(p)
        if not p.exists():
            raise TaxonomyError(f"{p}: no such file or folder", details={"file": str(p)})
        if p.suffix.lower() in (".jsonl", ".ndjson"):  # was read as YAML ("invalid YAML")
            name = p.parent.resolve().name if p.stem == "train" else p.stem
            return cls.from_dataset_dir(p.parent, name=name, file=p)
        text = read_text(p, TaxonomyError)
        if p.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TaxonomyError(
                    f"{p}:{exc.lineno}: invalid JSON: {exc.msg}",
                    details={"file": str(p), "line": exc.lineno},
                ) from None
            return cls._from_file(data, p, text)
        else:
            try:
                data = yaml.load(text, Loader=LineLoader)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark is not None else None
                raise TaxonomyError(
                    f"{p}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}",
                    details={"file": str(p), "line": line},
                ) from None
        return cls._from_file(data, p, text)

    @classmethod
    def _from_file(cls, data: Any, path: Path, text: str) -> Taxonomy:
        """``from_dict``; an unknown key's error starts ``FILE:LINE:`` with the key's own line,
        as editors and compilers print them."""
        try:
            return cls.from_dict(data, source=str(path))
        except TaxonomyError as exc:
            line, key = exc.details.get("line"), exc.details.get("key")
            if not isinstance(key, str):
                raise
            line = line_of_key(text, key, line or 1) or line
            message = exc.message.removeprefix(f"{path}: ")
            if line:
                exc.details["line"] = line
                message = f"{path}:{line}: " + re.sub(r"^line \d+: ", "", message)
            else:
                message = f"{path}: {message}"
            exc.message = message
            exc.args = (message,)
            raise

    @classmethod
    def from_dataset_dir(
        cls,
        path: str | Path,
        *,
        split: str = "train",
        name: str | None = None,
        file: Path | None = None,
    ) -> Taxonomy:
        """Load ``labels.json`` and ``<split>.jsonl`` (or ``file``) of a dataset folder in the
        shared format. Without ``labels.json`` the labels are those ``train.jsonl`` (or
        ``file``) uses, in order of appearance, described by their names (never ``oos``)."""
        root = Path(path)
        labels_file = root / "labels.json"
        split_file = file or root / f"{split}.jsonl"
        train: list[Example] | None = None  # read once when it also names the labels
        index = label_index(root)  # integer labels name the label at their place
        if labels_file.exists():
            labels, source = _labels_json(labels_file), labels_file
        else:
            source = file or root / "train.jsonl"
            labels, train = _labels_of_examples(root, source)
        tax = cls.from_dict(
            {"name": name or root.name, "labels": [lb.to_dict() for lb in labels]},
            source=str(source),
        )
        if (split == "train" or file is not None) and train is not None:
            return tax.with_examples(train)
        if split_file.exists():
            known = set(tax.label_names) | {OOS_LABEL}
            examples = list(read_jsonl(split_file, known=known, index=index))
            tax = tax.with_examples(examples)
        return tax


def label_index(root: Path) -> list[str] | None:
    """The label names of a dataset folder's ``labels.json`` in its order, ``oos`` included
    (None without the file): an integer label in its JSONL files is a place in this list."""
    if not (root / "labels.json").exists():
        return None
    return [lb.name for lb in _labels_json(root / "labels.json", keep_oos=True)]


def _labels_json(labels_file: Path, *, keep_oos: bool = False) -> list[Label]:
    """The labels a dataset folder's ``labels.json`` lists (``oos`` left out): objects with
    a ``name`` (and a ``description``), or names alone."""
    try:
        raw = json.loads(read_text(labels_file, DatasetError))
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{labels_file}:{exc.lineno}: invalid JSON: {exc.msg}",
            details={"file": str(labels_file), "line": exc.lineno},
        ) from None
    if not isinstance(raw, list):
        raise DatasetError(f"{labels_file}: expected a JSON list of labels")
    labels = []
    for i, item in enumerate(raw):
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise DatasetError(
                f"{labels_file}: entry {i} needs a string 'name'",
                details={"file": str(labels_file)},
            )
        if item["name"] == OOS_LABEL and not keep_oos:
            continue
        labels.append(Label(item["name"], str(item.get("description") or "")))
    return labels


def _labels_of_examples(root: Path, train: Path) -> tuple[list[Label], list[Example]]:
    """Without ``labels.json``: the labels ``train.jsonl`` uses (first appearance, ``oos``
    apart, described by their names) and its examples."""
    if not train.exists():
        raise DatasetError(
            f"{root}: a dataset folder needs labels.json or train.jsonl",
            details={"file": str(root / "labels.json")},
        )
    examples = list(read_jsonl(train))
    names = dict.fromkeys(ex.label for ex in examples if ex.label != OOS_LABEL)
    if not names:  # an empty file said "(only 'oos')" too
        only = f" (only {OOS_LABEL!r})" if examples else ": the file holds no example"
        raise DatasetError(f"{train}: no labelled example{only}")
    return [Label(n) for n in names], examples


def read_jsonl(
    path: str | Path, *, known: set[str] | None = None, index: Sequence[str] | None = None
) -> Iterator[Example]:
    """Yield ``{"text", "label"}`` examples, raising DatasetError with the file and line.
    An integer label (a class index, as many exports write them) names the label at its
    place in ``index`` (:func:`label_index`), or is its digits."""
    p = Path(path)
    try:
        yield from _jsonl_examples(p, known, index)
    except UnicodeDecodeError:
        raise not_utf8(p, DatasetError) from None


def _label_of(label: Any, index: Sequence[str] | None) -> Any:
    if isinstance(label, bool) or not isinstance(label, int):
        return label  # a string, or a value example_problem refuses
    if index is not None and 0 <= label < len(index) and str(label) not in index:
        return index[label]
    return str(label)


def _jsonl_examples(
    p: Path, known: set[str] | None, index: Sequence[str] | None
) -> Iterator[Example]:
    # utf-8-sig: a byte-order mark (an editor's or a spreadsheet's export) is skipped
    with p.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = {"file": str(p), "line": lineno}
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{p}:{lineno}: invalid JSON: {exc.msg}", details=where
                ) from None
            if not isinstance(obj, dict):
                raise DatasetError(f"{p}:{lineno}: expected a JSON object", details=where)
            text, label = obj.get("text"), _label_of(obj.get("label"), index)
            problem = example_problem(text, label)
            if problem is not None:
                raise DatasetError(f"{p}:{lineno}: {problem}", details=where)
            if known is not None and label not in known:
                raise DatasetError(
                    f"{p}:{lineno}: unknown label {label!r}", details={**where, "label": label}
                )
            yield Example(str(text), str(label))  # strings: example_problem checked them


# ---------------------------------------------------------------------- helpers
def _from_mapping(data: Mapping[str, Any], source: str) -> Taxonomy:
    if source != "<dict>":  # a file: strict about keys (API bodies are checked by their schema)
        check_keys(data)
    tax = _definition(data)
    extra = data.get("examples") or []
    return tax.with_examples(_extra_examples(tax, extra)) if extra else tax


def _label_name(item: Mapping[str, Any], i: int) -> str:
    """A label's name as written; YAML reads yes/no/on/off/true/false, numbers and dates as
    other types (a name ``yes`` became "True" until 5 December): those are refused."""
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise TaxonomyError(
            f"{at(item)}labels[{i}].name must be text, got {name!r} "
            f"({type(name).__name__}): YAML reads yes/no/on/off/true/false and numbers "
            "as such; put the name in quotes (name: 'yes')",
            details={"field": f"labels[{i}].name", "line": item.get("__line__")},
        )
    return name or ""


def _given_thresholds(raw: Mapping[str, Any]) -> Thresholds:
    """The given thresholds, the others at their defaults: a ``review`` above the default
    auto raises the unset auto with it (the routing policy certifies auto)."""
    review = raw.get("review", DEFAULT_REVIEW)
    if "auto" in raw:
        auto = raw["auto"]
        if "review" not in raw and isinstance(auto, int | float) and auto < DEFAULT_REVIEW:
            raise TaxonomyError(
                f"threshold 'auto' ({auto:g}) is below the hold threshold's default "
                f"({DEFAULT_REVIEW:g}); give 'review' at or below it too",
                details={"field": "thresholds.auto"},
            )
    else:
        auto = max(DEFAULT_AUTO, review) if isinstance(review, int | float) else DEFAULT_AUTO
    return Thresholds(auto=auto, review=review)


def _definition(data: Mapping[str, Any]) -> Taxonomy:
    """The taxonomy of ``data`` without its top-level ``examples``."""
    raw_labels = data.get("labels")
    if not isinstance(raw_labels, Sequence) or isinstance(raw_labels, str):
        raise TaxonomyError(f"{at(data)}'labels' must be a list", details={"field": "labels"})
    labels: list[Label] = []
    for i, item in enumerate(raw_labels):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise TaxonomyError(
                f"labels[{i}]: a label must be a mapping with a 'name'",
                details={"field": f"labels[{i}]"},
            )
        examples = item.get("examples") or []
        if not isinstance(examples, Sequence) or isinstance(examples, str):
            raise TaxonomyError(
                f"{at(item)}labels[{i}].examples must be a list of strings",
                details={"field": f"labels[{i}].examples", "line": item.get("__line__")},
            )
        desc = item.get("description") or ""
        if not isinstance(desc, str):
            raise TaxonomyError(
                f"{at(item)}labels[{i}].description must be a string",
                details={"field": f"labels[{i}].description"},
            )
        try:
            labels.append(Label(_label_name(item, i), desc, tuple(examples)))
            # validate incrementally for line numbers: this label's examples, every name so
            # far (the earlier labels' examples were checked at their turn: checking them all
            # again at every label made 150 labels of 100 examples take 0.7 s)
            seen = [Label(lb.name, lb.description) for lb in labels[:-1]]
            Taxonomy(name="x", labels=(*seen, labels[-1]))
        except TaxonomyError as exc:
            line = item.get("__line__")
            if line:
                exc.details["line"] = line
                exc.message = f"line {line}: {exc.message}"
                exc.args = (exc.message,)
            raise
    raw_thr = data.get("thresholds") or {}
    if not isinstance(raw_thr, Mapping):
        raise TaxonomyError(
            f"{at(data)}'thresholds' must be a mapping", details={"field": "thresholds"}
        )
    unknown = set(raw_thr) - {"auto", "review", "__line__"}
    if unknown:
        raise TaxonomyError(
            f"{at(raw_thr)}unknown threshold(s): {sorted(unknown)}; use 'auto' and 'review'",
            details={"field": "thresholds"},
        )
    try:
        thresholds = _given_thresholds(raw_thr)
    except TaxonomyError as exc:
        if raw_thr.get("__line__"):
            exc.details["line"] = raw_thr["__line__"]
            exc.message = f"line {raw_thr['__line__']}: {exc.message}"
            exc.args = (exc.message,)
        raise
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TaxonomyError("'version' must be a positive integer", details={"field": "version"})
    desc = data.get("description") or ""
    raw_name = data.get("name")
    tax = Taxonomy(
        name=raw_name if isinstance(raw_name, str) else "",
        labels=tuple(labels),
        thresholds=thresholds,
        description=str(desc),
        version=version,
        out_of_scope=tuple(data.get("out_of_scope") or ()),
        thresholds_set=frozenset(k for k in THRESHOLDS if k in raw_thr),
    )
    return tax


def _extra_examples(tax: Taxonomy, extra: Any) -> list[Example]:
    """The top-level ``examples`` list of {text, label}, each label checked against ``tax``."""
    if not isinstance(extra, Sequence) or isinstance(extra, str):
        raise TaxonomyError(
            "'examples' must be a list of {text, label}", details={"field": "examples"}
        )
    parsed = []
    for j, ex in enumerate(extra):
        if (
            not isinstance(ex, Mapping)
            or not isinstance(ex.get("text"), str)
            or not ex["text"].strip()
            or not isinstance(ex.get("label"), str)
        ):
            raise TaxonomyError(
                f"{at(ex)}examples[{j}] must have a non-empty 'text' and a 'label'",
                details={"field": f"examples[{j}]"},
            )
        if ex["label"] != OOS_LABEL and ex["label"] not in tax.label_names:
            raise TaxonomyError(
                f"{at(ex)}examples[{j}]: unknown label {ex['label']!r}",
                details={
                    "field": f"examples[{j}].label",
                    "label": ex["label"],
                    "line": ex.get("__line__"),
                },
            )
        parsed.append(Example(ex["text"], ex["label"]))
    return parsed
