"""``triaged --version`` prints the installed package's version and the bundled encoder; the
command lists show each summary as one paragraph."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from triaged.cli_version import reflow
from triaged.encoders import DEFAULT_ENCODER


def triaged_cli(
    *args: str, columns: int = 100, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command line in a new interpreter, exit code 0, its output as wide as ``columns``
    (or in the environment ``env``, given whole)."""
    proc = subprocess.run(
        [sys.executable, "-m", "triaged.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"} if env is None else env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_version_prints_the_installed_version_and_exits_0() -> None:
    out = triaged_cli("--version").stdout
    assert out == f"triaged {version('triaged')} (encoder {DEFAULT_ENCODER})\n"


def test_help_lists_the_version_option_and_the_commands() -> None:
    out = triaged_cli("--help").stdout
    assert "--version" in out and "classify" in out


def test_the_command_list_shows_each_summary_as_one_paragraph() -> None:
    """A summary wrapped in the source was listed with its line breaks: at 80 columns
    `demo`'s broke after "routed as the service"."""
    demo = next(
        line for line in triaged_cli("--help", columns=200).stdout.splitlines() if "│ demo " in line
    )
    assert "routed as the service routes them (the auto threshold certified" in demo


def test_a_commands_help_shows_each_paragraph_as_one_line_at_any_width() -> None:
    """typer showed the paragraphs after the first with the source's line breaks: `eval
    --help` broke after "held-out evidence, as the" however wide the terminal."""
    out = triaged_cli("eval", "--help", columns=200).stdout
    assert (
        "Routing uses the auto threshold certified from the model's held-out evidence, as the "
        "service would; `auto_error_all` counts out-of-scope items in auto as wrong." in out
    )


def test_flags_show_no_value_type() -> None:
    """typer 0.29 listed every flag with a type, ``--json <bool>``, ``--help <bool>``, as if it
    took a value; options that take one keep theirs."""
    for args in (("--help",), ("review", "--help"), ("keys", "list", "--help")):
        out = triaged_cli(*args).stdout
        assert "<bool>" not in out, (args, out)
        assert "--help" in out
    out = triaged_cli("keys", "list", "--help").stdout
    assert "<path>" in out and "--json" in out


def test_reflow_keeps_lists_and_indented_blocks_as_written() -> None:
    text = (
        "Summary\n    line.\n\n    Prose\n    wrapped.\n\n    Steps:\n    - one\n    - two\n\n"
        "        code\n        block\n    "
    )
    assert reflow(text) == (
        "Summary line.\n\nProse wrapped.\n\nSteps:\n- one\n- two\n\n    code\n    block"
    )
