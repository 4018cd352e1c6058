"""The command line's rich consoles: a terminal's width on a terminal, and on a pipe or a
file the width of what is printed, up to :data:`PIPE_WIDTH` columns.

rich lays out for 80 columns when it cannot ask a terminal, so a table piped into ``less``,
a file or a CI log cut its cells to fit (``triaged review versions | cat`` showed a status
``re…`` and a trigger ``tr…``) and long lines wrapped mid-path.  A table takes only the width
its content needs, so a wider console changes nothing for short output.  ``COLUMNS`` set by
the caller still wins, as on a terminal.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["PIPE_WIDTH", "console"]

#: the widest a line laid out for a pipe or a file may be
PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) sized as the module docstring says."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = getattr(stream, "isatty", lambda: False)()
    width = None if terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, width=width)
