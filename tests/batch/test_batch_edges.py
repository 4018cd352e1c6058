"""`triaged batch` at its edges: Parquet columns of types JSON has no name for, and a run
stopped by SIGTERM (what `kill`, systemd and Kubernetes send)."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import small_taxonomy
from triaged.batchio import read_chunks
from triaged.classifier import Classifier
from triaged.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("model")
    Classifier.from_taxonomy(small_taxonomy(datasets_dir, tmp)).fit().save(tmp / "model")
    return tmp / "model"


def _parquet(path: Path, **columns: object) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([b"where is my card"], "binary data"),
        ([datetime.datetime(2026, 1, 2)], "a timestamp"),
        ([datetime.date(2026, 1, 2)], "a date"),
    ],
)
def test_a_parquet_text_column_of_another_type_names_its_type(
    tmp_path: Path, values: list[object], kind: str
) -> None:
    """A binary or timestamp column was refused with "must be a string, not a string"."""
    src = _parquet(tmp_path / "in.parquet", text=values)
    with pytest.raises(InvalidInput) as info:
        list(read_chunks(src))
    assert info.value.message == f"{src} row 1: field 'text' must be a string, not {kind}"


def test_a_binary_parquet_id_is_refused_not_written_as_its_python_repr(
    tmp_path: Path, model_dir: Path
) -> None:
    """A binary id column (b"a1") gave the id "b'a1'" in the output, locally and on Ray."""
    import pyarrow as pa

    src = _parquet(tmp_path / "in.parquet", text=["where is my card", "hi"], key=[b"a1", b"a2"])
    with pytest.raises(InvalidInput) as info:
        list(read_chunks(src, id_field="key"))
    want = f"{src} row 1: field 'key' must be a string or a number, not binary data"
    assert info.value.message == want
    from triaged.batch_ray import BadRow, ClassifyActor

    actor = ClassifyActor(Classifier.load(model_dir).to_bytes(), "text", "key", 16)
    batch = pa.table({"text": ["where is my card"], "key": [b"a1"]})
    with pytest.raises(BadRow, match="not binary data"):
        actor(batch)
    assert actor(pa.table({"text": ["hi"], "key": [7]}))["id"] == ["7"]


def test_sigterm_leaves_no_partial_file_and_the_old_output(tmp_path: Path, model_dir: Path) -> None:
    """SIGTERM killed the run with its hidden `.OUT.PID.partial` file left beside the output
    (hundreds of KB per stopped run); it is removed, the earlier output kept, exit 143."""
    src = tmp_path / "in.jsonl"
    rows = (json.dumps({"text": f"where is my card {i}"}) + "\n" for i in range(4000))
    src.write_text("".join(rows))
    out = tmp_path / "out.jsonl"
    out.write_text("earlier\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = ["batch", str(src), "--model", str(model_dir), "-o", str(out), "--chunk", "16"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "triaged.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not list(tmp_path.glob(".out.jsonl.*.partial")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    said = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
    assert proc.returncode == 128 + signal.SIGTERM, said
    assert list(tmp_path.glob(".out*")) == []
    assert out.read_text() == "earlier\n"


def test_a_nan_id_is_no_id(tmp_path: Path, model_dir: Path) -> None:
    """pandas stores a missing value of a number column as NaN: such an id was written as
    the id "nan" (locally and on Ray); it is no id, as null is."""
    import pyarrow as pa

    src = _parquet(tmp_path / "in.parquet", text=["a", "b"], key=[7.0, float("nan")])
    assert next(read_chunks(src, id_field="key")).ids == ["7.0", None]
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"text": "a", "key": NaN}\n')
    assert next(read_chunks(rows, id_field="key")).ids == [None]
    from triaged.batch_ray import BadRow, ClassifyActor

    actor = ClassifyActor(Classifier.load(model_dir).to_bytes(), "text", "key", 16)
    assert actor._ids(pa.table({"text": ["a", "b"], "key": [7.0, float("nan")]})) == ["7.0", None]
    # infinity is no number an id can be, locally and on Ray (it was written "inf")
    rows.write_text('{"text": "a", "key": Infinity}\n')
    with pytest.raises(InvalidInput, match="must be a string or a number, not infinity"):
        next(read_chunks(rows, id_field="key"))
    with pytest.raises(BadRow, match="not infinity"):
        actor._ids(pa.table({"text": ["a"], "key": [float("inf")]}))


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"text": "a\ud800b", "key": "k"}, "field 'text' contains a lone surrogate (U+D800)"),
        ({"text": "a\x00b", "key": "k"}, "field 'text' contains a NUL character"),
        ({"text": "ab", "key": "k\ud800"}, "field 'key' contains a lone surrogate (U+D800)"),
    ],
)
def test_a_text_or_id_jobs_refuse_is_refused_with_its_line(
    tmp_path: Path, model_dir: Path, record: dict[str, str], says: str
) -> None:
    """A lone surrogate in a text reached the tokenizer (TypeError traceback), in an id the
    output writer (UnicodeEncodeError traceback); a NUL was classified. `jobs submit` refuses
    them (422): so does `batch`, with the line, locally and on Ray (no output left)."""
    import pyarrow as pa

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "fine", "key": "k0"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(InvalidInput) as info:
        list(read_chunks(src, id_field="key"))
    assert info.value.message == f"{src} line 2: {says}"
    if "\ud800" in record["text"] + record["key"]:
        return  # Arrow holds no lone surrogate: Ray's reader cannot hand one to an actor
    from triaged.batch_ray import BadRow, ClassifyActor

    actor = ClassifyActor(Classifier.load(model_dir).to_bytes(), "text", "key", 16)
    with pytest.raises(BadRow, match=says):
        actor(pa.table({"text": [record["text"]], "key": [record["key"]]}))
