"""`triaged batch --ray` on a real local Ray cluster (head + 2 worker nodes on 127.0.0.1)
gives the local run's labels, confidences and buckets, row for row (issue 11, item 4)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import small_taxonomy
from triaged.batchio import read_results
from triaged.classifier import Classifier
from triaged.taxonomy import read_jsonl

pytest.importorskip("ray")

# one xdist worker runs every test here: one cluster (three Ray nodes) per run, not one per
# worker, which on a two-core machine starved both
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
BIN = Path(sys.executable).parent
# A loopback address, but not 127.0.0.1: Ray swaps "127.0.0.1"/"localhost" for the machine's
# outward address when it runs as a cluster, and this test must talk over loopback only.
HOST = "127.0.0.2"


# Ray 2.60 (installed here) enables token authentication for a cluster started by `ray
# start`, and a driver without the token was refused ("InvalidAuthToken"), so the head never
# looked alive: this loopback-only test cluster and its drivers run without it.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_node(args: list[str], temp: str) -> subprocess.Popen[bytes]:
    """``ray start --block``: the node's processes live as long as this one, in its own
    process group, so teardown stops exactly this cluster and nothing else on the machine."""
    env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": temp}
    log = Path(temp) / f"node-{len(list(Path(temp).glob('node-*.log')))}.log"
    with log.open("wb") as fh:  # the child keeps its own handle
        return subprocess.Popen(
            [str(BIN / "ray"), "start", "--block", "--disable-usage-stats", *args],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _logs(temp: str) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in Path(temp).glob("node-*.log"))


def _nodes_alive(address: str, want: int, temp: str) -> bool:
    code = (
        f"import ray; ray.init(address={address!r}, logging_level='ERROR');"
        "print(sorted({n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']}),"
        " sum(1 for n in ray.nodes() if n['Alive']))"
    )
    env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": temp}
    try:
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False
    if r.returncode != 0:
        return False
    assert r.stdout.startswith(f"[{HOST!r}]"), r.stdout  # every node on loopback
    return r.stdout.strip().endswith(f" {want}")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    temp = tempfile.mkdtemp(prefix="/tmp/tr")  # short: Ray's socket paths must stay short
    port = _port()
    address = f"{HOST}:{port}"
    common = ["--num-cpus", "1", "--object-store-memory", "100000000"]
    common += ["--node-ip-address", HOST]
    nodes = [
        _ray_node(
            [
                "--head",
                "--port",
                str(port),
                "--temp-dir",
                temp,
                "--include-dashboard",
                "false",
                "--dashboard-agent-listen-port",
                str(_port()),
                "--dashboard-agent-grpc-port",
                str(_port()),
                "--metrics-export-port",
                str(_port()),
                "--runtime-env-agent-port",
                str(_port()),
                *common,
            ],
            temp,
        )
    ]
    try:
        deadline = time.monotonic() + 300  # generous: a loaded CI machine starts Ray slowly
        while not _nodes_alive(address, 1, temp):
            assert time.monotonic() < deadline, "the Ray head did not start\n" + _logs(temp)
            assert nodes[0].poll() is None, "ray start --head exited\n" + _logs(temp)
            time.sleep(1)
        # one worker at a time, restarted if it gives up: Ray allows a node 30 s to register
        # with the head, which a loaded machine can exceed
        for want in (2, 3):
            for attempt in range(3):
                extra = ["--dashboard-agent-listen-port", str(_port())]
                extra += ["--dashboard-agent-grpc-port", str(_port())]
                extra += ["--metrics-export-port", str(_port())]
                extra += ["--runtime-env-agent-port", str(_port())]
                node = _ray_node(["--address", address, *extra, *common], temp)
                nodes.append(node)
                while node.poll() is None and not _nodes_alive(address, want, temp):
                    assert time.monotonic() < deadline + 600, "no Ray worker joined\n" + _logs(temp)
                    time.sleep(1)
                if node.poll() is None:
                    break
                assert attempt < 2, "a Ray worker failed to start 3 times\n" + _logs(temp)
        yield address
    finally:
        _stop(nodes, temp)


def _stop(nodes: list[subprocess.Popen[bytes]], temp: str) -> None:
    """SIGTERM each node's process group, then SIGKILL whatever of this cluster is left:
    the groups, and any process whose command line names this cluster's temp folder."""
    for node in reversed(nodes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5  # a test cluster keeps nothing worth a longer wait
    for node in nodes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.wait(timeout=max(0.1, deadline - time.monotonic()))
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if temp.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
    for node in nodes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.wait(timeout=10)
    shutil.rmtree(temp, ignore_errors=True)


def _triaged(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **RAY_ENV}
    return subprocess.run(
        [str(BIN / "triaged"), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def model_dir(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ray_model")
    clf = Classifier.from_taxonomy(small_taxonomy(datasets_dir, tmp)).fit()
    clf.save(tmp / "model")
    return tmp / "model"


def test_ray_run_equals_local_run(
    ray_cluster: str, tmp_path: Path, datasets_dir: Path, model_dir: Path
) -> None:
    texts = [e.text for e in read_jsonl(datasets_dir / "banking77" / "test.jsonl")]
    texts = random.Random(4).sample(texts, 240)
    src = tmp_path / "tickets.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["ticket", "body"])
        w.writeheader()
        # ids that are numbers to Arrow: the local run reads every CSV cell as text
        w.writerows({"ticket": f"{i:03d}", "body": t} for i, t in enumerate(texts))
    common = ["--model", str(model_dir), "--text-field", "body", "--id-field", "ticket"]
    local = _triaged("batch", str(src), "-o", str(tmp_path / "local.parquet"), *common)
    assert local.returncode == 0, local.stderr
    on_ray = _triaged(
        "batch",
        str(src),
        "-o",
        str(tmp_path / "ray.jsonl"),
        "--ray",
        ray_cluster,
        "--chunk",
        "50",
        *common,
    )
    assert on_ray.returncode == 0, on_ray.stderr
    a = read_results(tmp_path / "local.parquet")
    b = read_results(tmp_path / "ray.jsonl")
    assert len(a) == len(b) == len(texts)
    assert [r["row"] for r in b] == list(range(len(texts)))
    assert [r["id"] for r in b] == [f"{i:03d}" for i in range(len(texts))]  # input order
    for x, y in zip(a, b, strict=True):
        assert (x["label"], x["bucket"], x["model_version"]) == (
            y["label"],
            y["bucket"],
            y["model_version"],
        )
        assert abs(x["confidence"] - y["confidence"]) <= 1e-6
        assert json.loads(x["alternatives"]) == y["alternatives"]  # Parquet text, JSONL array
    assert len({r["label"] for r in a}) > 1  # not a degenerate model


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (
            [{"body": "refund please", "ticket": "t0"}, {"body": "", "ticket": "t1"}],
            "is empty",
        ),
        ([{"body": "refund please", "ticket": True}], "not a boolean"),
    ],
)
def test_a_row_the_local_run_refuses_is_refused_on_ray(
    ray_cluster: str, tmp_path: Path, model_dir: Path, rows: list[dict[str, object]], says: str
) -> None:
    """A row without text was classified as the empty text on Ray and an id ``true`` became
    "True", where the local run refuses both: the Ray run now refuses them too (exit 2,
    ``invalid_input``), and writes nothing."""
    src = tmp_path / "tickets.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    common = ["--model", str(model_dir), "--text-field", "body", "--id-field", "ticket"]
    local = _triaged("batch", str(src), "-o", str(out), *common)
    assert local.returncode == 2 and says in local.stderr, local.stderr
    on_ray = _triaged("batch", str(src), "-o", str(out), "--ray", ray_cluster, *common)
    assert on_ray.returncode == 2, on_ray.stderr
    assert "error (invalid_input)" in on_ray.stderr and says in on_ray.stderr, on_ray.stderr
    assert "Traceback" not in on_ray.stderr
    assert not out.exists()


def test_a_csv_is_read_on_ray_by_the_local_rules(
    ray_cluster: str, tmp_path: Path, model_dir: Path
) -> None:
    """Ray read CSV with Arrow's defaults: a quoted field spanning lines failed ("CSV parse
    error: Expected 2 columns, got 1"), and a blank or white-space line, a byte-order mark
    or ``\\r`` line endings followed other rules than the local run's. Both now read it
    with the one CSV reader: the same rows, ids, labels and confidences."""
    rows = [
        ("007", "I was charged twice,\r\nplease refund me"),
        ("008", "my card is lost"),
        ("", 'what is the "APR" on my card?'),
        ("010", "is my\napplication approved yet"),
    ]
    body = "\ufeffticket,body\r\n" + "".join(
        f'{t},"{b.replace(chr(34), chr(34) * 2)}"\r\n   \r\n' for t, b in rows
    )
    src = tmp_path / "tickets.csv"
    src.write_bytes(body.encode("utf-8"))
    common = ["--model", str(model_dir), "--text-field", "body", "--id-field", "ticket"]
    local = _triaged("batch", str(src), "-o", str(tmp_path / "local.jsonl"), *common)
    assert local.returncode == 0, local.stderr
    on_ray = _triaged(
        "batch", str(src), "-o", str(tmp_path / "ray.jsonl"), "--ray", ray_cluster, *common
    )
    assert on_ray.returncode == 0, on_ray.stderr
    a = read_results(tmp_path / "local.jsonl")
    b = read_results(tmp_path / "ray.jsonl")
    assert [r["id"] for r in b] == ["007", "008", None, "010"]
    for x, y in zip(a, b, strict=True):
        assert (x["row"], x["id"], x["label"], x["bucket"]) == (
            y["row"],
            y["id"],
            y["label"],
            y["bucket"],
        )
        assert abs(x["confidence"] - y["confidence"]) <= 1e-6


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"ticket,body,body\n1,refund please,x\n", "line 1: the header names column 'body'"),
        (b"ticket,body\n1,refund please\n2,charged, twice\n", "line 3: 3 fields, the header"),
    ],
)
def test_malformed_csv_is_refused_on_ray_as_locally(
    ray_cluster: str, tmp_path: Path, model_dir: Path, data: bytes, says: str
) -> None:
    """Arrow renamed or refused these its own way (a traceback, or no line); the Ray run
    now gives the local run's error, file and line, and writes nothing."""
    src = tmp_path / "bad.csv"
    src.write_bytes(data)
    out = tmp_path / "out.jsonl"
    common = ["--model", str(model_dir), "--text-field", "body", "--id-field", "ticket"]
    local = _triaged("batch", str(src), "-o", str(out), *common)
    assert local.returncode == 2 and f"{src} {says}" in local.stderr, local.stderr
    on_ray = _triaged("batch", str(src), "-o", str(out), "--ray", ray_cluster, *common)
    assert on_ray.returncode == 2, on_ray.stderr
    assert "error (invalid_input)" in on_ray.stderr and f"{src} {says}" in on_ray.stderr
    assert "Traceback" not in on_ray.stderr, on_ray.stderr
    assert not out.exists()
