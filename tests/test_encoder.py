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


def _long_text(words: int) -> str:
    """A text of about ``words`` words, no two sentences alike."""
    topics = ["invoice", "refund", "password", "delivery", "warranty", "upgrade", "outage"]
    return " ".join(
        f"Sentence {i} is about the {topics[i % len(topics)]} of order {i * 7}."
        for i in range(words // 9)
    )


def test_a_text_longer_than_the_window_is_read_whole() -> None:
    """Past ``max_length`` tokens a text was cut: now its windows are each encoded and
    averaged (weighted by their tokens), at most ``max_windows`` of them; a text within
    one window is encoded exactly as before."""
    enc = OnnxEncoder()  # not get_encoder(): other tests may have wrapped the shared one
    first_only = OnnxEncoder(max_windows=1)
    two = OnnxEncoder(max_windows=2)
    short = ["my card was charged twice", "where is my parcel"]
    long = _long_text(700)
    windows = [[w.ids for w in [e, *e.overflowing]] for e in enc._tokenizer.encode_batch([long])]
    assert len(windows[0]) >= 3
    # windows encoded one by one, combined by hand
    rows = np.concatenate([enc._run([ids]) for ids in windows[0]])
    weight = np.array([len(ids) - 2 for ids in windows[0]], dtype=np.float64)

    def mean_of(k: int) -> np.ndarray:
        m = (rows[:k] * weight[:k, None]).sum(axis=0) / weight[:k].sum()
        return m / np.linalg.norm(m)

    got = enc.embed_exact([long], batch_size=1)[0]
    assert np.allclose(got, mean_of(len(rows)), atol=1e-6)
    assert np.allclose(two.embed_exact([long], batch_size=1)[0], mean_of(2), atol=1e-6)
    assert np.array_equal(first_only.embed_exact([long], batch_size=1)[0], rows[0])
    assert not np.allclose(got, rows[0], atol=1e-3)  # the rest of the text counts
    # in a batch, among short texts, in any order: the same vector; short texts unchanged
    batch = [short[0], long, short[1], long, *short * 3]
    out = enc.embed_exact(batch, batch_size=16)
    assert np.allclose(out[1], got, atol=1e-6) and np.array_equal(out[1], out[3])
    single = np.concatenate([first_only.embed_exact([t], batch_size=1) for t in short])
    assert np.array_equal(out[[0, 2]], single)
    assert np.allclose(np.linalg.norm(enc.embed([long, *short]), axis=1), 1.0, atol=1e-5)
