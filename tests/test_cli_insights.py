"""``triaged insights NAME`` on a real SQLite database filled through the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.servicekit import make_stack
from triaged.cli import app
from triaged.service import ClassifyItem
from triaged.taxonomy import read_jsonl

runner = CliRunner()
KEPT = ("alarm", "weather", "balance", "book_flight", "recipe", "gas")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-insights') / 'triaged.db'}"
    stack = make_stack("sqlite", url)
    svc = stack.service
    try:
        tenant = stack.tenant("unlimited")
        principal = svc.authenticate(tenant.key)
        groups: dict[str, list[str]] = {}
        for split in ("train", "test"):
            for ex in read_jsonl(datasets_dir / "clinc150" / f"{split}.jsonl"):
                groups.setdefault(f"{split}:{ex.label}", []).append(ex.text)
        svc.create_taxonomy(
            principal,
            {
                "name": "clinc-cli",
                "labels": [
                    {
                        "name": n,
                        "description": n.replace("_", " "),
                        "examples": groups[f"train:{n}"][:15],
                    }
                    for n in KEPT
                ],
            },
        )
        svc.wait_for_jobs(120)
        texts = groups["test:tire_change"] + [t for n in KEPT for t in groups[f"test:{n}"][:8]]
        for start in range(0, len(texts), 100):
            svc.classify(
                principal, "clinc-cli", [ClassifyItem(t) for t in texts[start : start + 100]]
            )
    finally:
        svc.close()
    return url


def test_insights_json_markdown_html_and_text(served: str, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["insights", "clinc-cli", "--format", "json", "--database-url", served]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"gap_clusters", "overlaps", "labels"} <= set(data)
    assert sum(h["volume"] for h in data["labels"]) == 30 + 8 * len(KEPT)
    assert any("tire" in c["proposed_label"] for c in data["gap_clusters"])

    res = runner.invoke(app, ["insights", "clinc-cli", "-f", "markdown", "--database-url", served])
    assert res.exit_code == 0 and "## Gap clusters" in res.stdout and "| label |" in res.stdout

    page = tmp_path / "insights.html"
    res = runner.invoke(
        app, ["insights", "clinc-cli", "-f", "html", "-o", str(page), "--database-url", served]
    )
    assert res.exit_code == 0, res.output
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "http" not in html.split("<body>")[0]

    res = runner.invoke(app, ["insights", "clinc-cli", "--database-url", served])
    assert res.exit_code == 0 and "Gap clusters" in res.stdout and "Labels" in res.stdout

    res = runner.invoke(
        app,
        ["insights", "clinc-cli", "--since", "2999-01-01", "-f", "json", "--database-url", served],
    )
    assert res.exit_code == 0 and json.loads(res.stdout)["gap_clusters"] == []


def test_insights_errors(served: str) -> None:
    res = runner.invoke(app, ["insights", "nope", "--database-url", served])
    assert res.exit_code == 2 and "no taxonomy" in res.output
    res = runner.invoke(
        app, ["insights", "clinc-cli", "--since", "yesterday", "--database-url", served]
    )
    assert res.exit_code != 0


def test_drift_check_records_once(served: str) -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from triaged.service import Service
    from triaged.services.ids import new_id
    from triaged.settings import Settings
    from triaged.storage.tables import decisions, taxonomies

    svc = Service(Settings(database_url=served, bootstrap_admin=False))
    rng = random.Random(0)
    now = datetime.now(UTC)
    try:
        with svc.db.write() as conn:
            tax = conn.execute(taxonomies.select().where(taxonomies.c.name == "clinc-cli")).first()
            rows = []
            for i in range(1600):
                recent = i >= 1200
                hold = rng.random() < (0.3 if recent else 0.1)
                start = now - timedelta(days=1 if recent else 8)
                span = 23 * 3600 if recent else 6 * 86400
                rows.append(
                    {
                        "id": new_id("dec"),
                        "workspace_id": tax.workspace_id,
                        "taxonomy_id": tax.id,
                        "taxonomy": "clinc-cli",
                        "taxonomy_version": 1,
                        "model_version": "m",
                        "text": "t",
                        "external_id": None,
                        "metadata": None,
                        "label": "gas",
                        "confidence": 0.5,
                        "bucket": "hold" if hold else "auto",
                        "alternatives": [],
                        "scores": {},
                        "latency_ms": 1.0,
                        "key_id": None,
                        "created_at": start + timedelta(seconds=rng.random() * span),
                        "final_label": None,
                        "final_source": None,
                        "resolved_at": None,
                    }
                )
            conn.execute(decisions.insert(), rows)
    finally:
        svc.close()
    # a change smaller than --min-change (here: any) records nothing
    strict = ["drift", "check", "--json", "--min-change", "1", "--database-url", served]
    res = runner.invoke(app, strict)
    assert res.exit_code == 0 and json.loads(res.stdout)["alerts"] == [], res.output
    res = runner.invoke(app, ["drift", "check", "--json", "--database-url", served])
    assert res.exit_code == 0, res.output
    alerts = json.loads(res.stdout)["alerts"]
    # the recent window also holds the fixture's real decisions (some flagged for review)
    assert ("clinc-cli", "hold", "up") in [
        (a["taxonomy"], a["bucket"], a["direction"]) for a in alerts
    ]
    res = runner.invoke(app, ["drift", "check", "--json", "--database-url", served])
    assert res.exit_code == 0 and json.loads(res.stdout)["alerts"] == []
