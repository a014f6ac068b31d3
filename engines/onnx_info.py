"""What a derainer ONNX file carries: IO names, layout, dtype and precision.

Plain Python over the `onnx` package so every build decision is made (and
tested) before TensorRT is touched. Weights stored as external data are not
loaded: only the graph structure and small initializers are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from rainloop.errors import RainloopError

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})

# ONNX element type -> the dtype name used in plans and records.
_IO_DTYPES = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.UINT8: "uint8"}


@dataclass(frozen=True)
class OnnxInfo:
    path: str
    input_name: str
    output_name: str
    layout: str  # "nchw" (float RGB) or "nhwc" (uint8 BGR)
    io_dtype: str  # "float32" | "float16" | "uint8"
    precision: str  # what the graph computes in: "fp32" | "fp16" | "int8"
    input_dims: tuple[int | None, ...]  # fixed sizes, None where dynamic


def inspect_onnx(path: str | Path) -> OnnxInfo:
    """Read `path` and describe it; RainloopError if it is not a derainer ONNX."""
    path = Path(path)
    model = _load(path)
    graph = model.graph
    inputs = _real_inputs(graph)
    if len(inputs) != 1 or len(graph.output) != 1:
        raise RainloopError(
            f"{path}: expected one input and one output (a rainloop derainer), "
            f"found {len(inputs)} inputs and {len(graph.output)} outputs")
    inp = inputs[0]
    elem = inp.type.tensor_type.elem_type
    if elem not in _IO_DTYPES:
        raise RainloopError(f"{path}: input {inp.name!r} has element type "
                            f"{TensorProto.DataType.Name(elem)}; expected float32 or uint8")
    dims = _dims(inp)
    io_dtype = _IO_DTYPES[elem]
    layout = "nhwc" if io_dtype == "uint8" else "nchw"
    if len(dims) != 4 or dims[3 if layout == "nhwc" else 1] not in (3, None):
        want = "NHWC uint8 (N,H,W,3)" if layout == "nhwc" else "NCHW float (N,3,H,W)"
        raise RainloopError(f"{path}: input {inp.name!r} has shape {_show(dims)}; expected {want}")
    return OnnxInfo(str(path.resolve()), inp.name, graph.output[0].name, layout, io_dtype,
                    _precision(path, graph), dims)


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise RainloopError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types for bad bytes
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise RainloopError(f"{path}: not a readable ONNX model ({first})") from None
    if not model.graph.node or not model.graph.input:
        raise RainloopError(f"{path}: not an ONNX model (empty graph)")
    return model


def _real_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    # Old exporters list initializers among the inputs; those are weights, not inputs.
    weights = {init.name for init in graph.initializer}
    return [i for i in graph.input if i.name not in weights]


def _dims(value: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else None
                 for d in value.type.tensor_type.shape.dim)


def _show(dims: tuple[int | None, ...]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


# Integer ops ONNX Runtime's other quantization formats use; TensorRT takes only Q/DQ.
_INT_OPS = QDQ_OPS | {"QLinearConv", "ConvInteger", "MatMulInteger"}


def graph_precision(graph: onnx.GraphProto) -> str:
    """What the graph computes in: quantization ops -> int8, float16 tensors -> fp16, else fp32.

    Read from the graph, never from metadata: quantizing an fp32 export keeps its tags.
    """
    if any(node.op_type in _INT_OPS for node in graph.node):
        return "int8"
    fp16 = TensorProto.FLOAT16
    casts = [a.i for n in graph.node if n.op_type == "Cast" for a in n.attribute if a.name == "to"]
    consts = [a.t.data_type for n in graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"]
    types = [t.data_type for t in graph.initializer] + casts + consts
    types += [vi.type.tensor_type.elem_type for vi in graph.input]
    return "fp16" if fp16 in types else "fp32"


def _precision(path: Path, graph: onnx.GraphProto) -> str:
    precision = graph_precision(graph)
    if precision == "int8":
        _check_symmetric_int8(path, graph, [n for n in graph.node if n.op_type in QDQ_OPS])
    return precision


def _check_symmetric_int8(path: Path, graph: onnx.GraphProto, qdq: list[onnx.NodeProto]) -> None:
    """TensorRT's parser accepts only int8 Q/DQ with zero point 0; say so before it does."""
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for node in qdq:
        zero = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if zero is None:
            continue
        if zero.data_type == TensorProto.UINT8:
            raise RainloopError(
                f"{path}: {node.op_type} {node.name or node.output[0]!r} uses "
                "uint8 zero points; TensorRT needs int8 symmetric Q/DQ (rainloop quantize writes it)")
        if np.any(numpy_helper.to_array(zero) != 0):
            raise RainloopError(
                f"{path}: {node.op_type} {node.name or node.output[0]!r} has a non-zero zero point; "
                "TensorRT supports only symmetric quantization (rainloop quantize writes it)")
