"""A model's ``active`` flag is read with its row, in one statement.

On PostgreSQL every statement of a read sees the commits made before it: the versions list
read the active model id in one statement and the rows in the next, so a training that
committed between them (its row ``ready`` and made active in one transaction) was shown
``ready`` and not active (``test_background_training_is_pollable[postgres]`` failed so about
once in ten runs on a busy machine).  Here a writer makes the second model ready and active,
then training and inactive again, in one transaction each, while the reads go on: every read
must show it active exactly when it shows it ready.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.servicekit import BACKENDS, trained_service
from triaged.services import learning, training
from triaged.services.taxonomies import get_record
from triaged.storage import training_repo
from triaged.storage.tables import models
from triaged.taxonomy import Example

READS = 400


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_is_shown_active_exactly_when_the_same_read_shows_it_ready(
    backend: str, tmp_path: Path
) -> None:
    with trained_service(backend, tmp_path) as trained:
        svc = trained.service
        admin = svc.authenticate(trained.key)
        svc.add_examples(admin, "support", [Example("refund it", "billing")])
        svc.jobs.wait(120)
        with svc.db.read() as conn:
            record = get_record(conn, admin.workspace_id, "support")
            first, second = trained.model_id, record.active_model_id
        assert second is not None and second != first
        stop = threading.Event()

        def flip() -> None:
            ready = True
            while not stop.is_set():
                ready = not ready
                with svc.db.write() as conn:
                    conn.execute(
                        update(models)
                        .where(models.c.id == second)
                        .values(status="ready" if ready else "training")
                    )
                    training_repo.set_active_model(conn, record.id, second if ready else first)

        writer = threading.Thread(target=flip)
        writer.start()
        seen: set[tuple[str, bool]] = set()
        try:
            for i in range(READS):
                with svc.db.read() as conn:
                    if i % 2:
                        rows = learning.list_versions(conn, record)
                        row = next(r for r in rows if r["id"] == second)
                    else:
                        row = training.get_model(conn, record, second)
                seen.add((row["status"], row["active"]))
        finally:
            stop.set()
            writer.join()
        assert seen <= {("ready", True), ("training", False)}, seen
        assert seen == {("ready", True), ("training", False)}  # the writer was seen
