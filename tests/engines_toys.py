"""Tiny derainer-shaped ONNX models for the engine tests (a helper, not a test module).

Each follows the graph contract: input `rainy`, output `clean`, dynamic N/H/W;
float NCHW RGB, or uint8 NHWC BGR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _weights(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [
        numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(dtype), "w1"),
        numpy_helper.from_array(np.zeros(4, dtype), "b1"),
        numpy_helper.from_array((rng.standard_normal((3, 4, 3, 3)) * 0.3).astype(dtype), "w2"),
        numpy_helper.from_array(np.zeros(3, dtype), "b2"),
    ]


def _convs(src: str, dst: str) -> list[onnx.NodeProto]:
    return [
        helper.make_node("Conv", [src, "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], [dst], pads=[1, 1, 1, 1]),
    ]


def _save(nodes, inits, inp, out, path: Path) -> Path:
    graph = helper.make_graph(nodes, "toy", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def nchw(name: str = "rainy", elem=TensorProto.FLOAT, dims=("N", 3, "H", "W")):
    return helper.make_tensor_value_info(name, elem, list(dims))


def fp32_model(path: Path, dims=("N", 3, "H", "W")) -> Path:
    """Conv + Relu + Conv, float32 NCHW; `dims` fixes sizes (e.g. (1, 3, "H", "W"): batch 1 only)."""
    return _save(_convs("rainy", "clean"), _weights(), nchw(dims=dims), nchw("clean", dims=dims), path)


def fp16_model(path: Path, dims=("N", 3, "H", "W")) -> Path:
    """The same with FP16 weights and Casts at the float32 IO (what an FP16 export looks like)."""
    nodes = ([helper.make_node("Cast", ["rainy"], ["x16"], to=TensorProto.FLOAT16)]
             + _convs("x16", "y16")
             + [helper.make_node("Cast", ["y16"], ["clean"], to=TensorProto.FLOAT)])
    return _save(nodes, _weights(np.float16), nchw(dims=dims), nchw("clean", dims=dims), path)


def uint8_model(path: Path) -> Path:
    """uint8 NHWC in and out, float convs inside."""
    nhwc = ("N", "H", "W", 3)
    nodes = ([helper.make_node("Cast", ["rainy"], ["f"], to=TensorProto.FLOAT),
              helper.make_node("Transpose", ["f"], ["x"], perm=[0, 3, 1, 2])]
             + _convs("x", "y")
             + [helper.make_node("Transpose", ["y"], ["yt"], perm=[0, 2, 3, 1]),
                helper.make_node("Clip", ["yt", "lo", "hi"], ["yc"]),
                helper.make_node("Cast", ["yc"], ["clean"], to=TensorProto.UINT8)])
    inits = _weights() + [numpy_helper.from_array(np.float32(0), "lo"),
                          numpy_helper.from_array(np.float32(255), "hi")]
    return _save(nodes, inits, nchw(elem=TensorProto.UINT8, dims=nhwc),
                 nchw("clean", TensorProto.UINT8, nhwc), path)


class _Calibration:
    """A few random frames, what `rainloop quantize` feeds from real footage."""

    def __init__(self, n: int = 4):
        rng = np.random.default_rng(1)
        self._frames = iter([{"rainy": rng.random((1, 3, 32, 32), dtype=np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self._frames, None)


def qdq_model(fp32_path: Path, path: Path, activations: str = "int8", symmetric: bool = True) -> Path:
    """A real Q/DQ model from onnxruntime's static quantizer; the defaults are what TensorRT wants."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    act = QuantType.QInt8 if activations == "int8" else QuantType.QUInt8
    quantize_static(str(fp32_path), str(path), _Calibration(), quant_format=QuantFormat.QDQ,
                    activation_type=act, weight_type=QuantType.QInt8, per_channel=True,
                    extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True,
                                   "QuantizeBias": False})
    return path
