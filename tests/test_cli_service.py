"""Operator CLI: db upgrade, workspaces, keys (create --json / list / revoke)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from triaged.cli import app
from triaged.service import Service
from triaged.settings import Settings

runner = CliRunner()


def test_workspaces_and_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["workspaces", "create", "acme", "--plan", "free", "--database-url", url]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["workspaces", "create", "acme", "--plan", "free", "--database-url", url]
    )
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["workspaces", "create", "x", "--plan", "gold", "--database-url", url])
    assert r.exit_code == 2 and "unknown plan" in r.output
    for bad in ("two words", "../etc", "_under", "naïve"):  # sign-up's name rule, here too
        r = runner.invoke(app, ["workspaces", "create", bad, "--database-url", url])
        assert r.exit_code == 2 and "invalid workspace name" in r.output, (bad, r.output)

    r = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--workspace",
            "acme",
            "--role",
            "client",
            "--database-url",
            url,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["key"].startswith("tri_") and created["role"] == "client"

    svc = Service(Settings(database_url=url, bootstrap_admin=False))
    try:
        principal = svc.authenticate(created["key"])
        assert principal.workspace == "acme" and principal.plan == "free"

        r = runner.invoke(
            app, ["keys", "list", "--workspace", "acme", "--database-url", url, "--json"]
        )
        listed = json.loads(r.stdout)
        assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]

        r = runner.invoke(
            app, ["keys", "revoke", created["id"], "--workspace", "acme", "--database-url", url]
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            app,
            [
                "keys",
                "create",
                "--workspace",
                "nope",
                "--role",
                "admin",
                "--database-url",
                url,
                "--json",
            ],
        )
        assert r.exit_code == 2
    finally:
        svc.close()


def test_first_start_creates_one_admin_key(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path)
    first = Service(settings)
    key = first.start()
    first.close()
    assert key and key in capsys.readouterr().out
    again = Service(settings)
    assert again.start() is None  # printed once only
    principal = again.authenticate(key)
    assert principal.role.value == "admin"
    assert again.get_taxonomy(principal, "support")["ready"]  # the README's curl works at once
    again.close()


def test_data_dir_typed_beats_the_database_url_of_the_environment(tmp_path, monkeypatch):
    """``--data-dir`` on the command line wins over TRIAGED_DATABASE_URL from the shell (the
    quick start exports one): until 7 December the variable won without a word, and
    ``workspaces delete victim --data-dir other`` deleted victim from the shell's database.
    Destructive commands name the database they act on."""
    shell_db = f"sqlite:///{tmp_path / 'shell.db'}"
    other = tmp_path / "other"
    monkeypatch.setenv("TRIAGED_DATABASE_URL", shell_db)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["workspaces", "create", "victim"]).exit_code == 0
    r = runner.invoke(app, ["db", "upgrade", "--data-dir", str(other)])
    assert r.exit_code == 0, r.output
    assert (other / "triaged.db").is_file()
    r = runner.invoke(app, ["workspaces", "delete", "victim", "--yes", "--data-dir", str(other)])
    assert r.exit_code == 2 and "victim" in r.output, r.output  # not in that database
    r = runner.invoke(app, ["workspaces", "list", "--json"])
    assert "victim" in [w["name"] for w in json.loads(r.stdout)]  # still in the shell's
    r = runner.invoke(app, ["workspaces", "create", "spare", "--data-dir", str(other)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["workspaces", "delete", "spare", "--data-dir", str(other)], input="n\n")
    assert f"from sqlite:///{other / 'triaged.db'}?" in r.output, r.output
    r = runner.invoke(app, ["workspaces", "delete", "victim", "--yes"])
    assert r.exit_code == 0 and f"from {shell_db}" in r.output.replace("\n", ""), r.output
    # both typed: the URL wins, as documented
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url, "--data-dir", str(other)])
    assert r.exit_code == 0 and (tmp_path / "typed.db").is_file(), r.output


def test_both_from_the_environment_keep_the_url_first(tmp_path, monkeypatch):
    """TRIAGED_DATABASE_URL and TRIAGED_DATA_DIR both set: the URL wins, as documented."""
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("TRIAGED_DATABASE_URL", url)
    monkeypatch.setenv("TRIAGED_DATA_DIR", f"{tmp_path / 'dir'}/")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "env.db").is_file() and not (tmp_path / "dir" / "triaged.db").exists()
