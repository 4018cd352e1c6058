"""``triaged taxonomies import|export``: from a dataset folder or a taxonomy file to a served
taxonomy, and back.

``import PATH --name NAME`` reads a dataset folder (``labels.json`` + ``train.jsonl``, the
format of the bundled benchmarks) or a taxonomy file (YAML or JSON; unknown keys are errors
with file and line) and creates the taxonomy in a workspace of the local database (found as
``triaged serve`` finds it; never a new, empty one).  With ``--train`` the model is trained
from the examples in this process before the command returns (progress on stderr); without
it the examples are stored and the taxonomy is served zero-shot until a training
(``triaged train --taxonomy NAME`` or ``POST /v1/taxonomies/{name}/train``).

``export NAME -o FILE`` writes the current version (labels, descriptions, examples,
out-of-scope texts; thresholds only when an admin pinned them) as YAML, or JSON for a
``.json`` file: a file ``import`` reads back.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from triaged.cli_console import console as make_console
from triaged.cli_service import DatabaseUrl, DataDir, _errors, _settings
from triaged.cli_training_bar import served_progress, training_bar
from triaged.errors import InvalidInput
from triaged.wording import plural

__all__ = ["register", "taxonomies_app"]

err = make_console(stderr=True)

taxonomies_app = typer.Typer(
    help="Served taxonomies: import from a dataset folder or file, export to a file.",
    no_args_is_help=True,
)

Workspace = Annotated[
    str, typer.Option("--workspace", "-w", envvar="TRIAGED_WORKSPACE", help="Workspace name.")
]


def _open(database_url: str | None, data_dir: Path | None, **extra: Any) -> Any:
    """A started Service on the existing database (as operator commands find it)."""
    from triaged.cli_db import require_database
    from triaged.service import Service

    settings = _settings(database_url, data_dir, bootstrap_admin=False, **extra)
    require_database(settings)
    svc = Service(settings)
    svc.start()
    return svc


def _given_thresholds(path: Path) -> dict[str, float] | None:
    """The thresholds a taxonomy file sets itself (a dataset folder sets none)."""
    if path.is_dir() or path.suffix.lower() in (".jsonl", ".ndjson"):  # a dataset's file
        return None
    text = path.read_text(encoding="utf-8-sig")  # a byte-order mark skipped, as Taxonomy.load
    raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    given = raw.get("thresholds") if isinstance(raw, dict) else None
    return dict(given) if isinstance(given, dict) and given else None


def definition_of(
    path: Path, name: str | None, shots: int | None = None, seed: int = 0
) -> tuple[dict[str, Any], int]:
    """The API definition of the taxonomy at ``path`` (renamed to ``name``) and its number
    of examples; ``shots``: at most K examples per label."""
    from triaged.evaluation import sample_per_label
    from triaged.taxonomy import OOS_LABEL, Example, Taxonomy

    if shots is not None and shots < 1:  # before a large dataset is read
        raise InvalidInput(f"shots must be at least 1, got {shots}", details={"field": "shots"})
    tax = Taxonomy.load(path)
    if shots is not None:
        examples = tax.examples() + [Example(t, OOS_LABEL) for t in tax.out_of_scope]
        tax = tax.with_examples(sample_per_label(examples, shots, seed), replace_all=True)
    data = tax.to_dict()
    data.pop("version", None)
    data.pop("thresholds", None)
    given = _given_thresholds(path)
    if given:  # set in the file: a manual routing policy, as through the API
        data["thresholds"] = given
    if name:
        data["name"] = name
    return data, tax.n_examples + len(tax.out_of_scope)


def _without_examples(definition: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    from triaged.taxonomy import OOS_LABEL, Example

    bare = {k: v for k, v in definition.items() if k != "out_of_scope"}
    bare["labels"] = [{**lb, "examples": []} for lb in definition["labels"]]
    examples = [Example(t, lb["name"]) for lb in definition["labels"] for t in lb["examples"]]
    examples += [Example(t, OOS_LABEL) for t in definition.get("out_of_scope") or []]
    return bare, examples


@taxonomies_app.command("import")
def import_(
    path: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder (labels.json + train.jsonl; or train.jsonl alone), a"
            " dataset's JSONL file (its train.jsonl) or taxonomy YAML/JSON."
        ),
    ],
    name: Annotated[
        # "\\[": a literal "[" (Rich markup would drop "[default: its own]" as a tag)
        str | None, typer.Option("--name", help="Name to serve it under \\[default: its own].")
    ] = None,
    train: Annotated[
        bool, typer.Option("--train", help="Train the model from the examples now (waits).")
    ] = False,
    shots: Annotated[int | None, typer.Option(help="Import at most K examples per label.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for --shots sampling.")] = 0,
    workspace: Workspace = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the taxonomy as JSON.")] = False,
) -> None:
    """Create a served taxonomy from a dataset folder or a YAML/JSON taxonomy file."""
    with _errors():
        definition, n = definition_of(path, name, shots, seed)
        # --train fits in this process, in the foreground (not in a background thread)
        svc = _open(database_url, data_dir, background_train_min_examples=2**31 - 1)
        try:
            principal = svc.operator(workspace)
            started = time.monotonic()
            if train:
                err.print(
                    f"training {definition['name']!r}: "
                    f"{plural(len(definition['labels']), 'label')}, {plural(n, 'example')} ...",
                    markup=False,
                )
                read = served_progress(svc, principal, definition["name"])
                with training_bar(read):
                    info = svc.create_taxonomy(principal, definition)
            else:
                bare, examples = _without_examples(definition)
                info = svc.create_taxonomy(principal, bare)  # zero-shot model: label names
                if examples:
                    info = svc.add_examples(principal, bare["name"], examples, train=False)
            seconds = time.monotonic() - started
        finally:
            svc.close()
    if as_json:
        print(json.dumps(info))
        return
    model = info.get("model") or {}
    state = (info.get("training") or {}).get("status") or info.get("status")
    err.print(
        f"imported [bold]{escape(info['name'])}[/bold] into workspace {escape(workspace)}: "
        f"{plural(len(info['labels']), 'label')}, {plural(info['n_examples'], 'example')}, "
        f"version "
        f"{info['version']}; model {model.get('id', '-')} ({model.get('mode') or '-'}, {state}) "
        f"in {seconds:.1f}s"
    )
    if not train and info["n_examples"]:
        hint = _train_command(info["name"], workspace, database_url, data_dir)
        err.print(
            f"served zero-shot until trained: `{escape(hint)}` (or import with --train)",
            soft_wrap=True,
        )


def _train_command(
    name: str, workspace: str, database_url: str | None, data_dir: Path | None
) -> str:
    """``triaged train --taxonomy NAME`` with the options that found this database, so the
    hint trains the taxonomy just imported (a password in the URL shown as ***)."""
    args = ["triaged", "train", "--taxonomy", name]
    if workspace != "default":
        args += ["--workspace", workspace]
    if database_url:
        from sqlalchemy.exc import ArgumentError

        from triaged.db_url import shown_url

        try:
            shown = shown_url(database_url)
        except ArgumentError:
            shown = database_url
        args += ["--database-url", shown]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    return shlex.join(args)


@taxonomies_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Taxonomy name.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write (.yaml, .yml or .json).")
    ],
    workspace: Workspace = "default",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write a served taxonomy's current version to a YAML or JSON file."""
    with _errors():
        if output.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise InvalidInput(
                f"{output}: write a .yaml, .yml or .json file (the format follows the suffix)",
                details={"path": str(output)},
            )
        svc = _open(database_url, data_dir)
        try:
            principal = svc.operator(workspace)
            current = svc.get_taxonomy(principal, name)
            data = svc.taxonomy_version(principal, name, current["version"])
            routing = svc.routing(principal, name)
        finally:
            svc.close()
    data.pop("version", None)
    data.pop("thresholds", None)
    # thresholds in a file pin them on import: write only those pinned now
    pinned: dict[str, float] = {}
    if routing.get("source") == "manual" and routing.get("auto") is not None:
        pinned["auto"] = float(routing["auto"])
    if routing.get("review_source") == "manual":
        pinned["review"] = float(routing["review"])
    if pinned:
        data["thresholds"] = pinned
    if output.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    with _errors():  # a file in the way (-o x.txt/out.yaml): one line, not a traceback
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    n = sum(len(lb.get("examples") or []) for lb in data["labels"])
    said = f"{plural(len(data['labels']), 'label')}, {plural(n, 'example')}"
    print(f"wrote {output}: {said}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.add_typer(taxonomies_app, name="taxonomies")
