"""Per-row activation quantization: a batched graph whose rows equal single calls.

The bundled int8 encoder quantizes activations dynamically with ``DynamicQuantizeLinear``,
which computes ONE scale and zero point over the whole tensor.  In a batch, a text's
activations are then quantized with its batch-mates' range, so its vector depends on what it
was batched with.  :func:`per_row_graph` rewrites each such node into the same arithmetic over
each row (one text) of the batch:

* ``min``/``max`` over the row (``ReduceMin``/``ReduceMax`` on the sequence and hidden axes),
  widened to include 0; ``scale = (max - min) / 255`` (1 when ``max == min``);
  ``zero_point = round_half_even(clip(-min / scale, 0, 255))``;
  ``q = clip(round_half_even(x / scale) + zero_point, 0, 255)`` — the formulas of
  onnxruntime's ``DynamicQuantizeLinear`` and ``DynamicQuantizeMatMul`` kernels;
* ``MatMulInteger`` takes one zero point for A, so it runs with none and the zero point is
  subtracted afterwards: ``sum_k (q_k - zp)(w_kn - wzp_n) = sum_k q_k (w_kn - wzp_n)
  - zp * colsum_n``, all in exact int32 arithmetic; the scale product and the bias follow
  as in the original graph;
* padded positions (attention mask 0) are multiplied by 0 before the row's min/max, so
  padding does not widen a row's range (0 is always in it); they cannot reach a real token
  otherwise (matmuls are per token, attention masks them, pooling multiplies them by 0);
* the mean-pooling sum over the sequence is taken over the leading axis of a transposed
  tensor, the summation order onnxruntime uses for one text.

So texts of any lengths can share a padded batch, and each row is bit for bit the vector
the original graph gives that text alone (checked on a few probes when the graph is built,
and by ``tests/batch/test_batch_exact.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["per_row_graph"]


def per_row_graph(model_bytes: bytes) -> bytes:
    """The serialized ONNX model with per-row dynamic activation quantization."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    new_nodes: list[Any] = []
    new_inits: list[Any] = []
    zp_of: dict[str, str] = {}  # quantized tensor -> its per-row int32 zero point

    def const(name: str, value: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(value, name))
        return name

    shared = {
        "zero": const("rowq/zero", np.array(0.0, np.float32)),
        "qmax": const("rowq/qmax", np.array(255.0, np.float32)),
        "one": const("rowq/one", np.array(1.0, np.float32)),
    }
    shared["flat_shape"] = const("rowq/flat_shape", np.array([-1], np.int64))
    const("rowq/axis0", np.array([0], np.int64))
    # the attention mask as [B, S, 1] floats: padded positions are left out of a row's range
    const("rowq/axis2", np.array([2], np.int64))
    shared["mask"] = "rowq/mask3"
    new_nodes.append(helper.make_node("Cast", ["attention_mask"], ["rowq/maskf"], to=1))
    new_nodes.append(helper.make_node("Unsqueeze", ["rowq/maskf", "rowq/axis2"], ["rowq/mask3"]))

    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            new_nodes.extend(_row_quantize(helper, node, shared, zp_of))
        elif node.op_type == "MatMulInteger" and node.input[0] in zp_of:
            new_nodes.extend(_matmul_minus_zp(helper, numpy_helper, node, inits, zp_of, const))
        elif node.op_type == "ReduceSum" and node.output[0] == "/ReduceSum_output_0":
            new_nodes.extend(_pool_sum(helper, node, const))
        else:
            new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_inits)
    return bytes(model.SerializeToString())


def _row_quantize(helper: Any, node: Any, c: dict[str, str], zp_of: dict[str, str]) -> list[Any]:
    """DynamicQuantizeLinear over each row (axis 0) instead of the whole tensor."""
    x = node.input[0]
    q_out, scale_out, zp_out = node.output
    p = f"rowq/{node.name}/"
    mk = helper.make_node
    nodes = [
        # padded positions count as 0, which the range always includes anyway
        mk("Mul", [x, c["mask"]], [p + "real"]),
        mk("ReduceMin", [p + "real"], [p + "min0"], axes=[1, 2], keepdims=1),
        mk("ReduceMax", [p + "real"], [p + "max0"], axes=[1, 2], keepdims=1),
        mk("Min", [p + "min0", c["zero"]], [p + "min"]),
        mk("Max", [p + "max0", c["zero"]], [p + "max"]),
        mk("Sub", [p + "max", p + "min"], [p + "range"]),
        mk("Div", [p + "range", c["qmax"]], [p + "scale0"]),
        mk("Equal", [p + "max", p + "min"], [p + "flat"]),
        mk("Where", [p + "flat", c["one"], p + "scale0"], [scale_out]),
        mk("Div", [p + "min", scale_out], [p + "min_q"]),
        mk("Neg", [p + "min_q"], [p + "zp0"]),
        mk("Clip", [p + "zp0", c["zero"], c["qmax"]], [p + "zp1"]),
        mk("Round", [p + "zp1"], [p + "zpf"]),
        mk("Cast", [p + "zpf"], [zp_out], to=2),  # uint8, [B, 1, 1]
        mk("Cast", [p + "zpf"], [p + "zp32"], to=6),  # int32, for the matmul correction
        # QuantizeLinear with one scale per row (axis 0): onnxruntime's MlasQuantizeLinear,
        # the routine DynamicQuantizeLinear itself ends with
        mk("Reshape", [scale_out, c["flat_shape"]], [p + "scale_v"]),
        mk("Reshape", [zp_out, c["flat_shape"]], [p + "zp_v"]),
        mk("QuantizeLinear", [x, p + "scale_v", p + "zp_v"], [q_out], axis=0),
    ]
    zp_of[q_out] = p + "zp32"
    return nodes


def _matmul_minus_zp(
    helper: Any,
    numpy_helper: Any,
    node: Any,
    inits: dict[str, Any],
    zp_of: dict[str, str],
    const: Any,
) -> list[Any]:
    """MatMulInteger(q, W, zp_row, wzp) as MatMulInteger(q, W, -, wzp) - zp_row * colsum."""
    a, w = node.input[0], node.input[1]
    wzp_name = node.input[3] if len(node.input) > 3 else ""
    weights = numpy_helper.to_array(inits[w]).astype(np.int64)
    wzp = numpy_helper.to_array(inits[wzp_name]).astype(np.int64) if wzp_name else 0
    colsum = (weights - wzp).sum(axis=0).astype(np.int32)
    p = f"rowq/{node.name or node.output[0]}/"
    col = const(p + "colsum", colsum)
    mk = helper.make_node
    inputs = [a, w, "", wzp_name] if wzp_name else [a, w]
    return [
        mk("MatMulInteger", inputs, [p + "raw"]),
        mk("Mul", [zp_of[a], col], [p + "corr"]),
        mk("Sub", [p + "raw", p + "corr"], [node.output[0]]),
    ]


def _pool_sum(helper: Any, node: Any, const: Any) -> list[Any]:
    """The mean-pooling sum over the sequence axis, as a sum over the leading axis.

    For one text, onnxruntime reduces ``[1, S, H]`` over axis 1 as an ``[S, H]`` column sum;
    for ``[B, S, H]`` it picks another loop with another summation order (last-bit
    differences).  Transposing to ``[S, B, H]`` and summing axis 0 is the same column sum,
    row after row, as the single call.
    """
    p = f"rowq/{node.name}/"
    mk = helper.make_node
    return [
        mk("Transpose", [node.input[0]], [p + "t"], perm=[1, 0, 2]),
        mk("ReduceSum", [p + "t", "rowq/axis0"], [node.output[0]], keepdims=0),
    ]
