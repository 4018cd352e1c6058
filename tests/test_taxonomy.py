from __future__ import annotations

import json
from pathlib import Path

import pytest

from triaged.errors import DatasetError, TaxonomyError
from triaged.taxonomy import Example, Label, Taxonomy, Thresholds, read_jsonl


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_yaml_with_examples_and_thresholds(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "t.yaml",
        """
name: support
thresholds: {auto: 0.9, review: 0.5}
labels:
  - name: billing
    description: money
    examples: [refund please, charged twice]
  - name: bug
examples:
  - {text: app crashes, label: bug}
""",
    )
    tax = Taxonomy.load(p)
    assert tax.name == "support"
    assert tax.thresholds == Thresholds(auto=0.9, review=0.5)
    assert tax.label_names == ["billing", "bug"]
    assert tax.labels[1].examples == ("app crashes",)
    assert tax.n_examples == 3


def test_load_json_roundtrip(tmp_path: Path) -> None:
    tax = Taxonomy(name="t", labels=(Label("a", "first", ("x",)), Label("b")))
    p = write(tmp_path, "t.json", json.dumps(tax.to_dict()))
    assert Taxonomy.load(p) == tax


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("name: t\nlabels:\n  - name: a\n  - name: a\n", "duplicate label name 'a'"),
        # café with é (U+00E9) and with e + a combining acute accent (U+0301): one name
        (
            "name: t\nlabels:\n  - name: caf\u00e9\n  - name: cafe\u0301\n",
            "composed another way",
        ),
        ("name: t\nlabels:\n  - name: a\n  - name: ''\n", "labels[1].name"),
        (
            "name: t\nlabels:\n  - name: a\nthresholds: {auto: 0.5, review: 0.7}\n",
            "must not exceed",
        ),
        ("name: t\nlabels:\n  - name: a\nthresholds: {auto: 1.5}\n", "between 0 and 1"),
        ("name: t\nlabels:\n  - name: a\nthresholds: {auto: high}\n", "between 0 and 1"),
        ("name: t\nlabels:\n  - name: a\nthresholds: {atuo: 0.9}\n", "unknown threshold"),
        (
            "name: t\nlabels:\n  - name: a\nexamples:\n  - {text: hi, label: zzz}\n",
            "unknown label 'zzz'",
        ),
        ("name: t\nlabels: []\n", "at least one label"),
        ("name: ''\nlabels:\n  - name: a\n", "name"),
        ("name: t\nlabels:\n  - name: oos\n", "reserved"),
        ("name: t\nlabels:\n  - name: a\n    examples: ['']\n", "non-empty"),
        # a later label's bad example, named by its place and line (each label is checked
        # with the names before it, not their examples again)
        (
            "name: t\nlabels:\n  - name: a\n    examples: [x]\n  - name: b\n"
            "    examples: [ok, '']\n",
            "line 5: labels[1].examples[1]",
        ),
        (
            "name: t\nlabels:\n  - name: a\n    examples: [x]\n  - name: b\n  - name: a\n",
            "line 6: labels[2].name: duplicate label name 'a'",
        ),
        # YAML's yes/no and numbers were renamed silently ("True", "1.0") until 5 December
        ("name: t\nlabels:\n  - name: a\n  - name: yes\n", "put the name in quotes"),
        ("name: t\nlabels:\n  - name: no\n", "labels[0].name must be text"),
        ("name: t\nlabels:\n  - name: a\n  - name: 1.0\n", "(float)"),
    ],
)
def test_invalid_taxonomies_name_the_problem(tmp_path: Path, body: str, needle: str) -> None:
    p = write(tmp_path, "bad.yaml", body)
    with pytest.raises(TaxonomyError) as info:
        Taxonomy.load(p)
    assert needle in str(info.value)
    assert str(p) in str(info.value)  # names the file


def test_duplicate_label_error_names_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "dup.yaml", "name: t\nlabels:\n  - name: a\n  - name: b\n  - name: a\n")
    with pytest.raises(TaxonomyError) as info:
        Taxonomy.load(p)
    assert "line 5" in str(info.value)
    assert info.value.details["line"] == 5


def test_malformed_yaml_and_json_name_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", "name: t\nlabels:\n  - name: [unclosed\n")
    with pytest.raises(TaxonomyError, match=r"bad.yaml:\d+: invalid YAML"):
        Taxonomy.load(p)
    q = write(tmp_path, "bad.json", '{"name": "t",\n "labels": [\n}')
    with pytest.raises(TaxonomyError, match=r"bad.json:3: invalid JSON"):
        Taxonomy.load(q)


def test_dataset_dir_loads_and_keeps_oos_apart(datasets_dir: Path) -> None:
    tax = Taxonomy.from_dataset_dir(datasets_dir / "clinc150")
    assert len(tax.labels) == 150
    assert "oos" not in tax.label_names
    assert len(tax.out_of_scope) == 100
    assert tax.n_examples == 15000


def test_malformed_dataset_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text('[{"name": "a", "description": "a"}]')
    (tmp_path / "train.jsonl").write_text(
        '{"text": "hi", "label": "a"}\n{"text": "yo", "label": "a"\n'
    )
    with pytest.raises(DatasetError) as info:
        Taxonomy.from_dataset_dir(tmp_path)
    assert info.value.details == {"file": str(tmp_path / "train.jsonl"), "line": 2}
    (tmp_path / "train.jsonl").write_text('{"text": "hi", "label": "b"}\n')
    with pytest.raises(DatasetError, match=r"train\.jsonl:1: unknown label 'b'"):
        Taxonomy.from_dataset_dir(tmp_path)
    (tmp_path / "train.jsonl").write_text('{"text": "", "label": "a"}\n')
    with pytest.raises(DatasetError, match="non-empty"):
        list(read_jsonl(tmp_path / "train.jsonl"))


def test_dataset_dir_without_labels_json_takes_the_training_labels(tmp_path: Path) -> None:
    rows = [("play some jazz", "PlayMusic"), ("is it raining", "get_weather"), ("hm", "oos")]
    rows += [("put on a song", "PlayMusic")]
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in rows)
    )
    tax = Taxonomy.from_dataset_dir(tmp_path)
    assert tax.label_names == ["PlayMusic", "get_weather"]  # first appearance, oos apart
    assert tax.labels[0].examples == ("play some jazz", "put on a song")
    assert tax.out_of_scope == ("hm",)
    assert tax.labels[1].prompt == "get weather"  # described by its name
    assert Taxonomy.from_dataset_dir(tmp_path, split="none").n_examples == 0
    (tmp_path / "test.jsonl").write_text('{"text": "x", "label": "RateBook"}\n')
    with pytest.raises(DatasetError, match=r"test\.jsonl:1: unknown label 'RateBook'"):
        Taxonomy.from_dataset_dir(tmp_path, split="test")
    (tmp_path / "train.jsonl").write_text('{"text": "hm", "label": "oos"}\n')
    with pytest.raises(DatasetError, match=r"no labelled example \(only 'oos'\)"):
        Taxonomy.from_dataset_dir(tmp_path)
    (tmp_path / "train.jsonl").write_text("")  # it said "(only 'oos')" of an empty file too
    with pytest.raises(DatasetError, match="no labelled example: the file holds no example"):
        Taxonomy.from_dataset_dir(tmp_path)
    (tmp_path / "train.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"needs labels\.json or train\.jsonl"):
        Taxonomy.from_dataset_dir(tmp_path)


def test_with_examples_rejects_unknown_label() -> None:
    tax = Taxonomy(name="t", labels=(Label("a"),))
    with pytest.raises(TaxonomyError, match="unknown label 'b'"):
        tax.with_examples([Example("x", "b")])
    more = tax.with_examples([Example("x", "a"), Example("y", "oos")])
    assert more.labels[0].examples == ("x",)
    assert more.out_of_scope == ("y",)


def test_label_prompt_is_readable() -> None:
    assert Label("card_arrival", "card arrival").prompt == "card arrival"
    assert Label("SearchScreeningEvent").prompt == "search screening event"
    assert Label("billing", "Charges and refunds").prompt == "billing: Charges and refunds"


@pytest.mark.parametrize(
    ("name", "text", "line", "key", "suggestion"),
    [
        (
            "typo.yaml",
            "name: t\nlabels:\n  - name: a\n    descripton: x\n  - name: b\n",
            4,
            "descripton",
            "description",
        ),
        (
            "typo.yaml",
            "name: t\nlabels: [a, b]\nexampels:\n  - {text: x, label: a}\n",
            3,
            "exampels",
            "examples",
        ),
        (
            "typo.json",
            '{\n  "name": "t",\n  "labels": ["a", "b"],\n  "tresholds": {"auto": 0.9}\n}\n',
            4,
            "tresholds",
            "thresholds",
        ),
        (
            "typo.yaml",
            "name: t\nlabels: [a, b]\nexamples:\n  - text: x\n    lable: a\n",
            5,
            "lable",
            "label",
        ),
        ("odd.yaml", "name: t\nlabels: [a, b]\ncolour: red\n", 3, "colour", None),
    ],
)
def test_unknown_keys_are_errors_with_file_line_and_a_suggestion(
    tmp_path: Path, name: str, text: str, line: int, key: str, suggestion: str | None
) -> None:
    p = write(tmp_path, name, text)
    with pytest.raises(TaxonomyError) as info:
        Taxonomy.load(p)
    message = str(info.value)
    assert message.startswith(f"{p}:{line}: unknown key {key!r}"), message
    assert info.value.details["line"] == line and info.value.details["key"] == key
    if suggestion:
        assert f"did you mean {suggestion!r}?" in message
    else:
        assert "allowed: name, description" in message


def test_descriptions_refuse_nul_and_lone_surrogates() -> None:
    """A description reaches storage from the web form as well as the API (PostgreSQL cannot
    store a NUL): the taxonomy refuses it, naming where."""
    base = {"name": "t", "labels": [{"name": "a"}, {"name": "b"}]}
    with pytest.raises(TaxonomyError, match="description"):
        Taxonomy.from_dict({**base, "description": "x\x00y"})
    bad_label = {"name": "t", "labels": [{"name": "a", "description": "\ud800"}, {"name": "b"}]}
    with pytest.raises(TaxonomyError, match=r"labels\[0\]\.description"):
        Taxonomy.from_dict(bad_label)
