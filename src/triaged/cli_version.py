"""``triaged --version``: the package's version, and the bundled encoder it classifies with."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def _print_version(value: bool) -> None:
    if not value:
        return
    from triaged import __version__
    from triaged.encoders import DEFAULT_ENCODER

    typer.echo(f"triaged {__version__} (encoder {DEFAULT_ENCODER})")
    raise typer.Exit()


def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Calibrated text classification with three-bucket routing and human review."""


def register(app: typer.Typer) -> None:
    """Add ``--version`` to ``triaged``."""
    app.callback()(_options)
