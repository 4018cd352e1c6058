"""The docs stay true: every setting is documented and the generated reference is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from triaged.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_configuration_reference_is_up_to_date() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_readme_links_the_configuration_reference() -> None:
    assert "docs/configuration.md" in (ROOT / "README.md").read_text(encoding="utf-8")
