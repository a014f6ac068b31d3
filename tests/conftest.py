"""Shared fixtures for the runtime tests: toy derainer ONNX models and indexed videos.

The toy model is a real graph honouring the derainer contract (dynamic N, H, W):
a per-channel affine map clean = rainy * scale + shift in RGB [0, 1], so every
output can be derived in the test from the input alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest

from rainloop.video import read_video, write_video
from onnx import TensorProto, helper, numpy_helper

SCALE_RGB = (0.5, 0.75, 1.0)
SHIFT_RGB = (0.25, 0.1, 0.0)
_OPSET = [helper.make_opsetid("", 17)]


def _const(name: str, values, dtype=np.float32, shape=(1, 3, 1, 1)):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype).reshape(shape), name)


def _float_graph(precision: str) -> onnx.GraphProto:
    """rainy float NCHW RGB -> clean; fp16 computes in half, int8 goes through Q/DQ."""
    nodes, inits, x = [], [], "rainy"
    if precision == "int8":
        inits += [numpy_helper.from_array(np.array(1 / 127, np.float32), "q_scale"),
                  numpy_helper.from_array(np.array(0, np.int8), "q_zero")]
        nodes += [helper.make_node("QuantizeLinear", [x, "q_scale", "q_zero"], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "q_scale", "q_zero"], ["xdq"])]
        x = "xdq"
    dtype = np.float16 if precision == "fp16" else np.float32
    if precision == "fp16":
        nodes.append(helper.make_node("Cast", [x], ["x16"], to=TensorProto.FLOAT16))
        x = "x16"
    inits += [_const("scale", SCALE_RGB, dtype), _const("shift", SHIFT_RGB, dtype)]
    out = "y16" if precision == "fp16" else "clean"
    nodes += [helper.make_node("Mul", [x, "scale"], ["scaled"]), helper.make_node("Add", ["scaled", "shift"], [out])]
    if precision == "fp16":
        nodes.append(helper.make_node("Cast", [out], ["clean"], to=TensorProto.FLOAT))
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"]) for n in ("rainy", "clean")]
    return helper.make_graph(nodes, "toy_float", [io[0]], [io[1]], inits)


def _uint8_graph() -> onnx.GraphProto:
    """rainy uint8 NHWC BGR -> the same affine map in 0..255, rounded, back to uint8 NHWC BGR."""
    inits = [_const("scale", SCALE_RGB[::-1]), _const("shift", np.array(SHIFT_RGB[::-1]) * 255 + 0.5),
             numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(255, np.float32), "hi")]
    nodes = [
        helper.make_node("Cast", ["rainy"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["xf"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["nchw", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "shift"], ["shifted"]),
        helper.make_node("Transpose", ["shifted"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Clip", ["nhwc", "lo", "hi"], ["clipped"]),
        helper.make_node("Floor", ["clipped"], ["rounded"]),
        helper.make_node("Cast", ["rounded"], ["clean"], to=TensorProto.UINT8),
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.UINT8, ["N", "H", "W", 3]) for n in ("rainy", "clean")]
    return helper.make_graph(nodes, "toy_uint8", [io[0]], [io[1]], inits)


@dataclass
class ToyModel:
    path: Path
    io: str
    precision: str

    @staticmethod
    def expected(frame_bgr: np.ndarray) -> np.ndarray:
        """What the toy derainer must return for a BGR uint8 frame (within 1 level of rounding)."""
        scale = np.array(SCALE_RGB[::-1])
        shift = np.array(SHIFT_RGB[::-1])
        out = np.clip(frame_bgr / 255.0 * scale + shift, 0.0, 1.0)
        return np.floor(out * 255 + 0.5).astype(np.uint8)


@pytest.fixture
def toy_onnx(tmp_path):
    """toy_onnx(io="float"|"uint8", precision="fp32"|"fp16"|"int8", name=None) -> ToyModel."""

    def make(io: str = "float", precision: str = "fp32", name: str | None = None) -> ToyModel:
        graph = _uint8_graph() if io == "uint8" else _float_graph(precision)
        model = helper.make_model(graph, opset_imports=_OPSET, ir_version=8)
        onnx.checker.check_model(model)
        path = tmp_path / (name or f"toy_{io}_{precision}.onnx")
        onnx.save(model, str(path))
        return ToyModel(path, io, precision)

    return make


@pytest.fixture
def identity_onnx(tmp_path):
    """identity_onnx(shape=[N, 3, H, W] with None for dynamic dims) -> path of a derainer that changes nothing."""

    def make(shape) -> Path:
        io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("rainy", "derained")]
        graph = helper.make_graph([helper.make_node("Identity", ["rainy"], ["derained"])], "identity", [io[0]], [io[1]])
        path = tmp_path / f"identity_{'x'.join(str(d) for d in shape)}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=_OPSET, ir_version=8), str(path))
        return path

    return make


# --------------------------------------------------------------------------
# Frames that carry their own index, for order and drop checks through codecs
# --------------------------------------------------------------------------

_BITS = 8  # frames 0..255
_BAND = 8  # rows of the bit band at the top


def indexed_frame(index: int, size=(64, 48)) -> np.ndarray:
    """A gray frame whose top band carries `index` in 8 black/white blocks: it survives
    any codec, and the toy model keeps black and white in blue as they are."""
    w, h = size
    frame = np.full((h, w, 3), 128, np.uint8)
    for bit in range(_BITS):
        frame[:_BAND, bit * w // _BITS:(bit + 1) * w // _BITS] = 255 if index >> bit & 1 else 0
    return frame


def frame_index(frame: np.ndarray) -> int:
    row = frame[_BAND // 2, :, 0]
    w = frame.shape[1]
    return sum(1 << bit for bit in range(_BITS) if row[(2 * bit + 1) * w // (2 * _BITS)] > 127)


def _write_video(path: Path, frames, fps: float = 10.0) -> Path:
    write_video(path, frames, fps)
    return path


@pytest.fixture
def kit():
    """The frame/video helpers above, for test modules (conftest is not importable by name)."""
    return SimpleNamespace(indexed_frame=indexed_frame, frame_index=frame_index,
                           write_video=_write_video, read_video=read_video)


@pytest.fixture
def indexed_video(tmp_path):
    """indexed_video(n=12, size=(64, 48), suffix=".avi") -> path of a video of indexed frames."""

    def make(n: int = 12, size=(64, 48), suffix: str = ".avi", name: str = "in") -> Path:
        return _write_video(tmp_path / f"{name}{suffix}", [indexed_frame(i, size) for i in range(n)])

    return make
