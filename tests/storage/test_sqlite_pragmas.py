"""The SQLite connection settings the durability promise rests on."""

from __future__ import annotations

from pathlib import Path

import pytest

from triaged.errors import InvalidInput
from triaged.storage.db import Database


# PRAGMA synchronous values: 1 = NORMAL, 2 = FULL
@pytest.mark.parametrize(("setting", "value"), [("NORMAL", 1), ("FULL", 2)])
def test_wal_and_synchronous(tmp_path: Path, setting: str, value: int) -> None:
    db = Database(f"sqlite:///{tmp_path / 'd.db'}", sqlite_synchronous=setting)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == value
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def test_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="NORMAL or FULL"):
        Database(f"sqlite:///{tmp_path / 'd.db'}", sqlite_synchronous="OFF")
