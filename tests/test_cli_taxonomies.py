"""The operator CLI end to end (issue 12 part 6), on real SQLite files and the bundled encoder:

- ``triaged taxonomies import`` of ``../shared/datasets/snips`` (the full training set stored,
  and a per-label slice trained), ``export`` to YAML and back;
- a taxonomy file with a misspelt key fails with file:line and a suggestion;
- operator commands refuse to create a new, empty database (``triaged db upgrade`` does);
- ``keys list`` shows ids in full, also on a narrow terminal;
- ``triaged eval --model DIR`` scores a saved model, with progress on stderr under ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import DATASETS
from triaged.cli import app

SNIPS = DATASETS / "snips"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["workspaces", "create", "default", "--database-url", url])
    assert r.exit_code == 0, r.output
    return url


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def test_import_snips_export_and_import_back(db: str, tmp_path: Path) -> None:
    if not SNIPS.exists():
        pytest.fail(f"dataset missing: {SNIPS}")
    r = runner.invoke(
        app, ["taxonomies", "import", str(SNIPS), "--name", "snips", "--database-url", db, "--json"]
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    labels = [lb["name"] for lb in json.loads((SNIPS / "labels.json").read_text())]
    assert [lb["name"] for lb in info["labels"]] == labels
    assert info["n_examples"] == _lines(SNIPS / "train.jsonl")  # all 13,084 stored
    assert info["ready"] and info["model"]["mode"] == "zero-shot"  # not trained yet
    assert "served zero-shot until trained" not in r.stdout

    out = tmp_path / "snips.yaml"
    r = runner.invoke(app, ["taxonomies", "export", "snips", "-o", str(out), "--database-url", db])
    assert r.exit_code == 0, r.output
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert [lb["name"] for lb in exported["labels"]] == labels
    assert sum(len(lb["examples"]) for lb in exported["labels"]) == info["n_examples"]
    assert "thresholds" not in exported  # no pinned policy: none written

    r = runner.invoke(
        app,
        ["taxonomies", "import", str(out), "--name", "snips-copy", "--database-url", db, "--json"],
    )
    assert r.exit_code == 0, r.output
    copy = json.loads(r.stdout)
    assert copy["n_examples"] == info["n_examples"]
    assert [(lb["name"], lb["n_examples"]) for lb in copy["labels"]] == [
        (lb["name"], lb["n_examples"]) for lb in info["labels"]
    ]
    r = runner.invoke(
        app, ["taxonomies", "import", str(out), "--name", "snips", "--database-url", db]
    )
    assert r.exit_code == 2 and "already exists" in r.output


def test_thresholds_a_file_sets_round_trip_and_unset_ones_stay_unset(
    db: str, tmp_path: Path
) -> None:
    """A file that sets ``auto`` alone: the taxonomy shows it and null for ``review`` (both
    read 0.85/0.60 until 6 December whatever the file set), the export writes it alone, and
    the file imported back is the same definition."""
    path = tmp_path / "support.yaml"
    path.write_text(
        "name: support\nthresholds: {auto: 0.9}\nlabels:\n  - name: billing\n"
        "    examples: [refund please]\n  - name: bug\n    examples: [the app crashes]\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["taxonomies", "import", str(path), "--database-url", db, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["thresholds"] == {"auto": 0.9, "review": None}
    out = tmp_path / "export.yaml"
    r = runner.invoke(
        app, ["taxonomies", "export", "support", "-o", str(out), "--database-url", db]
    )
    assert r.exit_code == 0, r.output
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert exported["thresholds"] == {"auto": 0.9}
    r = runner.invoke(
        app, ["taxonomies", "import", str(out), "--name", "copy", "--database-url", db, "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["thresholds"] == {"auto": 0.9, "review": None}
    again = tmp_path / "again.yaml"
    r = runner.invoke(app, ["taxonomies", "export", "copy", "-o", str(again), "--database-url", db])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(again.read_text(encoding="utf-8")) == {**exported, "name": "copy"}


def test_import_a_slice_of_snips_and_train(db: str) -> None:
    r = runner.invoke(
        app,
        [
            "taxonomies",
            "import",
            str(SNIPS),
            "--name",
            "snips-30",
            "--shots",
            "30",
            "--train",
            "--database-url",
            db,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["n_examples"] == 7 * 30
    assert info["ready"] and info["model"]["status"] == "ready"
    assert info["model"]["mode"] != "zero-shot" and info["model"]["n_examples"] == 210
    assert "training 'snips-30': 7 labels, 210 examples" in r.stderr


def test_a_misspelt_key_names_file_line_and_the_right_key(db: str, tmp_path: Path) -> None:
    path = tmp_path / "support.yaml"
    path.write_text(
        "name: support\nlabels:\n  - name: billing\n    descripton: money\n  - name: bug\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["taxonomies", "import", str(path), "--database-url", db])
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert f"{path}:4: unknown key 'descripton'" in text and "did you mean 'description'" in text


def test_operator_commands_never_create_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("TRIAGED_DATABASE_URL", "TRIAGED_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    for args in (
        ["keys", "list", "--workspace", "default"],
        ["workspaces", "list"],
        ["taxonomies", "export", "support", "-o", "x.yaml"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        text = " ".join(r.output.split())
        assert f"no triaged database at {tmp_path / 'data' / 'triaged.db'}" in text
        assert "triaged db upgrade" in text
    assert not (tmp_path / "data").exists()
    empty = tmp_path / "empty.db"
    empty.touch()  # a file that is no triaged database
    r = runner.invoke(app, ["workspaces", "list", "--database-url", f"sqlite:///{empty}"])
    assert r.exit_code == 2 and "no triaged schema" in " ".join(r.output.split())
    # asked for: db upgrade creates it, then the same command works
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["workspaces", "list"])
    assert r.exit_code == 0, r.output


def test_keys_list_shows_full_ids(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    r = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--workspace",
            "default",
            "--name",
            "a long descriptive key name",
            "--database-url",
            db,
            "--json",
        ],
    )
    key_id = json.loads(r.stdout)["id"]
    monkeypatch.setenv("COLUMNS", "60")
    r = runner.invoke(app, ["keys", "list", "--workspace", "default", "--database-url", db])
    assert r.exit_code == 0, r.output
    assert key_id in r.stdout  # whole, pasteable into `keys revoke`
    r = runner.invoke(
        app, ["keys", "list", "--workspace", "default", "--database-url", db, "--json"]
    )
    assert [k["id"] for k in json.loads(r.stdout)] == [key_id]
    r = runner.invoke(
        app, ["keys", "revoke", key_id, "--workspace", "default", "--database-url", db]
    )
    assert r.exit_code == 0, r.output


def test_review_versions_shows_full_model_ids(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table `review rollback` points to: its ids whole, pasteable, on a narrow terminal."""
    spec = tmp_path / "tiny.yaml"
    labels = [{"name": n, "description": f"questions about {n}"} for n in ("billing", "shipping")]
    spec.write_text(yaml.safe_dump({"name": "tiny", "labels": labels}), encoding="utf-8")
    r = runner.invoke(app, ["taxonomies", "import", str(spec), "--database-url", db])
    assert r.exit_code == 0, r.output
    args = ["review", "versions", "tiny", "--database-url", db]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    model_id = json.loads(r.stdout)[0]["id"]
    monkeypatch.setenv("COLUMNS", "60")
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert model_id in r.stdout  # whole, pasteable into `review rollback`
    r = runner.invoke(app, ["review", "rollback", "tiny", model_id, "--database-url", db])
    assert r.exit_code == 0, r.output


def test_eval_of_a_saved_model_reports_progress_on_stderr(tmp_path: Path) -> None:
    model = tmp_path / "model"
    r = runner.invoke(app, ["train", str(SNIPS), "--shots", "8", "-o", str(model)])
    assert r.exit_code == 0, r.output
    test = tmp_path / "test.jsonl"
    rows = (SNIPS / "test.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    test.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["eval", "--model", str(model), str(test), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)  # stdout is the JSON alone
    assert report["n_test"] == 60 and report["protocol"] == "saved-model"
    assert 0.0 <= report["accuracy"] <= 1.0 and report["auto_threshold_source"] == "certified"
    assert "eval: scoring 60 texts" in r.stderr and "eval: done in" in r.stderr
    r = runner.invoke(app, ["eval", "--model", str(tmp_path / "nope"), str(test)])
    assert r.exit_code == 2 and "not a triaged model folder" in " ".join(r.output.split())
