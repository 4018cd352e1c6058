"""The ``triaged`` command line.

Engine commands live here (``train``, ``classify``, ``eval``, ``demo``); the
service, review and insights commands are registered by their own modules
(``cli_service``, ...), each exposing ``register(app)``.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from triaged.cli_console import console as make_console
from triaged.cli_model_folder import check_output, save
from triaged.errors import DatasetError, InvalidInput, TriagedError

app = typer.Typer(
    name="triaged",
    help="Calibrated text classification with three-bucket routing and human review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = make_console(stderr=True)
out = make_console()

_PLUGINS = (
    "triaged.cli_service",
    "triaged.cli_review",
    "triaged.cli_insights",
    "triaged.cli_workspaces",
    "triaged.cli_jobs",
    "triaged.cli_taxonomies",
    "triaged.cli_batch",
    "triaged.cli_version",
)


def _fail(exc: TriagedError) -> NoReturn:
    console.print(f"[red]error[/red] ({exc.code}): {escape(exc.message)}", soft_wrap=True)
    raise typer.Exit(2)


#: ``triaged train --threads``
TrainThreads = Annotated[
    int,
    typer.Option(
        min=0,
        help="Held-out fits run at once (0: half the CPU cores, at most 8); the model is the "
        "same whatever the number.",
    ),
]


@app.command()
def train(
    source: Annotated[
        Path | None,
        typer.Argument(
            help="Dataset folder (labels.json + train.jsonl; or train.jsonl alone), a"
            " dataset's JSONL file (its train.jsonl) or taxonomy YAML/JSON."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Model folder to write.")
    ] = None,
    shots: Annotated[int | None, typer.Option(help="Use K examples per label.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --shots sampling.")] = 0,
    threads: TrainThreads = 0,
    taxonomy: Annotated[
        str | None,
        typer.Option(help="Instead: retrain a served taxonomy on its examples plus reviews."),
    ] = None,
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace", "-w", envvar="TRIAGED_WORKSPACE", help="Workspace of --taxonomy."
        ),
    ] = "default",
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", envvar="TRIAGED_DATABASE_URL", help="Database of --taxonomy."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="TRIAGED_DATA_DIR",
            help="Data folder of --taxonomy (its triaged.db), as for `triaged serve`.",
        ),
    ] = None,
) -> None:
    """Train and calibrate a model from a dataset folder or taxonomy file, or retrain a
    served taxonomy (`--taxonomy`) as a new model version."""
    from triaged.classifier import Classifier
    from triaged.evaluation import sample_per_label
    from triaged.taxonomy import OOS_LABEL, Example, Taxonomy

    if taxonomy is not None:
        from triaged.cli_review import train_served

        if source is not None or output is not None or shots is not None:
            console.print(
                "[red]error[/red]: --taxonomy retrains a served taxonomy on its own examples: "
                "give no SOURCE, --output or --shots with it",
                soft_wrap=True,
            )
            raise typer.Exit(2)
        train_served(taxonomy, workspace=workspace, database_url=database_url, data_dir=data_dir)
        return
    if source is None or output is None:
        console.print("[red]error[/red]: give SOURCE and --output, or --taxonomy NAME")
        raise typer.Exit(2)
    if shots is not None and shots < 1:  # before the taxonomy is read, as `eval` refuses it
        _fail(InvalidInput(f"shots must be at least 1, got {shots}", details={"field": "shots"}))
    check_output(output)
    try:
        tax = Taxonomy.load(source)
        if shots is not None:
            examples = tax.examples() + [Example(t, OOS_LABEL) for t in tax.out_of_scope]
            tax = tax.with_examples(sample_per_label(examples, shots, seed), replace_all=True)
        clf = Classifier.from_taxonomy(tax).fit(progress=True, threads=threads)
    except TriagedError as exc:
        _fail(exc)
    save(clf, output)


def _stdin_lines() -> Iterator[str]:
    """stdin's lines decoded as UTF-8 whatever the locale says (a byte-order mark on the
    first line skipped); a byte that is not UTF-8 is one error line (under a C locale Python
    would pass it on as a lone surrogate)."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text stream with no bytes under it
        for lineno, line in enumerate(sys.stdin, 1):
            yield line.removeprefix("\ufeff") if lineno == 1 else line
        return
    offset = 0
    for lineno, data in enumerate(raw, 1):
        try:
            yield data.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            _fail(
                InvalidInput(
                    f"stdin line {lineno}: not UTF-8 text "
                    f"(byte 0x{data[exc.start]:02x} at offset {offset + exc.start})",
                    details={"line": lineno},
                )
            )
        offset += len(data)


def _stdin_row(lineno: int, line: str) -> tuple[str, dict[str, Any]]:
    """One stdin line: a JSON object with ``text`` (its other fields echoed), a JSON string,
    or plain text; a line that starts with ``{`` is an object, and an error if it is not
    valid JSON (a broken object was classified as its own text)."""
    line = line.rstrip("\r\n")  # an error's column is then on this line, not the next
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        if line.lstrip().startswith("{"):
            _fail(
                InvalidInput(
                    f"stdin line {lineno}: not valid JSON ({exc.msg}, column {exc.colno}); "
                    "a line starting with '{' must be a JSON object with 'text'",
                    details={"line": lineno},
                )
            )
        obj = line
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj, extra = obj["text"], obj
    else:
        extra = {}
    if isinstance(obj, str):
        if not obj.strip():  # named by its line (it was "text 2", counted from 0 without blanks)
            _fail(InvalidInput(f"stdin line {lineno}: the text is empty", details={"line": lineno}))
        return obj, extra
    _fail(
        InvalidInput(
            f"stdin line {lineno}: expected a JSON object with 'text'", details={"line": lineno}
        )
    )


def _read_texts(texts: list[str]) -> list[tuple[str, dict[str, Any]]]:
    if texts and texts != ["-"]:
        for n, text in enumerate(texts, 1):
            # argv bytes that are not UTF-8 arrive as lone surrogates (os.fsdecode)
            if any("\udc80" <= ch <= "\udcff" for ch in text):
                _fail(InvalidInput(f"text {n}: not UTF-8 text", details={"text": n}))
            if not text.strip():
                _fail(InvalidInput(f"text {n} is empty", details={"text": n}))
        return [(t, {}) for t in texts]
    return [
        _stdin_row(lineno, line) for lineno, line in enumerate(_stdin_lines(), 1) if line.strip()
    ]


@app.command()
def classify(
    model: Annotated[Path, typer.Argument(help="Model folder written by `triaged train`.")],
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Texts; none or '-' reads stdin, one text a line: a JSON object with 'text' "
            "(its other fields are echoed, one named like a result field as input_<name>), a "
            "JSON string, or plain text (a line starting with '{' must be a JSON object). "
            "UTF-8; a byte-order mark is skipped."
        ),
    ] = None,
    explain: Annotated[bool, typer.Option(help="Include the nearest labelled examples.")] = False,
) -> None:
    """Classify texts; prints one JSON result per line."""
    from triaged.classifier import Classifier

    try:
        clf = Classifier.load(model)
        rows = _read_texts(list(texts or []))
        results = clf.classify_batch(
            [t for t, _ in rows], explain=explain, progress=len(rows) > 256
        )
    except TriagedError as exc:
        _fail(exc)
    for (text, extra), res in zip(rows, results, strict=True):
        result = res.to_dict()
        # an echoed field named like a result field ("label": the gold label) is kept as
        # "input_<name>" (the result overwrote it)
        echoed = {(f"input_{k}" if k in result else k): v for k, v in extra.items() if k != "text"}
        data = {"text": text, **echoed, **result}
        if not explain:
            data.pop("neighbors", None)
        out.print_json(json.dumps(data, ensure_ascii=False)) if sys.stdout.isatty() else print(
            json.dumps(data, ensure_ascii=False)
        )


def _check_eval_options(
    model: Path | None,
    shots: int | None,
    zero_shot: bool,
    seeds: str | None,
    known_ratio: float | None,
    seed: int | None = None,
) -> None:
    """Refuse options that would be silently ignored together, and a bad known ratio."""
    if known_ratio is not None and model is None:
        from triaged.evaluation import check_known_ratio

        try:
            check_known_ratio(known_ratio)
        except InvalidInput as exc:
            _fail(exc)
    if seed is not None and seeds is not None:
        _fail(
            InvalidInput(
                "--seed and --seeds exclude each other (--seeds runs each of its seeds; "
                "give --seeds 3 for one seed)",
                details={"field": "seed"},
            )
        )
    if shots is not None and zero_shot:
        _fail(
            InvalidInput(
                "--shots and --zero-shot exclude each other (zero-shot trains on no example)",
                details={"field": "shots"},
            )
        )
    if model is not None:
        ignored = [
            flag
            for flag, given in (
                ("--shots", shots is not None),
                ("--zero-shot", zero_shot),
                ("--seeds", seeds is not None),
                ("--known-ratio", known_ratio is not None),
                ("--seed", seed is not None),
            )
            if given
        ]
        if ignored:
            _fail(
                InvalidInput(
                    f"{', '.join(ignored)}: not with --model (a saved model is scored as trained)",
                    details={"field": ignored[0].lstrip("-").replace("-", "_")},
                )
            )


@app.command("eval")
def eval_(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder with train.jsonl and test.jsonl (with --model: its test.jsonl, "
            "or a JSONL file of {text, label})."
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Evaluate this saved model (from `triaged train`) instead of training."
        ),
    ] = None,
    shots: Annotated[int | None, typer.Option(help="Train on K examples per label.")] = None,
    zero_shot: Annotated[
        bool, typer.Option("--zero-shot", help="Use label names/descriptions only.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed for --shots and --known-ratio draws \\[default: 0; not with --seeds]."
        ),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(help="Run several seeds (0-4, or 0,2,5) and report mean and std."),
    ] = None,
    known_ratio: Annotated[
        float | None,
        typer.Option(
            help="Open-intent protocol (ADB): a random share R of the labels is known, "
            "test items of the others are out-of-scope, hold predicts open."
        ),
    ] = None,
    auto_error_target: Annotated[
        float | None,
        # "\\[" is a literal "[": Rich took "[default: ...]" for markup and dropped it
        typer.Option(help="Auto-lane error the certified threshold must bound \\[default: 0.02]."),
    ] = None,
    confidence_level: Annotated[
        float | None, typer.Option(help="Confidence level of that bound \\[default: 0.95].")
    ] = None,
    expected_oos: Annotated[
        float | None,
        typer.Option(
            help="Share of traffic expected to fit no label \\[default: 0.2; with "
            "--known-ratio, the share of labels left unknown]."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train on train.jsonl, calibrate without test.jsonl, evaluate on test.jsonl.

    Routing uses the auto threshold certified from the model's held-out evidence, as the
    service would; `auto_error_all` counts out-of-scope items in auto as wrong."""
    _check_eval_options(model, shots, zero_shot, seeds, known_ratio, seed)
    # progress goes to stderr (stage lines and the encoder's bars), so also with --json
    options: dict[str, Any] = {"shots": shots, "zero_shot": zero_shot, "known_ratio": known_ratio}
    routing: dict[str, float] = {}
    for name, value in (
        ("auto_error_target", auto_error_target),
        ("confidence_level", confidence_level),
        ("expected_out_of_scope", expected_oos),
    ):
        if value is not None:  # else run_eval's defaults, the service's
            routing[name] = value
    report = _eval_report(dataset, model, seeds, seed or 0, options, routing)
    if as_json:
        from triaged.evaluation import json_ready

        report.pop("reliability", None)
        print(json.dumps(json_ready(report), allow_nan=False))  # undefined: null, not NaN
        return
    _print_report(report, _eval_title(report, model, known_ratio, seeds))


def _eval_title(
    report: dict[str, Any], model: Path | None, known_ratio: float | None, seeds: str | None
) -> str:
    """The table's title: the dataset, mode, test size and the options that shaped the run."""
    title = f"{report['dataset']} ({report['mode']}, n_test={report['n_test']:.0f}"
    known = None  # what the ratio gave: at least 2 labels, rounded (0.1 of 6 is 2 of 6)
    if known_ratio is not None:
        known = f"{known_ratio} ({report['n_known_labels']:.0f} of {report['n_labels']:.0f} labels)"
        if not report["n_oos"]:
            console.print("eval: every label is known, so no test item is open: no open figures")
    for given, part in ((model, "model {}"), (known, "known ratio {}"), (seeds, "seeds {}")):
        if given is not None:
            title += ", " + part.format(given)
    return title + (": mean ± std)" if seeds is not None else ")")


def _eval_report(
    dataset: Path,
    model: Path | None,
    seeds: str | None,
    seed: int,
    options: dict[str, Any],
    routing: dict[str, float],
) -> dict[str, Any]:
    """Run the evaluation ``triaged eval`` asked for, saying each stage on stderr."""
    import time

    from triaged.evaluation import (
        DEFAULT_AUTO_ERROR_TARGET,
        DEFAULT_CONFIDENCE_LEVEL,
        DEFAULT_EXPECTED_OOS,
        check_routing_options,
        parse_seeds,
        run_eval,
        run_eval_seeds,
    )

    try:  # before any stage is said (each was refused after "training on ...")
        if options.get("shots") is not None and options["shots"] < 1:
            n = options["shots"]
            raise InvalidInput(f"shots must be at least 1, got {n}", details={"field": "shots"})
        check_routing_options(
            routing.get("auto_error_target", DEFAULT_AUTO_ERROR_TARGET),
            routing.get("confidence_level", DEFAULT_CONFIDENCE_LEVEL),
            routing.get("expected_out_of_scope", DEFAULT_EXPECTED_OOS),
        )
        seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    except TriagedError as exc:
        _fail(exc)
    if not dataset.exists():  # it said "training on ...", then that it needs labels.json
        _fail(DatasetError(f"{dataset}: no such file or folder", details={"path": str(dataset)}))
    if model is None and dataset.is_file():  # it said "training on FILE/train.jsonl"
        _fail(
            InvalidInput(
                f"{dataset}: a file; eval trains on a dataset folder (train.jsonl and "
                f"test.jsonl): pass {dataset.parent}, or --model DIR to score a saved model "
                "on this file",
                details={"file": str(dataset)},
            )
        )
    started = time.monotonic()
    kwargs: dict[str, Any] = {**options, **routing, "progress": True}
    try:
        if model is not None:
            from triaged.eval_saved import evaluate_saved

            return evaluate_saved(model, dataset, routing_options=routing)
        what = f"training on {dataset}/train.jsonl"
        if options.get("zero_shot"):  # it said "training on DIR/train.jsonl" too, read by none
            what = "a zero-shot model from the label names and descriptions (no training examples)"
        each = f", for each of seeds {seeds}" if seeds is not None else ""
        console.print(
            f"eval: {what}, then scoring {dataset}/test.jsonl{each} ...",
            soft_wrap=True,
            markup=False,
        )
        if seeds is not None:
            report = run_eval_seeds(dataset, seed_list, **kwargs)
        else:
            report = run_eval(dataset, seed=seed, **kwargs)
    except TriagedError as exc:
        _fail(exc)
    console.print(f"eval: done in {time.monotonic() - started:.1f}s")
    return report


EVAL_ROWS = (
    "accuracy",
    "macro_f1",
    "ece",
    "nll",
    "accuracy_open",
    "f1_open_macro",
    "known_f1",
    "open_f1",
    "mcc_hold_as_oos",
    "oos_hold_rate",
    "in_scope_hold_rate",
    "oos_auroc",
    "auto_threshold",
    "auto_share",
    "auto_error_all",
    "train_seconds",
    "classify_texts_per_second",
)


def _print_report(report: dict[str, Any], title: str) -> None:
    """The table of ``triaged eval`` (mean ± std over seeds when the report has ``std``)."""
    std = report.get("std", {})
    table = Table(title=Text(title))
    table.add_column("metric")
    table.add_column("value", justify="right")

    def cell(key: str, value: float) -> str:
        spread = std.get(key)
        return f"{value:.4f}" + (f" ± {spread:.4f}" if isinstance(spread, float) else "")

    for key in EVAL_ROWS:
        if isinstance(report.get(key), int | float):
            table.add_row(key, cell(key, float(report[key])))
    if report.get("auto_threshold") is None:
        table.add_row("auto_threshold", "closed")
    table.add_row("auto threshold source", str(report.get("auto_threshold_source")))
    for name, b in report["buckets"].items():
        acc = "-" if b["accuracy"] is None else f"{b['accuracy']:.4f}"
        table.add_row(f"{name} share / accuracy", f"{b['share']:.3f} / {acc}")
    out.print(table)
    for line in _auto_lane_lines(report):
        console.print(line, highlight=False, markup=False)


def _auto_lane_lines(report: dict[str, Any]) -> list[str]:
    """Why the auto lane is closed, as text: one line per distinct reason, with the seeds
    it holds for over several seeds (it printed the Python list of the runs' reasons)."""
    runs = report.get("runs")
    if not runs:
        reason = report.get("auto_lane_reason")
        return [f"auto lane: {reason}"] if reason else []
    seeds_of: dict[str, list[str]] = {}
    for run in runs:
        if run.get("auto_lane_reason"):
            seeds_of.setdefault(str(run["auto_lane_reason"]), []).append(str(run.get("seed")))
    if len(seeds_of) == 1 and sum(map(len, seeds_of.values())) == len(runs):
        return [f"auto lane (every seed): {next(iter(seeds_of))}"]
    return [
        f"auto lane (seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}): {reason}"
        for reason, seeds in seeds_of.items()
    ]


@app.command()
def demo() -> None:
    """Train on the bundled example taxonomy and classify a few texts, routed as the service
    routes them (the auto threshold certified from the model's held-out evidence)."""
    from triaged.classifier import Classifier
    from triaged.evaluation import certified_routing
    from triaged.examples import example_taxonomy

    clf = Classifier.from_taxonomy(example_taxonomy()).fit()
    lanes = certified_routing(clf)
    auto, review = lanes["auto_threshold"], float(lanes["review_threshold"])

    def bucket(confidence: float) -> str:
        if auto is not None and confidence >= auto:
            return "auto"
        return "review" if confidence >= review else "hold"

    table = Table(title=Text(f"taxonomy {clf.taxonomy.name} ({clf.mode})"))
    for col in ("text", "label", "confidence", "bucket", "runner-up"):
        table.add_column(col)
    for text in (
        "I was charged twice for my subscription this month",
        "The app crashes every time I open the settings page",
        "How do I change the email address on my account?",
        "Can you recommend a good pizza place nearby?",
    ):
        r = clf.classify(text)
        alt = r.alternatives[0] if r.alternatives else None
        table.add_row(
            text,
            r.label,
            f"{r.confidence:.2f}",
            bucket(r.confidence),
            f"{alt.label} {alt.confidence:.2f}" if alt else "-",
        )
    out.print(table)
    if auto is None:
        out.print(
            f"auto lane {lanes['auto_lane_reason']}\nhold below {review:.3f} (chosen from the "
            "evidence)\nSo even sure answers go to review "
            "(a person checks them, the out-of-scope pizza question included); more examples or "
            "reviewed decisions open the lane where it is earned."
        )
    else:
        out.print(
            f"auto threshold {auto:.3f} (certified), hold below {review:.3f} (chosen from the "
            "evidence)"
        )


for _name in _PLUGINS:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:  # a part not installed in this build
        if _exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
