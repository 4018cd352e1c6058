"""CLI defects found by QA, part B: every refusal is one line on stderr with exit code 2 (no
traceback), and the commands and documents say what they do.

- files that are not UTF-8 (taxonomy YAML, labels.json, train/test JSONL, batch input, stdin)
  name the file, the byte and its offset;
- ``keys list`` / ``keys revoke ID`` without ``--workspace``, as the README shows them;
- ``train --taxonomy NAME --data-dir D``, and the hint ``taxonomies import`` prints;
- ``--shots`` below 1, ``--shots`` with ``--zero-shot`` or ``--model``, a missing batch input,
  an ``--id-field`` the records lack, an export file of another suffix;
- macro-F1 over the labels that occur (a one-label subset scored right is 1.0, not 1/K);
- ``[default: ...]`` in help texts is shown, not eaten as Rich markup;
- docs/configuration.md lists every ``TRIAGED_*`` variable the code reads; the README's
  quick start names ``TRIAGED_API_KEY`` and its demo figure is what ``triaged demo`` prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sklearn.metrics import f1_score
from typer.testing import CliRunner, Result

from triaged.classifier import Classifier
from triaged.cli import app
from triaged.errors import DatasetError, InvalidInput
from triaged.evaluation import evaluate, run_eval, sample_per_label
from triaged.examples import example_taxonomy
from triaged.taxonomy import Example, not_utf8, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "TERM": "xterm"}  # TERM=dumb means 80


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's rich consoles read COLUMNS once, at import (pytest-xdist workers set it to
    80): give every one of them 200 columns, as WIDE does for Typer's help."""
    import sys

    from rich.console import Console

    for name, module in list(sys.modules.items()):
        if name.startswith("triaged.cli") and module is not None:
            for value in vars(module).values():
                if isinstance(value, Console):
                    monkeypatch.setattr(value, "_width", 200)


TRAIN = [
    {"text": "I was charged twice for my order", "label": "billing"},
    {"text": "refund the duplicate payment please", "label": "billing"},
    {"text": "the app crashes when I open settings", "label": "technical"},
    {"text": "error 500 every time I log in", "label": "technical"},
]


def _error_line(r: Result, *needles: str) -> str:
    """The refusal: exit code 2, no exception, one error line (the last on stderr, after
    any progress lines) holding every needle."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0], r.stderr
    assert "Traceback" not in r.output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def _jsonl(rows: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _latin1(path: Path, prefix: bytes = b"") -> int:
    """Write ``prefix`` then a Latin-1 line; the offset of its 0xe9 byte."""
    bad = b'{"text": "caf\xe9 au lait", "label": "billing"}\n'
    path.write_bytes(prefix + bad)
    return len(prefix) + bad.index(b"\xe9")


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


@pytest.fixture
def data_dir(tmp_path: Path, dataset: Path) -> Path:
    """A data folder with a database, the workspace ``default`` and ``other``."""
    d = tmp_path / "d"
    for args in (
        ["db", "upgrade"],
        ["workspaces", "create", "default"],
        ["workspaces", "create", "other"],
    ):
        r = runner.invoke(app, [*args, "--data-dir", str(d)])
        assert r.exit_code == 0, r.output
    return d


# ------------------------------------------------------------------ not UTF-8
def test_a_taxonomy_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "l.yaml"
    f.write_bytes(b"name: t\nlabels:\n  - name: caf\xe9\n  - name: b\n")
    r = runner.invoke(app, ["taxonomies", "import", str(f), "--data-dir", str(tmp_path / "d")])
    _error_line(r, "invalid_taxonomy", f"{f}: not UTF-8 text (byte 0xe9 at offset 29)")
    r = runner.invoke(app, ["train", str(f), "-o", str(tmp_path / "m")])
    _error_line(r, f"{f}: not UTF-8 text (byte 0xe9 at offset 29)")


def test_a_dataset_that_is_not_utf8_is_one_line(tmp_path: Path, dataset: Path, model: Path) -> None:
    train = dataset / "train.jsonl"
    good = _jsonl(TRAIN[:2])
    offset = _latin1(train, good)
    want = f"{train}: not UTF-8 text (byte 0xe9 at offset {offset})"
    _error_line(runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "m")]), want)
    _error_line(runner.invoke(app, ["eval", str(dataset)]), "invalid_dataset", want)
    _error_line(runner.invoke(app, ["eval", "--model", str(model), str(train)]), want)
    labels = dataset / "labels.json"
    labels.write_bytes(b'[{"name": "caf\xe9"}]')
    r = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "m")])
    _error_line(r, f"{labels}: not UTF-8 text (byte 0xe9 at offset 14)")


def test_batch_input_that_is_not_utf8_is_one_line(tmp_path: Path, model: Path) -> None:
    src = tmp_path / "in.jsonl"
    offset = _latin1(src, b'{"text": "hello"}\n')
    out = tmp_path / "o.jsonl"
    r = runner.invoke(app, ["batch", str(src), "--model", str(model), "-o", str(out)])
    _error_line(r, f"{src}: not UTF-8 text (byte 0xe9 at offset {offset})")
    csv_src = tmp_path / "in.csv"
    csv_src.write_bytes(b"text\nhello\ncaf\xe9\n")
    r = runner.invoke(app, ["batch", str(csv_src), "--model", str(model), "-o", str(out)])
    _error_line(r, f"{csv_src}: not UTF-8 text (byte 0xe9 at offset 14)")
    assert not out.exists()


def test_classify_stdin_that_is_not_utf8_is_one_line(model: Path) -> None:
    r = runner.invoke(app, ["classify", str(model)], input=b'{"text": "ok"}\ncaf\xe9\n')
    _error_line(r, "stdin line 2: not UTF-8 text (byte 0xe9 at offset 18)")


def test_classify_names_an_empty_text_by_its_line(model: Path) -> None:
    """Blank lines are skipped, so "text 2" (counted from 0 among the others) named stdin
    line 4; an argument is named by its place from 1."""
    r = runner.invoke(app, ["classify", str(model)], input='play jazz\n\nrain\n{"text": " "}\n')
    _error_line(r, "stdin line 4: the text is empty")
    r = runner.invoke(app, ["classify", str(model)], input='""\n')
    _error_line(r, "stdin line 1: the text is empty")
    r = runner.invoke(app, ["classify", str(model), "refund please", "  "])
    _error_line(r, "text 2 is empty")


def test_classify_keeps_echoed_fields_named_like_result_fields(model: Path) -> None:
    """A gold ``label`` in the input came out overwritten by the predicted one."""
    line = '{"text": "I was charged twice", "label": "gold", "bucket": "b", "id": 7}\n'
    r = runner.invoke(app, ["classify", str(model)], input=line)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["input_label"], data["input_bucket"], data["id"]) == ("gold", "b", 7)
    assert data["label"] != "gold" and data["bucket"] in ("auto", "review", "hold")


def test_the_offset_is_right_past_the_read_chunk(tmp_path: Path) -> None:
    # a two-byte character split by the 1 MiB read, then a bad byte after it
    f = tmp_path / "big.jsonl"
    head = b"a" * ((1 << 20) - 1) + "é".encode() + b"\n" * 3
    f.write_bytes(head + b"\xff")
    err = not_utf8(f, DatasetError)
    assert err.message == f"{f}: not UTF-8 text (byte 0xff at offset {len(head)})"
    assert err.details["line"] == 4
    with pytest.raises(DatasetError, match="byte 0xe9 at offset 13"):
        _latin1(f)
        list(read_jsonl(f))


# ------------------------------------------------------------------ keys
def test_keys_list_and_revoke_without_a_workspace(data_dir: Path) -> None:
    ids = {}
    for ws in ("default", "other"):
        r = runner.invoke(
            app,
            ["keys", "create", "--workspace", ws, "--role", "admin", "--data-dir", str(data_dir)],
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            app, ["keys", "create", "--workspace", ws, "--data-dir", str(data_dir), "--json"]
        )
        ids[ws] = json.loads(r.stdout)["id"]
    r = runner.invoke(app, ["keys", "list", "--data-dir", str(data_dir), "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert {k["workspace"] for k in listed} == {"default", "other"} and len(listed) == 4
    r = runner.invoke(app, ["keys", "list", "--data-dir", str(data_dir)], env=WIDE)
    assert r.exit_code == 0, r.output
    assert "workspace" in r.stdout and ids["other"] in r.stdout and ids["default"] in r.stdout
    r = runner.invoke(
        app, ["keys", "list", "--workspace", "other", "--data-dir", str(data_dir), "--json"]
    )
    assert {k["workspace"] for k in json.loads(r.stdout)} == {"other"}

    r = runner.invoke(app, ["keys", "revoke", ids["other"], "--data-dir", str(data_dir), "--json"])
    assert r.exit_code == 0, r.output
    revoked = json.loads(r.stdout)
    assert revoked["workspace"] == "other" and revoked["revoked_at"]
    r = runner.invoke(app, ["keys", "revoke", "key_nope", "--data-dir", str(data_dir)])
    _error_line(r, "not_found", "key_nope")
    # with --workspace the key must be that workspace's
    r = runner.invoke(
        app,
        ["keys", "revoke", ids["default"], "--workspace", "other", "--data-dir", str(data_dir)],
    )
    _error_line(r, "not_found")


# ------------------------------------------------------------------ train --taxonomy
def test_train_a_served_taxonomy_in_a_data_dir(data_dir: Path, dataset: Path) -> None:
    r = runner.invoke(
        app,
        ["taxonomies", "import", str(dataset), "--name", "tiny", "--data-dir", str(data_dir)],
        env=WIDE,
    )
    assert r.exit_code == 0, r.output
    hint = f"`triaged train --taxonomy tiny --data-dir {data_dir}`"
    assert hint in " ".join(r.stderr.split())
    r = runner.invoke(
        app,
        [
            *("taxonomies", "import", str(dataset), "--name", "t2", "-w", "other"),
            "--data-dir",
            str(data_dir),
        ],
        env=WIDE,
    )
    assert r.exit_code == 0, r.output
    assert "--taxonomy t2 --workspace other --data-dir" in " ".join(r.stderr.split())

    r = runner.invoke(app, ["train", "--taxonomy", "tiny", "--data-dir", str(data_dir)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["train", "--taxonomy", "t2", "-w", "other", "--data-dir", str(data_dir)]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", "--taxonomy", "tiny", "--data-dir", str(data_dir / "no")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = runner.invoke(app, ["train", str(dataset), "--taxonomy", "tiny"])
    _error_line(r, "no SOURCE")


# ------------------------------------------------------------------ bad options
def test_shots_below_one_are_refused(tmp_path: Path, dataset: Path) -> None:
    for shots in ("-1", "0"):
        r = runner.invoke(app, ["train", str(dataset), "-o", str(tmp_path / "m"), "--shots", shots])
        _error_line(r, "invalid_input", f"shots must be at least 1, got {shots}")
        assert not (tmp_path / "m").exists()
    r = runner.invoke(
        app, ["taxonomies", "import", str(dataset), "--shots", "-2", "--data-dir", str(tmp_path)]
    )
    _error_line(r, "shots must be at least 1, got -2")
    with pytest.raises(InvalidInput, match="at least 1"):
        sample_per_label([Example("a", "b")], 0, seed=0)


def test_eval_of_an_empty_test_split_is_an_error(dataset: Path, model: Path) -> None:
    """It reported n_test 0 and an ECE of 0.0, exit 0."""
    (dataset / "test.jsonl").write_text("\n")
    _error_line(runner.invoke(app, ["eval", str(dataset)]), "no test items")
    r = runner.invoke(app, ["eval", "--model", str(model), str(dataset / "test.jsonl")])
    _error_line(r, "no test items")


def test_eval_refuses_options_it_would_ignore(dataset: Path, model: Path) -> None:
    r = runner.invoke(app, ["eval", str(dataset), "--shots", "5", "--zero-shot"])
    _error_line(r, "--shots and --zero-shot")
    with pytest.raises(InvalidInput, match="exclude each other"):
        run_eval(dataset, shots=5, zero_shot=True)
    r = runner.invoke(app, ["eval", str(dataset), "--model", str(model), "--shots", "5"])
    _error_line(r, "--shots: not with --model")


def test_batch_refuses_a_missing_input_and_a_missing_id_field(tmp_path: Path, model: Path) -> None:
    out = tmp_path / "o.jsonl"
    r = runner.invoke(
        app, ["batch", str(tmp_path / "nope.jsonl"), "--model", str(model), "-o", str(out)]
    )
    _error_line(r, f"{tmp_path / 'nope.jsonl'}: no such file")
    r = runner.invoke(app, ["batch", str(tmp_path), "--model", str(model), "-o", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output  # a folder (no known suffix)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a", "ticket": 1}\n{"text": "b"}\n', encoding="utf-8")
    args = ["batch", str(src), "--model", str(model), "-o", str(out), "--id-field"]
    _error_line(runner.invoke(app, [*args, "nope"]), f"{src} line 1 has no field 'nope'")
    _error_line(runner.invoke(app, [*args, "ticket"]), f"{src} line 2 has no field 'ticket'")
    assert not out.exists()
    src.write_text('{"text": "a", "ticket": 1}\n{"text": "b", "ticket": null}\n', encoding="utf-8")
    r = runner.invoke(app, [*args, "ticket"])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["1", None]


def test_batch_names_a_missing_or_mistyped_text_and_refuses_deep_json(
    tmp_path: Path, model: Path
) -> None:
    out, src = tmp_path / "o.jsonl", tmp_path / "in.csv"
    args = ["batch", str(src), "--model", str(model), "-o", str(out)]
    src.write_text("id,body\n1,refund please\n", encoding="utf-8")
    _error_line(runner.invoke(app, args), f"{src} line 2 has no text in field 'text'", "id, body")
    src = tmp_path / "in.jsonl"
    args[1] = str(src)
    src.write_text('{"text": "fine"}\n{"text": 5}\n', encoding="utf-8")
    _error_line(
        runner.invoke(app, args), f"{src} line 2: field 'text' must be a string, not a number"
    )
    src.write_text("[" * 100_000 + "\n", encoding="utf-8")
    _error_line(runner.invoke(app, args), f"{src} line 1: not JSON")
    assert not out.exists()


def test_export_refuses_a_suffix_it_does_not_write(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        ["taxonomies", "export", "t", "-o", str(tmp_path / "x.txt"), "--data-dir", str(tmp_path)],
    )
    _error_line(r, "x.txt: write a .yaml, .yml or .json file")
    assert not (tmp_path / "x.txt").exists()


def test_export_under_a_file_or_onto_a_folder_is_one_line(data_dir: Path, dataset: Path) -> None:
    # -o x.txt/out.yaml was a FileExistsError traceback, -o folder.yaml an IsADirectoryError
    where = ["--data-dir", str(data_dir)]
    r = runner.invoke(app, ["taxonomies", "import", str(dataset), "--name", "t", *where])
    assert r.exit_code == 0, r.output
    (data_dir / "x.txt").write_text("in the way\n")
    (data_dir / "folder.yaml").mkdir()
    for target, why in (("x.txt/out.yaml", "File exists"), ("folder.yaml", "Is a directory")):
        r = runner.invoke(app, ["taxonomies", "export", "t", "-o", str(data_dir / target), *where])
        _error_line(r, "os_error", why)
    assert (data_dir / "x.txt").read_text() == "in the way\n"


# ------------------------------------------------------------------ macro-F1
def test_macro_f1_of_a_one_label_subset(model: Path) -> None:
    clf = Classifier.load(model)
    texts = list(clf.taxonomy.labels[0].examples)
    predicted = [clf.classify(t).label for t in texts]
    report = evaluate(clf, texts, [clf.taxonomy.labels[0].name] * len(texts))
    truth = [clf.taxonomy.labels[0].name] * len(texts)
    want = f1_score(truth, predicted, labels=sorted(set(truth) | set(predicted)), average="macro")
    assert report["macro_f1"] == pytest.approx(want)
    if report["accuracy"] == 1.0:
        assert report["macro_f1"] == pytest.approx(1.0)  # was 1/K: absent labels counted 0
    assert report["macro_f1"] > 1.5 / len(clf.taxonomy.labels)


# ------------------------------------------------------------------ help and docs
def test_help_texts_show_their_defaults() -> None:
    r = runner.invoke(app, ["eval", "--help"], env=WIDE)
    said = " ".join(r.output.split())
    for text in (
        "bound [default: 0.02].",
        "that bound [default: 0.95].",
        "no label [default: 0.2;",
    ):
        assert text in said
    r = runner.invoke(app, ["taxonomies", "import", "--help"], env=WIDE)
    assert "Name to serve it under [default: its own]." in " ".join(r.output.split())
    r = runner.invoke(app, ["keys", "list", "--help"], env=WIDE)
    assert "[default: every workspace]" in " ".join(r.output.split())


def test_configuration_lists_every_variable_the_code_reads() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    found = set()
    for path in (ROOT / "src" / "triaged").rglob("*.py"):
        found |= set(re.findall(r"TRIAGED_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", path.read_text()))
    assert {"TRIAGED_URL", "TRIAGED_API_KEY", "TRIAGED_WEBHOOK_ALLOW_HOSTS"} <= found
    assert sorted(v for v in found if f"`{v}`" not in doc) == []


def test_readme_names_the_key_variable_and_the_demo_figure() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "export TRIAGED_API_KEY=$TRIAGED_KEY" in readme
    r = runner.invoke(app, ["demo"], env=WIDE)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if "pizza" in line)
    label, confidence, bucket = [c.strip() for c in row.split("│")[2:5]]
    # the int8 encoder's vectors differ a little between CPUs, and a model of 8 examples per
    # label carries that into its confidences: the README gives the range measured
    found = re.search(r"comes out\s+`(\S+) (\S+) (\S+)`\s+\((\S+)–(\S+)\s+on\s+the\s+CPUs", readme)
    assert found, "the README's demo figure"
    assert (found[1], found[3]) == (label, bucket)
    low, high = float(found[4]), float(found[5])
    assert low <= float(found[2]) <= high
    assert low - 0.02 <= float(confidence) <= high + 0.02, (confidence, low, high)


def test_eval_of_a_missing_path_says_so_before_any_stage(tmp_path: Path) -> None:
    """It printed "eval: training on X/train.jsonl ..." and then "a dataset folder needs
    labels.json or train.jsonl" for a path that does not exist."""
    missing = tmp_path / "nonexistent"
    r = runner.invoke(app, ["eval", str(missing)])
    _error_line(r, f"{missing}: no such file or folder")
    assert "training on" not in r.output
