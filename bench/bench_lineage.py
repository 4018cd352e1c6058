"""How long reading a large taxonomy takes: its labels under their current names (the
version history), and the taxonomy itself (``GET /v1/taxonomies/{name}``, the review page).

Every reviewed decision's label is read under today's name (the live routing bound, the
what-if, the review items, the insights, retraining), which needs the taxonomy's version
history.  A CLINC150 taxonomy of 150 intents is stored as five versions (50, then 100
examples per intent, descriptions edited); the script times ``label_lineage.lineage`` from
the first version three times (the first read, then the cached ones), then
``Service.get_taxonomy`` of the current version (15,000 examples) the same way.

    python -m bench.bench_lineage
"""

from __future__ import annotations

import tempfile
import time

from bench._common import DATASETS
from triaged.service import Service
from triaged.services import label_lineage
from triaged.services import taxonomies as taxo
from triaged.settings import Settings
from triaged.taxonomy import Taxonomy


def main() -> None:
    settings = Settings(
        data_dir=tempfile.mkdtemp(), bootstrap_admin=False, background_train_min_examples=10**9
    )
    svc = Service(settings)
    svc.start()
    try:
        key = svc.create_key("acme", "admin", create_plan="unlimited").key
        assert key is not None
        admin = svc.authenticate(key)
        full = Taxonomy.from_dataset_dir(DATASETS / "clinc150").to_dict()
        labels = full["labels"]
        first = [{**lb, "examples": lb["examples"][:50]} for lb in labels]
        svc.create_taxonomy(admin, {**full, "name": "big", "labels": first})
        for k in range(4):
            edited = [{**lb, "description": f"{lb['description']} v{k}"} for lb in labels]
            svc.update_taxonomy(admin, "big", {"labels": edited})
        with svc.db.read() as conn:
            record = taxo.get_record(conn, admin.workspace_id, "big")
            for i in range(3):
                started = time.perf_counter()
                lin = label_lineage.lineage(conn, record.id, {1})
                ms = (time.perf_counter() - started) * 1000
                what = "first read" if i == 0 else "cached"
                print(f"lineage v1 -> v{lin.current_version} ({what}): {ms:.1f} ms")
        taxo.forget_parsed()
        for i in range(3):
            started = time.perf_counter()
            svc.get_taxonomy(admin, "big")
            ms = (time.perf_counter() - started) * 1000
            what = "first read" if i == 0 else "cached"
            print(f"get_taxonomy, 15,000 examples ({what}): {ms:.1f} ms")
    finally:
        svc.close()


if __name__ == "__main__":
    main()
