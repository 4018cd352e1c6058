from __future__ import annotations

import hashlib

import numpy as np

from triaged.encoders import get_encoder
from triaged.encoders.onnx import OnnxEncoder, assets_dir


def test_shipped_files_match_manifest_checksums() -> None:
    manifest = OnnxEncoder.manifest()
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((assets_dir() / name).read_bytes()).hexdigest() == digest, name
    assert (assets_dir() / "NOTICE").exists()


def test_embeddings_are_unit_length_and_order_preserving() -> None:
    enc = get_encoder()
    texts = [
        "a much longer sentence about my card that has not arrived in the post yet",
        "hi",
        "reset my password",
    ]
    X = enc.embed(texts, batch_size=2)
    assert X.shape == (3, enc.dim) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    # batching and length sorting must not change which row is which; int8 dynamic
    # quantization scales activations per batch, so values agree closely, not bit for bit
    singles = np.vstack([enc.embed([t]) for t in texts])
    sims = singles @ X.T
    assert np.all(np.argmax(sims, axis=1) == np.arange(3))
    assert np.all(np.diag(sims) > 0.97)
    # batch_size=1 (the serving path) is exactly what one text alone gives
    np.testing.assert_array_equal(enc.embed(texts, batch_size=1), singles)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    X = get_encoder().embed(
        ["my card hasn't arrived", "when will my new card come", "play some jazz"]
    )
    assert X[0] @ X[1] > X[0] @ X[2] + 0.2


def test_empty_input() -> None:
    assert get_encoder().embed([]).shape == (0, get_encoder().dim)
