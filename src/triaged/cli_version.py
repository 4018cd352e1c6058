"""``triaged --version`` (the package's version and the bundled encoder it classifies with),
and command lists that show each command's summary as one paragraph."""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

__all__ = ["SummaryGroup", "reflow", "register"]


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


_LIST_ITEM = re.compile(r"\s|[-*\u2022] |\d+[.)] |\x08")


def reflow(help_text: str) -> str:
    """``help_text`` with each paragraph's line breaks joined, except in a paragraph that
    holds a list, an indented block or click's ``\\b`` (kept as written): typer shows the
    paragraphs after the first with the source's line breaks, which broke sentences
    mid-line at any terminal width but the source's."""
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(
        p if any(_LIST_ITEM.match(line) for line in p.splitlines()) else " ".join(p.split())
        for p in paragraphs
    )


class SummaryGroup(TyperGroup):
    """A group whose command list shows a command's summary (its help's first paragraph)
    with the docstring's line breaks joined: the list kept them, so a summary wrapped in
    the source broke mid-sentence on the screen.  A command's own help is shown
    :func:`reflow`-ed for the same reason."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None and cmd.help:
            cmd.help = reflow(cmd.help)
            if cmd.short_help is None:
                cmd.short_help = cmd.help.split("\n\n")[0]
        if cmd is not None and not isinstance(cmd, SummaryGroup):
            for param in cmd.params:
                _no_flag_type(param)
            cmd.get_help_option = _untyped_help(cmd.get_help_option)  # type: ignore[method-assign]
        return cmd

    def get_help_option(self, ctx: Any) -> Any:
        return _no_flag_type(super().get_help_option(ctx))

    def get_params(self, ctx: Any) -> Any:
        return [_no_flag_type(p) for p in super().get_params(ctx)]


def _no_flag_type(param: Any) -> Any:
    """A flag takes no value: typer 0.29 showed each as ``--json <bool>`` (``--help <bool>``
    too), as if it took one; an empty metavar shows none."""
    if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
    return param


def _untyped_help(get: Any) -> Any:
    def get_help_option(ctx: Any) -> Any:
        return _no_flag_type(get(ctx))

    return get_help_option


def _groups(app: typer.Typer) -> list[typer.Typer]:
    out = [app]
    for group in app.registered_groups:
        if group.typer_instance is not None:
            out.extend(_groups(group.typer_instance))
    return out


def register(app: typer.Typer) -> None:
    """Add ``--version`` to ``triaged``; every group of it (registered before this) lists
    its commands with :class:`SummaryGroup`."""
    app.callback()(_options)
    for group in _groups(app):
        group.info.cls = SummaryGroup
