"""`triaged batch` locally: JSONL, CSV and Parquet in, Parquet and JSONL out, in input order,
equal to classify(); ``--taxonomy`` routes by the served taxonomy's policy."""

from __future__ import annotations

import csv
import json
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import small_taxonomy
from tests.servicekit import TINY_TAXONOMY, make_stack
from triaged.batchio import read_results
from triaged.classifier import Classifier
from triaged.cli import app
from triaged.errors import TriagedError
from triaged.taxonomy import read_jsonl

runner = CliRunner()


def _said(r: object) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(str(getattr(r, "output", "")).split())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("model")
    Classifier.from_taxonomy(small_taxonomy(datasets_dir, tmp)).fit().save(tmp / "model")
    return tmp / "model"


@pytest.fixture(scope="module")
def texts(datasets_dir: Path) -> list[str]:
    return [e.text for e in read_jsonl(datasets_dir / "clinc150" / "test.jsonl")][:90]


def _write_inputs(folder: Path, texts: list[str]) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"msg": t, "key": f"k{i}", "meta": {"n": i}} for i, t in enumerate(texts)]
    paths = {
        "jsonl": folder / "in.jsonl",
        "csv": folder / "in.csv",
        "parquet": folder / "in.parquet",
    }
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["key", "msg"])
        w.writeheader()
        w.writerows({"key": r["key"], "msg": r["msg"]} for r in rows)
    pq.write_table(pa.table({"msg": texts, "key": [r["key"] for r in rows]}), paths["parquet"])
    return paths


def test_every_format_gives_classify_results_in_order(
    model_dir: Path, texts: list[str], tmp_path: Path
) -> None:
    clf = Classifier.load(model_dir)
    want = [clf.classify(t) for t in texts]
    inputs = _write_inputs(tmp_path, texts)
    for fmt, src in inputs.items():
        for suffix in ("parquet", "jsonl"):
            out = tmp_path / f"{fmt}.out.{suffix}"
            args = ["batch", str(src), "--model", str(model_dir), "-o", str(out)]
            args += ["--text-field", "msg", "--id-field", "key", "--chunk", "32"]
            r = runner.invoke(app, args)
            assert r.exit_code == 0, r.output
            rows = read_results(out)
            assert [x["row"] for x in rows] == list(range(len(texts)))
            assert [x["id"] for x in rows] == [f"k{i}" for i in range(len(texts))]
            for x, res in zip(rows, want, strict=True):
                assert x["label"] == res.label and x["bucket"] == res.bucket.value
                assert abs(x["confidence"] - res.confidence) <= 1e-6
                alts = x["alternatives"]  # Parquet: JSON text; JSON Lines: the array itself
                alts = json.loads(alts) if suffix == "parquet" else alts
                assert isinstance(alts, list)
                assert [a["label"] for a in alts] == [a.label for a in res.alternatives]
                assert x["model_version"] == clf.model_version


def test_bad_input_is_refused_with_the_line(model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "hello there"}\n{"text": "  "}\n', encoding="utf-8")
    out = tmp_path / "x.jsonl"
    out.write_text("an earlier run's output\n", encoding="utf-8")
    r = runner.invoke(app, ["batch", str(src), "--model", str(model_dir), "-o", str(out)])
    assert r.exit_code == 2 and f"{src} line 2: the text in field 'text' is empty" in _said(r)
    # nothing half-written: the earlier output is untouched and no partial file is left
    assert out.read_text(encoding="utf-8") == "an earlier run's output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "x.jsonl"]
    r = runner.invoke(app, ["batch", str(src), "-o", str(tmp_path / "x.jsonl")])
    assert r.exit_code == 2 and "exactly one of --taxonomy" in _said(r)
    r = runner.invoke(
        app, ["batch", str(src), "--model", str(model_dir), "-o", str(tmp_path / "x.txt")]
    )
    assert r.exit_code == 2 and "unknown output format" in _said(r)
    # a .parquet that is not Parquet (a renamed JSONL): one line, not an ArrowInvalid traceback
    fake = tmp_path / "renamed.parquet"
    fake.write_bytes(src.read_bytes())
    r = runner.invoke(app, ["batch", str(fake), "--model", str(model_dir), "-o", str(out)])
    assert r.exit_code == 2 and "renamed.parquet: not a Parquet file" in _said(r), r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert out.read_text(encoding="utf-8") == "an earlier run's output\n"


def test_an_input_with_no_rows_is_refused_and_the_output_kept(
    model_dir: Path, tmp_path: Path
) -> None:
    """As ``POST /v1/jobs`` refuses an upload with no rows: an empty JSONL, a CSV with only
    its header, a Parquet file of no rows; the earlier output stays, no partial file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = {"jsonl": tmp_path / "e.jsonl", "csv": tmp_path / "e.csv"}
    inputs["jsonl"].write_text("\n \n", encoding="utf-8")
    inputs["csv"].write_text("id,text\n", encoding="utf-8")
    inputs["parquet"] = tmp_path / "e.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), inputs["parquet"])
    out = tmp_path / "x.jsonl"
    out.write_text("kept\n", encoding="utf-8")
    for src in inputs.values():
        r = runner.invoke(app, ["batch", str(src), "--model", str(model_dir), "-o", str(out)])
        assert r.exit_code == 2, r.output
        assert f"{src.name}: the input holds no rows" in _said(r), r.output
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.jsonl", *(p.name for p in inputs.values())]
    )


def test_taxonomy_uses_the_active_model_and_routing_policy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    stack = make_stack("sqlite", url)
    svc = stack.service
    tenant = stack.tenant()
    principal = svc.authenticate(tenant.key)
    svc.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
    deadline = time.monotonic() + 120
    while True:
        try:
            clf = svc.classifier(principal, "support")
            break
        except TriagedError:
            assert time.monotonic() < deadline, "the taxonomy was not trained"
            time.sleep(0.5)
    policy, _ = svc.jobs_policy(svc.taxonomy_record(principal, "support"), clf)
    texts = ["I was charged twice", "the app crashes on start", "change my email please"]
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = tmp_path / "t.out.jsonl"
    db = ["--workspace", tenant.workspace, "--database-url", url, "-o", str(out)]
    try:
        r = runner.invoke(app, ["batch", str(src), "--taxonomy", "support", *db])
        assert r.exit_code == 0, r.output
        rows = read_results(out)
        assert [x["label"] for x in rows] == ["billing", "bug", "account"]
        for x, t in zip(rows, texts, strict=True):
            res = clf.classify(t)
            assert x["model_version"] == clf.model_version
            assert abs(x["confidence"] - res.confidence) <= 1e-6
            assert x["bucket"] == policy.route(res.confidence).value  # the service's policy
        r = runner.invoke(app, ["batch", str(src), "--taxonomy", "nope", *db])
        assert r.exit_code == 2 and "not_found" in _said(r)
        # an archived taxonomy classifies nothing here either (it did, exit 0)
        svc.archive_taxonomy(principal, "support")
        out.unlink()
        r = runner.invoke(app, ["batch", str(src), "--taxonomy", "support", *db])
        assert r.exit_code == 2 and "archived" in _said(r) and not out.exists()
    finally:
        svc.close()


def test_a_ray_address_ray_cannot_read_is_one_line(model_dir: Path, tmp_path: Path) -> None:
    """`--ray notanaddress` was Ray's ValueError traceback; nothing is written."""
    pytest.importorskip("ray")
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "hello there"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["batch", str(src), "--model", str(model_dir), "-o", str(out), "--ray", "notanaddress"]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "--ray notanaddress: Invalid address format" in _said(r)
    assert not out.exists()


def test_an_output_that_is_the_input_is_refused(model_dir: Path, tmp_path: Path) -> None:
    """`triaged batch in.jsonl -o in.jsonl` renamed the results onto the input: the file the
    user had was gone. Refused, and the input is left as it was."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "hello there"}\n', encoding="utf-8")
    same = tmp_path / "." / "in.jsonl"
    r = runner.invoke(app, ["batch", str(src), "--model", str(model_dir), "-o", str(same)])
    assert r.exit_code == 2 and "the output would replace the input" in _said(r), r.output
    assert src.read_text(encoding="utf-8") == '{"text": "hello there"}\n'
    # an output that is a folder: refused before the work (it failed after it, naming the
    # hidden partial file: "cannot use .out.jsonl.123.partial: Is a directory")
    (tmp_path / "out.jsonl").mkdir()
    r = runner.invoke(
        app, ["batch", str(src), "--model", str(model_dir), "-o", str(tmp_path / "out.jsonl")]
    )
    assert r.exit_code == 2 and "out.jsonl: a folder; give the output a file name" in _said(r)
    assert not list(tmp_path.glob(".*partial"))
    # an output in a folder that is not there: refused, as `jobs results -o` refuses it (a
    # misspelt folder was created)
    missing = tmp_path / "no" / "such" / "out.jsonl"
    r = runner.invoke(app, ["batch", str(src), "--model", str(model_dir), "-o", str(missing)])
    assert r.exit_code == 2 and f"no such folder {missing.parent}" in _said(r), r.output
    assert not (tmp_path / "no").exists()


def test_a_ray_address_where_nothing_listens_fails_at_once(model_dir: Path, tmp_path: Path) -> None:
    """`--ray 127.0.0.1:PORT` with nothing listening there hung: Ray retried the address for
    minutes without a word. The address is tried first; the error names it."""
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that was free a moment ago, nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "hello there"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    address = f"127.0.0.1:{port}"
    args = ["batch", str(src), "--model", str(model_dir), "-o", str(out), "--ray", address]
    r = runner.invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert r.exit_code != 0
    said = _said(r)
    assert f"--ray {address}: cannot reach the Ray cluster" in said and "unavailable" in said
    assert not out.exists()


def test_the_workspace_of_taxonomy_comes_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path, tmp_path: Path
) -> None:
    """As `train`, `taxonomies import/export` and `insights`: `-w` or TRIAGED_WORKSPACE (the
    variable was ignored, `default` used)."""
    import triaged.cli_batch as cli_batch

    asked: list[str] = []

    def served(taxonomy: str, workspace: str, *rest: object) -> object:
        asked.append(workspace)
        clf = Classifier.load(model_dir)
        return clf, clf.policy.route

    monkeypatch.setattr(cli_batch, "_served_model", served)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "hello"}\n', encoding="utf-8")
    args = ["batch", str(src), "--taxonomy", "support", "-o", str(tmp_path / "o.jsonl")]
    for extra, env, want in (
        ([], {}, "default"),
        ([], {"TRIAGED_WORKSPACE": "acme"}, "acme"),
        (["-w", "beta"], {"TRIAGED_WORKSPACE": "acme"}, "beta"),
        (["--workspace", "gamma"], {}, "gamma"),
    ):
        r = runner.invoke(app, [*args, *extra], env=env)
        assert r.exit_code == 0, r.output
        assert asked[-1] == want
    r = runner.invoke(app, ["batch", "--help"], env={"COLUMNS": "200"})
    assert "TRIAGED_WORKSPACE" in r.stdout and "-w" in r.stdout
