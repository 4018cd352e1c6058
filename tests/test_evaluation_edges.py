"""`triaged eval` at its edges: strict JSON when a figure is undefined, an empty training
split, labels a folder without labels.json never trains on, and the saved-model report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers import slice_dataset
from triaged.classifier import Classifier
from triaged.cli import app
from triaged.errors import DatasetError
from triaged.evaluation import run_eval
from triaged.taxonomy import Taxonomy

runner = CliRunner()


def _strict(text: str) -> dict[str, Any]:
    """``text`` parsed as RFC 8259 JSON: NaN and Infinity are not JSON (JavaScript's
    JSON.parse, Go and serde refuse them)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    parsed: dict[str, Any] = json.loads(text, parse_constant=refuse)
    return parsed


@pytest.fixture(scope="module")
def clinc6(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """6 CLINC150 labels x 12 train / 6 test items, plus 8 of the dataset's oos test items."""
    return slice_dataset(
        datasets_dir / "clinc150",
        tmp_path_factory.mktemp("edges") / "clinc6",
        labels=6,
        train_per_label=12,
        test_per_label=6,
        oos_test=8,
    )


def _copy(src: Path, dst: Path, *, test: list[str] | None = None) -> Path:
    dst.mkdir()
    for name in ("labels.json", "train.jsonl", "test.jsonl"):
        (dst / name).write_bytes((src / name).read_bytes())
    if test is not None:
        (dst / "test.jsonl").write_text("".join(line + "\n" for line in test))
    return dst


def test_json_output_is_strict_json_when_a_figure_is_undefined(
    clinc6: Path, tmp_path: Path
) -> None:
    """A test set of out-of-scope items only, all held: the Matthews correlation (one class
    on both sides) and the known labels' F1 (no known label) are undefined. `--json` printed
    them as NaN, which is not JSON; they are null."""
    lines = (clinc6 / "test.jsonl").read_text().splitlines()
    only_oos = _copy(clinc6, tmp_path / "oos", test=[x for x in lines if '"oos"' in x])
    res = runner.invoke(app, ["eval", str(only_oos), "--expected-oos", "0.9", "--json"])
    assert res.exit_code == 0, res.output
    rep = _strict(res.stdout)
    assert rep["n_oos"] == rep["n_test"] == 8 and rep["oos_hold_rate"] == 1.0
    assert rep["mcc_hold_as_oos"] is None and rep["known_f1"] is None
    assert rep["open_f1"] == 1.0 and rep["auto_error_all"] == 0.0


def test_an_empty_training_split_is_refused_not_scored_zero_shot(
    clinc6: Path, tmp_path: Path
) -> None:
    """An empty train.jsonl (beside labels.json) was scored zero-shot with exit code 0: the
    report of a run that trained on nothing, under the name of a trained one."""
    empty = _copy(clinc6, tmp_path / "empty")
    (empty / "train.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match=r"train\.jsonl: no training items"):
        run_eval(empty)
    res = runner.invoke(app, ["eval", str(empty), "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "invalid_dataset" in res.output and "--zero-shot" in res.output
    assert run_eval(empty, zero_shot=True)["mode"] == "zero-shot"  # asked for: fine


def test_open_protocol_where_the_known_labels_have_no_training_item(
    clinc6: Path, tmp_path: Path
) -> None:
    """The known labels drawn for a seed may have no training item: the model would be
    trained on nothing and scored zero-shot; refused like an empty split."""
    folder = _copy(clinc6, tmp_path / "one_label_trained")
    labels = [lb["name"] for lb in json.loads((folder / "labels.json").read_text())]
    rows = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
    (folder / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["label"] == labels[0])
    )
    from triaged.evaluation import known_labels_for_seed

    seed = next(s for s in range(100) if labels[0] not in known_labels_for_seed(labels, 0.3, s))
    with pytest.raises(DatasetError, match="no training items"):
        run_eval(folder, known_ratio=0.3, seed=seed)


def test_open_protocol_without_labels_json_counts_unseen_test_labels_as_open(
    clinc6: Path, tmp_path: Path
) -> None:
    """Without labels.json, a test label train.jsonl never uses was marked `oos` and then
    left out of the open-intent protocol as one of the dataset's own oos items: those items
    vanished from the open class (n_test and every open figure were wrong)."""
    folder = _copy(clinc6, tmp_path / "nolabels")
    (folder / "labels.json").unlink()
    labels = [lb["name"] for lb in json.loads((clinc6 / "labels.json").read_text())]
    rows = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
    (folder / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["label"] != labels[-1])
    )
    rep = run_eval(folder, known_ratio=0.5, seed=0)
    # 5 trained labels (2 known, 3 open) + the untrained one (open); the 8 oos items left out
    assert rep["n_known_labels"] == 2 and rep["n_labels"] == 5
    assert rep["n_test"] == 36 and rep["n_in_scope"] == 12 and rep["n_oos"] == 24
    assert labels[-1] not in rep["known_labels"]
    closed = run_eval(folder)  # closed protocol: unseen label = out of scope, as before
    assert closed["n_oos"] == 8 + 6 and closed["n_in_scope"] == 30


def test_saved_model_report_names_the_routing_it_used(clinc6: Path, tmp_path: Path) -> None:
    """`eval --model --json` left out auto_error_target, confidence_level and
    expected_out_of_scope unless given, so its report did not say how it was routed."""
    Classifier.from_taxonomy(Taxonomy.from_dataset_dir(clinc6)).fit().save(tmp_path / "m")
    res = runner.invoke(app, ["eval", "--model", str(tmp_path / "m"), str(clinc6), "--json"])
    assert res.exit_code == 0, res.output
    rep = _strict(res.stdout)
    assert rep["auto_error_target"] == 0.02 and rep["confidence_level"] == 0.95
    assert rep["expected_out_of_scope"] == 0.2
    for key in ("auto_error_all", "open_f1", "known_f1", "f1_open_macro", "mcc_hold_as_oos"):
        assert key in rep
    given = runner.invoke(
        app,
        ["eval", "--model", str(tmp_path / "m"), str(clinc6), "--expected-oos", "0.5", "--json"],
    )
    assert _strict(given.stdout)["expected_out_of_scope"] == 0.5


@pytest.mark.parametrize("ratio", ["0", "1.5", "-0.1", "nan"])
def test_a_bad_known_ratio_is_refused_before_any_work(clinc6: Path, ratio: str) -> None:
    """It said "eval: training on ..." and read the dataset before refusing the ratio."""
    res = runner.invoke(app, ["eval", str(clinc6), "--known-ratio", ratio, "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "known ratio must be in (0, 1]" in res.output and "training on" not in res.output


def test_the_table_says_how_many_labels_the_ratio_made_known(clinc6: Path) -> None:
    """--known-ratio 0.1 of 6 labels knows 2 (at least 2), and 0.95 all 6 (rounded), which
    leaves nothing open: the table's title said "known ratio 0.1" / "0.95" and nothing more,
    and a run with no open item showed no open figure without a word."""
    res = runner.invoke(app, ["eval", str(clinc6), "--known-ratio", "0.1"])
    assert res.exit_code == 0, res.output
    assert "known ratio 0.1 (2 of 6 labels)" in " ".join(res.stdout.split())
    res = runner.invoke(app, ["eval", str(clinc6), "--known-ratio", "0.95"])
    assert res.exit_code == 0, res.output
    assert "known ratio 0.95 (6 of 6 labels)" in " ".join(res.stdout.split())
    assert "no test item is open" in " ".join(res.stderr.split())


@pytest.mark.parametrize("split", ["test", "train"])
def test_an_invisible_only_text_names_its_file_and_line(
    clinc6: Path, tmp_path: Path, split: str
) -> None:
    """A text of zero-width characters only (which the service refuses to classify, 422)
    was scored as a test item, and as a training item failed with "labels[0].examples[2]:
    examples must be non-empty strings", naming neither the file nor the line."""
    folder = _copy(clinc6, tmp_path / split)
    lines = (folder / f"{split}.jsonl").read_text().splitlines()
    label = json.loads(lines[0])["label"]
    lines.insert(2, json.dumps({"text": "\u200b\u2060 ", "label": label}))
    (folder / f"{split}.jsonl").write_text("".join(x + "\n" for x in lines))
    with pytest.raises(DatasetError, match=rf"{split}\.jsonl:3: 'text' must be a non-empty"):
        run_eval(folder)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--shots", "0"], "shots must be at least 1"),
        (["--expected-oos", "1"], "expected_out_of_scope must be in [0, 1)"),
        (["--auto-error-target", "0"], "auto_error_target must be in (0, 1)"),
        (["--seeds", "3-1"], "seeds must look like 0-4"),
        (["--seeds", "0-"], "seeds must look like 0-4"),
    ],
)
def test_a_bad_option_is_refused_before_any_stage(clinc6: Path, args: list[str], says: str) -> None:
    """Each was refused after "eval: training on ..." (or "seeds 3-1: training and scoring
    each ...") had been said and the dataset read."""
    res = runner.invoke(app, ["eval", str(clinc6), *args, "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert says in res.output and "eval:" not in res.output, res.output


def test_a_bad_routing_option_with_model_is_refused_before_the_model_loads(
    tmp_path: Path,
) -> None:
    """`eval --model M D --auto-error-target 0` loaded the model and said "scoring 58 texts"
    before refusing the option."""
    res = runner.invoke(
        app, ["eval", "--model", str(tmp_path / "none"), str(tmp_path), "--auto-error-target", "0"]
    )
    assert res.exit_code == 2 and "auto_error_target must be in (0, 1)" in res.output
    assert "eval:" not in res.output, res.output


@pytest.mark.parametrize(
    ("text", "says"), [("a\ud800b", "a lone surrogate (U+D800)"), ("a\x00b", "a NUL character")]
)
def test_a_test_text_the_service_refuses_names_its_file_and_line(
    clinc6: Path, tmp_path: Path, text: str, says: str
) -> None:
    """A lone surrogate (JSON "\\ud800") reached the tokenizer: a TypeError traceback; a NUL
    was scored. /v1/classify refuses both (422): so does the dataset reader, with the line."""
    folder = _copy(clinc6, tmp_path / "bad")
    lines = (folder / "test.jsonl").read_text().splitlines()
    lines.insert(1, json.dumps({"text": text, "label": "oos"}))
    (folder / "test.jsonl").write_text("".join(x + "\n" for x in lines))
    res = runner.invoke(app, ["eval", str(folder), "--json"])
    assert res.exit_code == 2 and res.stdout == "", res.output
    said = " ".join(res.output.split())
    assert "invalid_dataset" in said and f"test.jsonl:2: 'text' contains {says}" in said


def _as_indices(folder: Path, names: list[str]) -> None:
    """Rewrite the folder's splits with each label as its place in ``names`` (an integer,
    as many dataset exports write labels); the oos items keep their name."""
    for split in ("train.jsonl", "test.jsonl"):
        rows = [json.loads(x) for x in (folder / split).read_text().splitlines()]
        (folder / split).write_text(
            "".join(
                json.dumps(
                    {**r, "label": names.index(r["label"]) if r["label"] in names else r["label"]}
                )
                + "\n"
                for r in rows
            )
        )


def test_integer_labels_name_their_place_in_labels_json(clinc6: Path, tmp_path: Path) -> None:
    """A dataset whose labels are class indices (0, 1, ...) with a labels.json of names in
    that order (objects or names alone) is read as the named labels; it was refused ("'label'
    must be a non-empty string")."""
    reference = run_eval(clinc6)
    folder = _copy(clinc6, tmp_path / "indexed")
    names = [lb["name"] for lb in json.loads((clinc6 / "labels.json").read_text())]
    _as_indices(folder, names)
    assert '"label": 0' in (folder / "train.jsonl").read_text()
    rep = run_eval(folder)
    assert rep["accuracy"] == reference["accuracy"] and rep["n_test"] == reference["n_test"]
    assert rep["n_oos"] == reference["n_oos"]
    (folder / "labels.json").write_text(json.dumps(names))  # names alone
    assert Taxonomy.from_dataset_dir(folder).label_names == [n for n in names if n != "oos"]
    assert run_eval(folder)["accuracy"] == reference["accuracy"]


def test_integer_labels_without_labels_json_are_their_digits(clinc6: Path, tmp_path: Path) -> None:
    folder = _copy(clinc6, tmp_path / "digits")
    names = [lb["name"] for lb in json.loads((clinc6 / "labels.json").read_text())]
    _as_indices(folder, names)
    (folder / "labels.json").unlink()
    tax = Taxonomy.from_dataset_dir(folder)
    assert sorted(tax.label_names) == sorted(str(i) for i, n in enumerate(names) if n != "oos")
    assert run_eval(folder)["n_test"] == run_eval(clinc6)["n_test"]


def test_a_boolean_label_is_refused_naming_its_line(clinc6: Path, tmp_path: Path) -> None:
    folder = _copy(clinc6, tmp_path / "bools")
    rows = (folder / "train.jsonl").read_text().splitlines()
    rows[2] = json.dumps({"text": "is this a label?", "label": True})
    (folder / "train.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"train\.jsonl:3: 'label' must be a non-empty string"):
        run_eval(folder)
