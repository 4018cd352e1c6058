"""Cached embeddings of the shared datasets for benchmarks and constant fitting.

Embedding every split of the six shared sets with the bundled encoder takes minutes on
two cores; every bench script (and ``scripts/fit_*``) reads them from here instead.
Train splits are embedded in batches (as ``Classifier.fit`` does), val/test splits one
text per call (as ``Classifier.classify`` does).  The cache key includes the encoder's
SHA-256, so a new encoder never reads stale vectors.

    python -m bench.embed_cache            # fill the cache for every dataset
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

from bench._common import DATASETS, ROOT

CACHE = ROOT / "bench" / ".cache" / "emb"
ALL = ("atis", "banking77", "clinc150", "dbpedia14", "snips", "stackoverflow")


def _encoder_tag() -> str:
    from triaged.encoders.onnx import OnnxEncoder

    manifest = OnnxEncoder.manifest()
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]


def read_split(dataset: str, split: str) -> tuple[list[str], list[str]]:
    path = DATASETS / dataset / f"{split}.jsonl"
    if not path.exists():
        return [], []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r["text"] for r in rows], [r["label"] for r in rows]


_ENCODER = None


def _encoder():  # type: ignore[no-untyped-def]
    global _ENCODER
    if _ENCODER is None:
        from triaged.encoders.onnx import OnnxEncoder

        _ENCODER = OnnxEncoder()
    return _ENCODER


def embeddings(
    dataset: str, split: str, *, progress: bool = False
) -> tuple[list[str], list[str], np.ndarray]:
    """(texts, labels, vectors) of one split, from the cache or embedded and cached."""
    texts, labels = read_split(dataset, split)
    key = hashlib.sha256(("\n".join(texts)).encode()).hexdigest()[:12]
    path = CACHE / f"{dataset}-{split}-{_encoder_tag()}-{key}.npy"
    if path.exists():
        return texts, labels, np.load(path)
    batch = 64 if split == "train" else 1
    X = (
        _encoder().embed(texts, batch_size=batch, progress=progress)
        if texts
        else np.zeros((0, 384), np.float32)
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, X)
    tmp.replace(path)
    return texts, labels, X


def label_vectors(dataset: str) -> tuple[list[str], np.ndarray]:
    """The dataset's label names (without ``oos``) and the vectors of their prompts,
    exactly as ``Classifier.fit`` builds them."""
    from triaged.taxonomy import Taxonomy

    tax = Taxonomy.from_dataset_dir(DATASETS / dataset, split="none")
    return list(tax.label_names), _encoder().embed([lb.prompt for lb in tax.labels])


def main(argv: list[str]) -> None:
    names = argv or list(ALL)
    for name in names:
        for split in ("train", "val", "test"):
            texts, _, X = embeddings(name, split, progress=True)
            print(f"{name}/{split}: {len(texts)} texts, {X.shape}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
