"""Small, deterministic slices of the shared datasets for fast real tests."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from triaged.taxonomy import Example, Taxonomy, read_jsonl


def slice_dataset(
    src: Path,
    dst: Path,
    *,
    labels: int,
    train_per_label: int,
    test_per_label: int,
    oos_train: int = 0,
    oos_test: int = 0,
    seed: int = 0,
) -> Path:
    """Write a shared-format dataset folder with the first ``labels`` labels, sampled."""
    rng = random.Random(seed)
    all_labels = json.loads((src / "labels.json").read_text())
    keep = [lb for lb in all_labels if lb["name"] != "oos"][:labels]
    names = {lb["name"] for lb in keep}
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "labels.json").write_text(json.dumps(keep))
    for split, k, k_oos in (
        ("train", train_per_label, oos_train),
        ("test", test_per_label, oos_test),
    ):
        groups: dict[str, list[Example]] = defaultdict(list)
        for ex in read_jsonl(src / f"{split}.jsonl"):
            if ex.label in names or ex.label == "oos":
                groups[ex.label].append(ex)
        rows: list[Example] = []
        for name, items in sorted(groups.items()):
            want = k_oos if name == "oos" else k
            rows.extend(rng.sample(items, min(want, len(items))))
        with (dst / f"{split}.jsonl").open("w") as fh:
            for ex in rows:
                fh.write(json.dumps({"text": ex.text, "label": ex.label}) + "\n")
    return dst


def small_taxonomy(datasets: Path, tmp: Path, *, labels: int = 8, per_label: int = 12) -> Taxonomy:
    folder = slice_dataset(
        datasets / "clinc150",
        tmp / "clinc_small",
        labels=labels,
        train_per_label=per_label,
        test_per_label=5,
    )
    return Taxonomy.from_dataset_dir(folder)
