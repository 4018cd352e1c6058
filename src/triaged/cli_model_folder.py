"""Model folders written by ``triaged train -o``: refused before the fit when a file is in
the way, and written with a one-line summary on stderr (one line however long the path:
a log is no terminal; names and paths shown as written, never read as rich markup)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.text import Text

from triaged.cli_console import console as make_console
from triaged.wording import taxonomy_size

if TYPE_CHECKING:
    from triaged.classifier import Classifier

__all__ = ["check_output", "save"]

err = make_console(stderr=True)


def check_output(output: Path) -> None:
    """A file in the way of the model folder: a bad option before the fit, not after it."""
    if any(p.exists() and not p.is_dir() for p in (output, *output.parents)):
        raise typer.BadParameter(
            f"{output}: a file is in the way of the model folder", param_hint="'--output' / '-o'"
        )


def save(clf: Classifier, output: Path) -> None:
    """Write ``clf`` to ``output`` and say so, with the engine's report; a folder the
    system refuses to write is one line and exit code 2."""
    try:
        clf.save(output)
    except OSError as exc:
        says = escape(f"{output}: {exc.strerror}")
        err.print(f"[red]error[/red] (os_error): {says}", soft_wrap=True)
        raise typer.Exit(2) from None
    tax = clf.taxonomy
    err.print(
        f"trained [bold]{escape(tax.name)}[/bold] ({taxonomy_size(tax)}, mode {clf.mode}) in "
        f"{clf.fit_seconds_:.1f}s -> {escape(str(output))} (model {clf.model_version})",
        soft_wrap=True,
    )
    line = _fit_summary(clf.engine.report())
    if line:
        err.print(Text(line), soft_wrap=True)


def _fit_summary(report: dict[str, Any]) -> str:
    """The fit's figures a person reads, in one line (it printed the engine's whole report
    as a Python dict; the report stays in model.json, ``engine.report``)."""
    parts = []
    if report.get("cv_accuracy") is not None:
        folds = f" over {report.get('cv_folds')} folds" if report.get("cv_folds") else ""
        parts.append(
            f"held-out accuracy {report['cv_accuracy']:.3f}, ECE {report.get('cv_ece') or 0:.3f}"
            f"{folds}"
        )
    if report.get("label_holdout_fits"):
        parts.append(
            f"{report['label_holdout_fits']} label hold-outs simulate inputs no label covers"
        )
    if report.get("labels_without_examples"):
        parts.append(f"{report['labels_without_examples']} label(s) without examples")
    return "; ".join(parts)
