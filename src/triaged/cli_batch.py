"""``triaged batch``: classify a whole file, locally or on a Ray cluster.

    triaged batch tickets.jsonl --model ./model -o labelled.parquet
    triaged batch tickets.csv --taxonomy support -o labelled.jsonl --ray 10.0.0.5:6379

The input is JSONL, CSV or Parquet (``--text-field``, default ``text``; ``--id-field`` is
copied to the output); the output is Parquet or JSONL, one row per input row, in input
order: ``row, id, label, confidence, bucket, alternatives, model_version``.  Locally the
file is read, classified (``classify_batch``: exact length-grouped batches) and written a
chunk at a time, so memory stays bounded whatever the file's size.  ``--taxonomy`` uses the
taxonomy's active model and current routing policy from the service's database (nothing
is logged, counted or queued for review: use ``triaged jobs`` for that); ``--model`` a
model folder written by ``triaged train``.  ``triaged.cli`` calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from triaged.cli_console import console as make_console
from triaged.cli_service import DatabaseUrl, DataDir, _errors, operator_service
from triaged.errors import Conflict

if TYPE_CHECKING:
    from triaged.classifier import Classifier
    from triaged.routing import Bucket

__all__ = ["register", "run_batch"]

err = make_console(stderr=True)

Route = Callable[[float], "Bucket"]


def _served_model(
    taxonomy: str, workspace: str, database_url: str | None, data_dir: Path | None
) -> tuple[Classifier, Route]:
    """The active classifier of a served taxonomy and the routing it decides buckets by."""
    with operator_service(database_url, data_dir) as svc:
        principal = svc.operator(workspace)
        record = svc.taxonomy_record(principal, taxonomy)
        if record.archived_at is not None:  # as /v1/classify and jobs answer (409)
            raise Conflict(f"taxonomy {taxonomy!r} is archived", details={"taxonomy": taxonomy})
        clf: Classifier = svc.classifier(principal, taxonomy)
        policy, _ = svc.jobs_policy(record, clf)
    route: Route = policy.route
    return clf, route


def _progress(total: int | None) -> Progress:
    return Progress(
        TextColumn("[bold]classifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


def _local_rows(
    clf: Classifier,
    route: Route,
    source: Path,
    *,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    chunk: int,
) -> Iterator[list[dict[str, Any]]]:
    from triaged.batchio import read_chunks, result_row

    for part in read_chunks(source, text_field=text_field, id_field=id_field, chunk=chunk):
        results = clf.classify_batch(part.texts, batch_size=batch_size)
        yield [
            result_row(part.start + i, ident, replace(res, bucket=route(res.confidence)))
            for i, (ident, res) in enumerate(zip(part.ids, results, strict=True))
        ]


def _ray_rows(
    address: str,
    clf: Classifier,
    route: Route,
    source: Path,
    *,
    text_field: str,
    id_field: str | None,
    batch_size: int,
    chunk: int,
) -> Iterator[list[dict[str, Any]]]:
    from triaged.batch_ray import classify_on_ray

    row = 0
    for cols in classify_on_ray(
        address,
        str(source.resolve()) if source.exists() else str(source),
        clf.to_bytes(),
        text_field=text_field,
        id_field=id_field,
        batch_size=batch_size,
        chunk=chunk,
    ):
        n = len(cols["label"])
        yield [
            {
                "row": row + i,
                "id": cols["id"][i],
                "label": cols["label"][i],
                "confidence": float(cols["confidence"][i]),
                "bucket": route(float(cols["confidence"][i])).value,
                "alternatives": cols["alternatives"][i],
                "model_version": cols["model_version"][i],
            }
            for i in range(n)
        ]
        row += n


def _check_files(source: Path, output: Path, *, local: bool) -> None:
    """Refuse an input or output format ``batch`` does not know, and for a local run an
    input that is not there (on Ray only the cluster's workers read it)."""
    from triaged.batchio import input_format, output_format
    from triaged.errors import InvalidInput

    input_format(source)
    output_format(output)
    if local and not source.exists():
        raise InvalidInput(f"{source}: no such file", details={"path": str(source)})
    if local and source.is_dir():
        raise InvalidInput(f"{source}: a folder, not a file", details={"path": str(source)})
    if output.is_dir():  # found after the work, as "cannot use .out.jsonl.123.partial"
        raise InvalidInput(
            f"{output}: a folder; give the output a file name", details={"path": str(output)}
        )
    if not output.parent.is_dir():  # as `jobs results -o` (a misspelt folder was created)
        raise InvalidInput(
            f"{output}: no such folder {output.parent} (the output's folder must exist)",
            details={"path": str(output)},
        )
    same = source.resolve() == output.resolve() or (
        source.exists() and output.exists() and source.samefile(output)
    )
    if same:  # the results were renamed onto the input: the file read was lost
        raise InvalidInput(
            f"{output}: the output would replace the input; write the results elsewhere",
            details={"path": str(output)},
        )


def run_batch(
    clf: Classifier,
    route: Route,
    source: Path,
    output: Path,
    *,
    ray_address: str | None = None,
    text_field: str = "text",
    id_field: str | None = None,
    batch_size: int = 16,
    chunk: int = 1024,
) -> int:
    """Classify ``source`` into ``output``; returns the number of rows written (an input
    with no rows is an error, and ``output`` is left as it was)."""
    import time

    from triaged.batchio import ResultWriter, count_rows
    from triaged.errors import InvalidInput

    _check_files(source, output, local=not ray_address)
    # on Ray the file may exist only where the cluster reads it: no local count then
    total = count_rows(source) if source.is_file() else None
    opts = {"text_field": text_field, "id_field": id_field, "batch_size": batch_size}
    parts = (
        _ray_rows(ray_address, clf, route, source, chunk=chunk, **opts)  # type: ignore[arg-type]
        if ray_address
        else _local_rows(clf, route, source, chunk=chunk, **opts)  # type: ignore[arg-type]
    )
    if not ray_address:  # loaded before the output is opened: a SIGTERM during the import
        _ = clf.encoder  # of onnxruntime became an ImportError traceback (exit 1)
    started = time.perf_counter()
    with ResultWriter(output) as writer, _progress(total) as bar:
        task = bar.add_task("classify", total=total, rate="")
        for rows in parts:
            writer.write(rows)
            rate = writer.rows / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=len(rows), rate=f"{rate:,.0f} texts/s")
        if writer.rows == 0:  # as POST /v1/jobs answers; no empty output is left behind
            raise InvalidInput(f"{source}: the input holds no rows", details={"path": str(source)})
    return writer.rows


@contextmanager
def _sigterm_stops_cleanly() -> Iterator[None]:
    """SIGTERM (``kill``, systemd, Kubernetes) ends the run as Ctrl-C does: the hidden
    partial file is removed and an earlier output kept, exit code 143 (the process died
    with the partial file left beside the output)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def batch(
    source: Annotated[Path, typer.Argument(help="Input file: .jsonl, .csv or .parquet.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output: .parquet or .jsonl.")],
    taxonomy: Annotated[
        str | None, typer.Option(help="A served taxonomy: its active model and routing.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Instead: a model folder from `triaged train`.")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Ray cluster address (host:port); omit to run locally."),
    ] = None,
    text_field: Annotated[str, typer.Option(help="Field or column with the text.")] = "text",
    id_field: Annotated[
        str | None, typer.Option(help="Field or column copied to the output's id.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per encoder call.")] = 16,
    chunk: Annotated[int, typer.Option(help="Rows read, classified and written at once.")] = 1024,
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace", "-w", envvar="TRIAGED_WORKSPACE", help="Workspace of --taxonomy."
        ),
    ] = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Classify a file (JSONL, CSV, Parquet) into Parquet or JSONL, locally or on Ray."""
    from triaged.errors import InvalidInput

    with _errors(), _sigterm_stops_cleanly():
        if (taxonomy is None) == (model is None):
            raise InvalidInput("give exactly one of --taxonomy NAME and --model DIR")
        if batch_size < 1 or chunk < 1:
            raise InvalidInput("--batch-size and --chunk must be positive")
        _check_files(source, output, local=not ray)  # before a model is loaded
        if taxonomy is not None:
            clf, route = _served_model(taxonomy, workspace, database_url, data_dir)
        else:
            from triaged.classifier import Classifier

            assert model is not None
            clf = Classifier.load(model)
            route = clf.policy.route
        n = run_batch(
            clf,
            route,
            source,
            output,
            ray_address=ray,
            text_field=text_field,
            id_field=id_field,
            batch_size=batch_size,
            chunk=chunk,
        )
    err.print(f"{n} rows -> {output}", soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
