"""``triaged --version`` prints the installed package's version and the bundled encoder."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from triaged.encoders import DEFAULT_ENCODER


def test_version_prints_the_installed_version_and_exits_0() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "triaged.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"triaged {version('triaged')} (encoder {DEFAULT_ENCODER})\n"


def test_help_lists_the_version_option_and_the_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "triaged.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "--version" in proc.stdout and "classify" in proc.stdout


def test_the_command_list_shows_each_summary_as_one_paragraph() -> None:
    """A summary wrapped in the source was listed with its line breaks: at 80 columns
    `demo`'s broke after "routed as the service"."""
    proc = subprocess.run(
        [sys.executable, "-m", "triaged.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    demo = next(line for line in proc.stdout.splitlines() if "│ demo " in line)
    assert "routed as the service routes them (the auto threshold certified" in demo
