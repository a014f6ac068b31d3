"""`rainloop export`: a G3 checkpoint in, a checked ONNX file and its model card out."""

from __future__ import annotations

from pathlib import Path

from rainloop.atomic import write_bytes
from rainloop.errors import RainloopError
from rainloop.export import onnx_build
from rainloop.export.card import write_card
from rainloop.export.complexity import REFERENCE_SIZE, gflops, parameter_count
from rainloop.export.graph_modules import export_module
from rainloop.export.parity import check_parity
from rainloop.models import resolve
from rainloop.training.derainer_io import FORMAT_KEYS, load_derainer

PRECISIONS = ("fp32", "fp16")
IOS = ("float", "uint8")
# Off every net's multiple and of different shapes, so the in-graph padding is
# exercised at two different amounts.
CHECK_SIZES = [(320, 180), (211, 147)]


class ParityError(RainloopError):
    """The exported graph does not compute what the PyTorch derainer computes."""


def export_onnx(ckpt: str | Path, out: str | Path, precision: str = "fp32", io: str = "float",
                opset: int = 17, static: tuple[int, int] | None = None, simplify: bool = True,
                tolerance: float = 1e-4, min_psnr: float = 45.0,
                check_sizes: list[tuple[int, int]] | None = None) -> dict:
    """Export the derainer at `ckpt` (run folder, g3.safetensors, g3.json or "default") to `out`.

    Nothing is written unless the graph passes onnx.checker and the parity
    check against PyTorch (ParityError otherwise). Returns the written card.
    """
    out = Path(out)
    _check_options(out, precision, io)
    derainer, g3 = load_derainer(resolve(ckpt, want="weights"))
    module = export_module(derainer, precision, io)
    model = onnx_build.trace(module, io, opset, static)
    if simplify:
        model = onnx_build.simplify(model)
    model = onnx_build.finish(model, {"rainloop.kind": "derainer", "rainloop.precision": precision,
                                      "rainloop.io": io, "rainloop.multiple": str(derainer.multiple)})
    dims = onnx_build.dynamic_dims(model)
    if not static and dims != ["N", "H", "W"]:
        raise RuntimeError(f"exported graph lost its dynamic dims (input dims: {dims})")
    graph = model.SerializeToString()
    # A static graph is static in N too (batch 1): one size, one frame.
    sizes = [static] if static else (check_sizes or CHECK_SIZES)
    parity = check_parity(graph, derainer, sizes, precision, io, tolerance, min_psnr, batch=1 if static else 2)
    if not parity["passed"]:
        raise ParityError(f"{out}: parity check failed, ONNX Runtime vs PyTorch "
                          f"max abs error {parity['max_abs_error']:.3g}, PSNR {parity['psnr_db']} dB "
                          f"(need {parity['criterion']}); nothing written")
    write_bytes(out, graph)
    card = derainer_card(g3, derainer, precision=precision, io=io, opset=opset, static=static,
                         simplified=simplify, parity=parity)
    write_card(out, card)
    return card


def _check_options(out: Path, precision: str, io: str) -> None:
    if out.suffix != ".onnx":
        raise RainloopError(f"{out}: the output file name must end in .onnx")
    if precision not in PRECISIONS:
        raise RainloopError(f"precision {precision!r}: choose {' or '.join(PRECISIONS)} "
                            "(int8 comes from `rainloop quantize`)")
    if io not in IOS:
        raise RainloopError(f"io {io!r}: choose {' or '.join(IOS)}")


def io_contract(io: str, multiple: int, static: tuple[int, int] | None) -> dict:
    """What the graph expects and returns, in words a runtime can act on."""
    if io == "uint8":
        tensor = {"layout": "NHWC", "channels": "BGR", "dtype": "uint8", "range": [0, 255]}
    else:
        tensor = {"layout": "NCHW", "channels": "RGB", "dtype": "float32", "range": [0.0, 1.0]}
    return {
        "input": {"name": onnx_build.INPUT, **tensor},
        "output": {"name": onnx_build.OUTPUT, **tensor},
        "dynamic_dims": [] if static else ["N", "H", "W"],
        "static_size": f"{static[0]}x{static[1]}" if static else None,
        "padding": f"replicate-padded inside the graph to a multiple of {multiple}, cropped back",
        "pad_multiple": multiple,
    }


def derainer_card(g3: dict, derainer, *, precision: str, io: str, opset: int,
                  static: tuple[int, int] | None, simplified: bool, parity: dict) -> dict:
    training = {k: v for k, v in g3.items() if k not in FORMAT_KEYS}
    w, h = REFERENCE_SIZE
    card = {
        "what": "JRGR G3 derainer (Ye et al., CVPR 2021): a rainy frame in, the rain-free background out",
        "kind": "derainer",
        "network": g3["net"],
        "preset": g3.get("preset"),
        "training": training,
        "contract": io_contract(io, derainer.multiple, static),
        "opset": opset,
        "precision": precision,
        "io": io,
        "simplified": simplified,
        "parameters": parameter_count(derainer),
        f"gflops_{w}x{h}": gflops(g3["net"], REFERENCE_SIZE),
        "quality": {"val_psnr": g3.get("val_psnr")},
        "parity": parity,
    }
    if precision == "fp16":
        card["kept_fp32"] = ("normalisations (InstanceNorm, GroupNorm, LayerNorm), the rain gate's and frame "
                             "tone's whole-frame means, padding, crop, final clamp")
    return card
