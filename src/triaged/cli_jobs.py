"""``triaged worker`` and ``triaged jobs submit|status|results|cancel``.

``triaged worker`` runs the PostgreSQL job queue (training, retraining, bulk
jobs, periodic checks, webhook delivery); ``triaged jobs`` talks to a running
server over HTTP (``--url``/``TRIAGED_URL``, ``--key``/``TRIAGED_API_KEY``).
``triaged.cli`` calls :func:`register`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from triaged.cli_console import console as make_console
from triaged.cli_service import DatabaseUrl, DataDir, _errors, _fail, _is_postgres, _settings
from triaged.client._http import seg, transport_error_class  # as the SDK sends and reads

if TYPE_CHECKING:
    import httpx

__all__ = ["register"]

err = make_console(stderr=True)
out = make_console()

jobs_app = typer.Typer(help="Bulk classification jobs on a running server.", no_args_is_help=True)

Url = Annotated[str, typer.Option("--url", envvar="TRIAGED_URL", help="Server URL.")]
Key = Annotated[str, typer.Option("--key", envvar="TRIAGED_API_KEY", help="API key.")]
FINAL = ("done", "failed", "cancelled")


def worker(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at a time (TRIAGED_WORKER_CONCURRENCY; default 2)."),
    ] = None,
) -> None:
    """Run jobs from the PostgreSQL queue until stopped (SIGINT/SIGTERM).

    Exits 0 when stopped (the job in flight finishes first) and 2 when it cannot start or
    loses its database: a supervisor restarts it on 2 (docs/deploy.md)."""
    try:
        _worker(database_url, data_dir, concurrency)
    finally:
        from triaged.service import worker_jobs_left

        if worker_jobs_left():  # left running without the database: Python would wait
            stopped = sys.exc_info()[1]
            code = stopped.exit_code if isinstance(stopped, typer.Exit) else int(bool(stopped))
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _worker(database_url: str | None, data_dir: Path | None, concurrency: int | None) -> None:
    from triaged.errors import InvalidInput
    from triaged.service import run_worker

    with _errors():
        settings = _settings(database_url, data_dir)
        if not _is_postgres(settings):  # checked before anything is created or migrated
            raise InvalidInput(
                "`triaged worker` runs the job queue kept in PostgreSQL and needs a PostgreSQL "
                "database: pass --database-url or set TRIAGED_DATABASE_URL to "
                "postgresql+psycopg://USER:PASSWORD@HOST/DB (and TRIAGED_JOB_QUEUE=postgres "
                "for `triaged serve`); on SQLite no worker is needed: `triaged serve` runs "
                "jobs itself",
                details={"database": "sqlite"},
            )
        run_worker(settings, concurrency=concurrency)


class _Jobs:
    """The four job calls over HTTP, as raw JSON and raw result lines (JSONL or CSV, passed
    through unparsed; the SDK's ``Client.job_results`` parses JSONL rows into objects)."""

    def __init__(self, url: str, key: str) -> None:
        import httpx

        self.url = url
        self.http = httpx.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=300
        )

    def _json(self, response: Any) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:  # an HTML error page of a proxy, or not a triaged server at all
            data = None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                raise _fail(str(error.get("code")), _as_flags(str(error.get("message"))))
            raise _fail(
                "http_error",
                f"the server at {self.url} answered {response.status_code} "
                f"{response.reason_phrase}".rstrip(),
            )
        if not isinstance(data, dict):
            raise _fail(
                "invalid_response",
                f"the server at {self.url} did not answer JSON (is --url a triaged server?)",
            )
        return data

    def submit_job(self, taxonomy: str, file: Path, **params: Any) -> dict[str, Any]:
        fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
        query = {"taxonomy": taxonomy, "format": fmt}
        query.update({k: v for k, v in params.items() if v is not None})
        with file.open("rb") as fh:  # streamed from disk
            return self._json(self.http.post("/v1/jobs", params=query, content=fh))

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json(self.http.get(f"/v1/jobs/{seg(job_id)}"))

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._json(self.http.post(f"/v1/jobs/{seg(job_id)}/cancel"))

    def job_results_lines(self, job_id: str, fmt: str) -> Iterator[str]:
        with self.http.stream(
            "GET", f"/v1/jobs/{seg(job_id)}/results", params={"format": fmt}
        ) as response:
            if response.status_code >= 400:
                response.read()
                self._json(response)
            yield from response.iter_lines()


#: the API's query parameters of a job, as this command line names them
FLAGS = {
    "text_field": "--text-field",
    "id_field": "--id-field",
    "metadata_fields": "--metadata-fields",
    "query.format": "--format",
}


def _as_flags(message: str) -> str:
    """The server's message with its parameter names as the options typed here ("name the
    column with text_field" read as if there were such a thing to type)."""
    for name, flag in FLAGS.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w])", flag, message)
    return message


def _client(url: str, key: str) -> _Jobs:
    if not key:
        raise _fail("no_api_key", "no API key: pass --key or set TRIAGED_API_KEY")
    if not key.isascii() or not key.isprintable():
        raise _fail("invalid_api_key", "the API key (--key or TRIAGED_API_KEY) is not a key")
    if not url.lower().startswith(("http://", "https://")):
        raise _fail(
            "invalid_url", f"--url (TRIAGED_URL) must start with http:// or https://: {url!r}"
        )
    return _Jobs(url, key)


def _no_answer(exc: httpx.TransportError) -> tuple[str, str]:
    """The SDK's code for a request that got no answer (``timeout``, ``connect_failed`` or
    ``transport_error``: :func:`triaged.client._http.transport_error_class`) and why."""
    code = transport_error_class(exc).code
    why = str(exc).strip() or type(exc).__name__
    return code, f"timed out ({why})" if code == "timeout" else why


@contextmanager
def _http(url: str) -> Iterator[None]:
    """One line naming the server, exit code 2, for a request that never got an answer."""
    import httpx

    try:
        yield
    except httpx.TransportError as exc:
        code, why = _no_answer(exc)
        raise _fail(code, f"cannot reach the server at {url}: {why}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        why = str(exc).strip() or type(exc).__name__
        raise _fail("http_error", f"request to the server at {url} failed: {why}") from None


#: how long ``submit --wait`` keeps asking a server that stopped answering (a restart)
LOST_SERVER_S = 60.0


def _follow(client: _Jobs, job_id: str, url: str) -> dict[str, Any]:
    """The job's state; a server that does not answer (restarting) is asked again for
    :data:`LOST_SERVER_S`, then the error says the job goes on and how to follow it."""
    import httpx

    give_up = time.monotonic() + LOST_SERVER_S
    while True:
        try:
            return client.job(job_id)
        except httpx.TransportError as exc:
            if time.monotonic() > give_up:
                code, why = _no_answer(exc)
                raise _fail(
                    code,
                    f"lost the server at {url} while following job {job_id} ({why}); the job "
                    f"goes on there: `triaged jobs status {job_id}`",
                ) from None
            time.sleep(1.0)


def _progress(client: _Jobs, job: dict[str, Any], url: str) -> dict[str, Any]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(job["id"], total=job["total"], rate="")
        while True:
            rate = f"{job['rate']:.0f}/s" if job.get("rate") else ""
            state = "running, stalled" if job.get("stalled") else job["state"]
            bar.update(task, completed=job["done"], rate=rate, description=state)
            if job["state"] in FINAL:
                return job
            time.sleep(0.5)
            job = _follow(client, job["id"], url)


#: what ``jobs submit`` uploads, by suffix: CSV for .csv, JSON Lines for the others
_SUBMIT_SUFFIXES = (".jsonl", ".ndjson", ".csv")


@jobs_app.command("submit")
def submit(
    file: Annotated[
        Path,
        typer.Argument(
            help="A .jsonl (or .ndjson) or .csv file; other suffixes are refused.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    taxonomy: Annotated[str, typer.Option("--taxonomy", "-t", help="Taxonomy name.")],
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    text_field: Annotated[str, typer.Option(help="Field holding the text.")] = "text",
    id_field: Annotated[
        str | None,
        typer.Option(help="Field holding an external id (every row must have it; null: no id)."),
    ] = None,
    metadata_fields: Annotated[
        str | None, typer.Option(help="Comma-separated fields kept as metadata.")
    ] = None,
    log: Annotated[bool, typer.Option(help="Log decisions and queue them for review.")] = True,
    wait: Annotated[bool, typer.Option(help="Show a progress bar until the job ends.")] = True,
) -> None:
    """Upload FILE as a bulk job; with --wait (default) follow it with a progress bar."""
    if file.suffix.lower() in (".parquet", ".pq"):  # the server would say "not UTF-8 text"
        raise typer.BadParameter(
            f"{file}: bulk jobs take JSONL or CSV; `triaged batch` reads Parquet",
            param_hint="'FILE'",
        )
    if file.suffix.lower() not in _SUBMIT_SUFFIXES:  # any other name was sent as JSONL
        raise typer.BadParameter(
            f"{file}: bulk jobs take a .jsonl (or .ndjson) or .csv file; the suffix says "
            "which (rename the file if it holds one of them)",
            param_hint="'FILE'",
        )
    client = _client(url, key)
    with _http(url):
        job = client.submit_job(
            taxonomy,
            file,
            text_field=text_field,
            id_field=id_field,
            metadata_fields=metadata_fields,
            log=str(log).lower(),
        )
        if wait:
            err.print(f"job {job['id']} submitted ({job['total']} rows)", highlight=False)
            job = _progress(client, job, url)
    out.print_json(json.dumps(job))
    if job["state"] in ("failed", "cancelled"):  # a script must not read either as done
        raise typer.Exit(1)


@jobs_app.command("status")
def status(
    job_id: str, url: Url = "http://127.0.0.1:8000", key: Key = "", follow: bool = False
) -> None:
    """State, done/total, rate and ETA of a job, and whether it is stalled (--follow: a
    progress bar until it ends, then exit 1 if it failed or was cancelled)."""
    client = _client(url, key)
    with _http(url):
        job = client.job(job_id)
        if follow:
            job = _progress(client, job, url)
    out.print_json(json.dumps(job))
    if job.get("stalled"):
        err.print(
            f"note: job {job_id} is stalled: no progress since {job.get('stalled_since')} "
            "(longer than the server's TRIAGED_JOB_STALLED_SECONDS); its worker died or "
            "hangs, and a live worker (or server process) retries it",
            highlight=False,
        )
    if follow and job["state"] in ("failed", "cancelled"):  # as `submit --wait`
        raise typer.Exit(1)


_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _results_format(fmt: str | None, output: Path | None) -> str:
    """``-o results.csv`` writes CSV (it wrote JSON lines under any name); a suffix that
    says another format than ``--format``, or one the results never come in, is a bad
    option, refused before anything is fetched or written."""
    suffix = output.suffix.lower() if output is not None else ""
    implied = _SUFFIX_FORMATS.get(suffix)
    if suffix in (".parquet", ".pq"):
        raise typer.BadParameter(
            f"{output}: job results come as JSONL or CSV; name a .jsonl or .csv file",
            param_hint="'-o'",
        )
    if fmt is None:
        return implied or "jsonl"
    if implied is not None and implied != fmt:
        raise typer.BadParameter(
            f"{output} names a {implied} file but --format is {fmt!r}", param_hint="'--format'"
        )
    return fmt


def _check_done(job: dict[str, Any], *, partial_ok: bool) -> None:
    """A job's results are whole once it is done; before (or after it failed or was
    cancelled) they are the rows so far: refused, or with ``--partial`` a note on stderr."""
    state = job.get("state")
    if state == "done":
        return
    so_far = f"{job.get('done')} of {job.get('total')} rows done"
    if not partial_ok:
        # a failed or cancelled job will not finish: nothing to wait for
        wait = (
            f"`triaged jobs status --follow {job.get('id')}` waits for it, "
            if state in ("queued", "running")
            else "it will not finish; "
        )
        raise _fail(
            "job_not_done",
            f"job {job.get('id')} is {state} ({so_far}): its results are incomplete; "
            f"{wait}--partial gives the rows so far",
        )
    err.print(
        f"note: job {job.get('id')} is {state} ({so_far}): these results are partial",
        highlight=False,
    )


@jobs_app.command("results")
def results(
    job_id: str,
    url: Url = "http://127.0.0.1:8000",
    key: Key = "",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="jsonl or csv (default: from -o's suffix, else jsonl)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", help="Write here (default stdout).")] = None,
    partial_ok: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Also for a job that is not done (running, failed, cancelled): the rows so far.",
        ),
    ] = False,
) -> None:
    """Stream a job's results in input order (a job that is not done is refused unless
    --partial)."""
    fmt = _results_format(fmt, output)
    client = _client(url, key)
    with _http(url):
        _check_done(client.job(job_id), partial_ok=partial_ok)
    if output is None:
        with _http(url):
            for line in client.job_results_lines(job_id, fmt=fmt):
                sys.stdout.write(line + "\n")
        return
    # a hidden partial file renamed onto -o once the stream is complete: an error or an
    # interrupt leaves no half-written results (and an earlier file untouched)
    if output.is_dir():
        raise _fail("invalid_output", f"{output} is a folder; give a file name with -o")
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        try:
            sink = partial.open("w", encoding="utf-8")
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise _fail("invalid_output", f"cannot write {output}: {why}") from None
        with _http(url), sink:
            for line in client.job_results_lines(job_id, fmt=fmt):
                sink.write(line + "\n")
        os.replace(partial, output)
    finally:  # under a file (-o x.txt/r.jsonl) the unlink too is NotADirectoryError
        with suppress(OSError):
            partial.unlink(missing_ok=True)


@jobs_app.command("cancel")
def cancel(job_id: str, url: Url = "http://127.0.0.1:8000", key: Key = "") -> None:
    """Stop a queued or running job after its chunk in flight."""
    client = _client(url, key)
    with _http(url):
        job = client.cancel_job(job_id)
    out.print_json(json.dumps(job))


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")
