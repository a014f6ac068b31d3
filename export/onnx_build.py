"""Trace a derainer module to ONNX, simplify it and check it, keeping N, H, W dynamic."""

from __future__ import annotations

import io as _io
import warnings

import onnx
import torch

from rainloop.errors import RainloopError

INPUT, OUTPUT = "rainy", "clean"
# Opset 13 brings per-channel QuantizeLinear (int8 export); 20 is the newest
# the TorchScript exporter in torch 2.13 writes.
OPSETS = range(13, 21)


def layout(io: str) -> str:
    return "NHWC" if io == "uint8" else "NCHW"


def _dynamic_axes(io: str) -> dict:
    hw = (1, 2) if io == "uint8" else (2, 3)
    axes = {0: "N", hw[0]: "H", hw[1]: "W"}
    return {INPUT: axes, OUTPUT: axes}


def _dummy(io: str, size: tuple[int, int]) -> torch.Tensor:
    w, h = size
    if io == "uint8":
        return torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8)
    return torch.rand(1, 3, h, w)


def trace(module: torch.nn.Module, io: str, opset: int, static: tuple[int, int] | None) -> onnx.ModelProto:
    """torch.onnx's TorchScript exporter with dynamic_axes.

    Why not dynamo=True: in torch 2.13 it needs the extra onnxscript package,
    takes ~50x longer on these nets and cannot write opset 17 (its Pad comes
    out at opset 18). The TorchScript trace keeps the pad arithmetic as
    Shape/Mod ops, so sizes stay dynamic (checked by the parity step).
    """
    if opset not in OPSETS:
        raise RainloopError(f"opset {opset}: choose one from {OPSETS.start} to {OPSETS.stop - 1}")
    m = module.multiple
    # Trace at a size off the multiple so the padding path is live.
    size = static or (m + 5, m + 3)
    buf = _io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice; chosen on purpose above
        torch.onnx.export(module, (_dummy(io, size),), buf, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes=None if static else _dynamic_axes(io), opset_version=opset,
                          do_constant_folding=True, dynamo=False)
    return onnx.load_from_string(buf.getvalue())


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxsim with no input shapes given, so dynamic dims stay symbolic."""
    import onnxsim

    simplified, ok = onnxsim.simplify(model)
    if not ok:
        raise RuntimeError("onnxsim could not verify the simplified graph")
    return constants_to_initializers(simplified)


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxsim leaves folded weights (e.g. the rain gate's conv times its gain) in
    Constant nodes; as initializers, quantizers and TensorRT treat them as weights."""
    nodes = []
    for node in model.graph.node:
        if node.op_type == "Constant" and [a.name for a in node.attribute] == ["value"]:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def finish(model: onnx.ModelProto, metadata: dict[str, str]) -> onnx.ModelProto:
    """Give the output the input's dims (the exporter names the channel dim oddly), tag, check."""
    inp, out = model.graph.input[0], model.graph.output[0]
    out.type.tensor_type.shape.CopyFrom(inp.type.tensor_type.shape)
    model.producer_name = "rainloop"
    onnx.helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def dynamic_dims(model: onnx.ModelProto) -> list[str]:
    """The input's symbolic dims by name (empty for a static graph)."""
    return [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim if d.dim_param]
