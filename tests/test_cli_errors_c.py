"""CLI defects found by QA, part C: what the engine commands read and say.

- a UTF-8 byte-order mark at the start of a dataset file (train/test JSONL, labels.json)
  or a taxonomy file is skipped, as ``triaged batch`` skips it;
- ``classify`` on stdin: a line that starts with ``{`` and is not JSON is an error naming
  the line (it was classified as text), a byte-order mark is skipped;
- ``eval`` refuses ``--seed`` with ``--seeds`` and prints the auto lane's reasons as text;
- a JSONL file where a dataset folder is expected is read as a dataset (``train``,
  ``taxonomies import``) or refused with the folder to pass (``eval`` without ``--model``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from triaged.classifier import Classifier
from triaged.cli import app
from triaged.examples import example_taxonomy
from triaged.taxonomy import Taxonomy

runner = CliRunner()
BOM = b"\xef\xbb\xbf"

TRAIN = [
    {"text": "I was charged twice for my order", "label": "billing"},
    {"text": "refund the duplicate payment please", "label": "billing"},
    {"text": "the app crashes when I open settings", "label": "technical"},
    {"text": "error 500 every time I log in", "label": "technical"},
]


def _error_line(r: Result, *needles: str) -> str:
    """The refusal: exit code 2, no exception, one error line holding every needle."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def _jsonl(rows: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "m"
    Classifier.from_taxonomy(example_taxonomy()).fit().save(folder)
    return folder


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "train.jsonl").write_bytes(_jsonl(TRAIN))
    (root / "test.jsonl").write_bytes(_jsonl(TRAIN))
    return root


# ------------------------------------------------------------------ byte-order marks
def test_a_byte_order_mark_in_dataset_and_taxonomy_files_is_skipped(
    tmp_path: Path, dataset: Path
) -> None:
    for name in ("train.jsonl", "test.jsonl"):
        (dataset / name).write_bytes(BOM + (dataset / name).read_bytes())
    labels = [{"name": "billing"}, {"name": "technical"}]
    (dataset / "labels.json").write_bytes(BOM + json.dumps(labels).encode())
    tax = Taxonomy.load(dataset)
    assert tax.label_names == ["billing", "technical"] and tax.n_examples == 4
    r = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    test = str(dataset / "test.jsonl")
    r = runner.invoke(app, ["eval", "--model", str(tmp_path / "m"), test, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_test"] == 4
    definition = {
        "name": "bom",
        "labels": [{"name": "a", "examples": ["x one"]}, {"name": "b", "examples": ["y two"]}],
        "thresholds": {"auto": 0.9, "review": 0.5},
    }
    data_dir = tmp_path / "d"
    for args in (["db", "upgrade"], ["workspaces", "create", "default"]):
        assert runner.invoke(app, [*args, "--data-dir", str(data_dir)]).exit_code == 0
    files = ((".json", json.dumps(definition)), (".yaml", "name: bomy\nlabels: [a, b]\n"))
    for suffix, text in files:
        f = tmp_path / f"tax{suffix}"
        f.write_bytes(BOM + text.encode())
        assert Taxonomy.load(f).label_names == ["a", "b"]
        r = runner.invoke(app, ["taxonomies", "import", str(f), "--data-dir", str(data_dir)])
        assert r.exit_code == 0, r.output


# ------------------------------------------------------------------ classify on stdin
def test_classify_stdin_refuses_a_broken_object_and_skips_a_byte_order_mark(model: Path) -> None:
    r = runner.invoke(app, ["classify", str(model)], input=b'{"text": "book a table for two"\n')
    _error_line(
        r, "invalid_input", "stdin line 1: not valid JSON (Expecting ',' delimiter, column 32)"
    )
    assert r.stdout == ""
    r = runner.invoke(app, ["classify", str(model)], input=b'{"text": "ok"}\n  {text: "x"}\n')
    _error_line(r, "stdin line 2: not valid JSON")
    r = runner.invoke(app, ["classify", str(model)], input=b'{"txt": "x"}\n')
    _error_line(r, "invalid_input", "stdin line 1: expected a JSON object with 'text'")
    stdin = BOM + b'{"text": "I was charged twice", "id": 7}\n"a JSON string"\n[urgent] plain\n'
    r = runner.invoke(app, ["classify", str(model)], input=stdin)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["text"] for x in rows] == ["I was charged twice", "a JSON string", "[urgent] plain"]
    assert rows[0]["id"] == 7
    r = runner.invoke(app, ["classify", "--help"], env={"COLUMNS": "200"})
    assert "plain text" in r.stdout and "byte-order mark" in r.stdout


# ------------------------------------------------------------------ eval
def test_eval_refuses_seed_with_seeds(dataset: Path, model: Path) -> None:
    """--seed was silently ignored next to --seeds (and next to --model)."""
    r = runner.invoke(app, ["eval", str(dataset), "--shots", "1", "--seed", "3", "--seeds", "0-1"])
    _error_line(r, "invalid_input", "--seed and --seeds exclude each other")
    r = runner.invoke(
        app, ["eval", str(dataset / "test.jsonl"), "--model", str(model), "--seed", "3"]
    )
    _error_line(r, "--seed: not with --model")


def test_eval_over_seeds_says_why_the_auto_lane_is_closed_as_text(dataset: Path) -> None:
    """It printed `auto lane: ['closed: ...', 'closed: ...']`, a Python list."""
    r = runner.invoke(app, ["eval", str(dataset), "--seeds", "0-1"])
    assert r.exit_code == 0, r.output
    lanes = [line for line in r.stderr.splitlines() if line.startswith("auto lane")]
    assert lanes and all("['" not in line for line in lanes), r.stderr
    assert lanes[0].startswith(("auto lane (every seed): closed", "auto lane (seed 0): closed"))
    from triaged.cli import _auto_lane_lines

    runs = [
        {"seed": 0, "auto_lane_reason": "closed: a"},
        {"seed": 1, "auto_lane_reason": "closed: b"},
        {"seed": 2, "auto_lane_reason": "closed: a"},
        {"seed": 3, "auto_lane_reason": None},
    ]
    assert _auto_lane_lines({"runs": runs, "auto_lane_reason": ["closed: a", "closed: b"]}) == [
        "auto lane (seeds 0, 2): closed: a",
        "auto lane (seed 1): closed: b",
    ]
    assert _auto_lane_lines({"auto_lane_reason": "closed: x"}) == ["auto lane: closed: x"]
    assert _auto_lane_lines({"auto_lane_reason": None}) == []


# ------------------------------------------------------------------ a JSONL file for a folder
def test_a_dataset_jsonl_file_is_read_as_a_dataset(tmp_path: Path, dataset: Path) -> None:
    """`train DIR/train.jsonl` and `taxonomies import FILE.jsonl` parsed it as YAML
    ("invalid YAML: expected '<document start>'"); the help says "or train.jsonl alone"."""
    train = dataset / "train.jsonl"
    tax = Taxonomy.load(train)
    assert (tax.name, tax.label_names, tax.n_examples) == ("ds", ["billing", "technical"], 4)
    r = runner.invoke(app, ["train", str(train), "--shots", "1", "-o", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "trained ds (2 labels, 2 examples" in " ".join(r.stderr.split())
    (dataset / "labels.json").write_text(json.dumps([{"name": "billing"}, {"name": "other"}]))
    r = runner.invoke(app, ["train", str(train), "-o", str(tmp_path / "m2")])
    _error_line(r, f"{train}:3: unknown label 'technical'")  # labels.json beside it rules
    (dataset / "labels.json").unlink()
    data_dir = tmp_path / "d"
    for args in (["db", "upgrade"], ["workspaces", "create", "default"]):
        assert runner.invoke(app, [*args, "--data-dir", str(data_dir)]).exit_code == 0
    r = runner.invoke(app, ["taxonomies", "import", str(train), "--data-dir", str(data_dir)])
    assert r.exit_code == 0, r.output


def test_eval_of_a_file_without_model_names_the_folder(dataset: Path) -> None:
    """It said "training on .../test.jsonl/train.jsonl" before failing."""
    r = runner.invoke(app, ["eval", str(dataset / "test.jsonl")])
    _error_line(r, f"{dataset / 'test.jsonl'}: a file", f"pass {dataset}", "--model DIR")
    assert "training on" not in r.output
