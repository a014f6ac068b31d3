"""`rainloop quantize`: an FP32 derainer ONNX in, an explicit-INT8 (Q/DQ) ONNX out.

The form TensorRT 10/11 builds INT8 engines from (tensorrt.md): QuantizeLinear/
DequantizeLinear pairs, int8 activations and weights, symmetric, zero point 0,
per-channel weights, biases left in float. Written by ONNX Runtime's
quantize_static from frames of the user's own footage.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from tqdm import tqdm

from rainloop.atomic import atomic_path
from rainloop.data import open_pairs, spread_frames
from rainloop.errors import RainloopError
from rainloop.export.calibration import FrameReader
from rainloop.frames import resize_to
from rainloop.sizes import static_size
from rainloop.export.card import card_path, read_card, write_card
from rainloop.files import sha256_file
from rainloop.export.ort_model import OrtDerainer
from rainloop.export.quality import compare_on_pairs, dry_worst
from rainloop.export.samples import SEED, rainy_pairs

# Conv carries the arithmetic; quantizing the Add/Resize inputs too lets TensorRT
# keep the decoder in INT8 between convs. ConvTranspose stays float: TensorRT and
# ONNX Runtime disagree on its per-channel axis. Normalisations and the output
# head (Tanh, Sub, Clip) stay float for accuracy.
QUANTIZED_OPS = ("Conv", "Add", "Resize")
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
METHODS = ("minmax", "entropy", "percentile")
KEEP_FP = ("IO", "none")
VAL_PAIRS = 6  # builtin validation frames
VAL_MAX = 50  # pairs taken (spread) from a user's validation folder
CHUNK = 4  # frames per calibration pass: bounds the activations held for histograms
LOSS_WARN_DB = 0.2  # INT8 against FP32 on rain: more than this is worth a warning
DRY_WARN_DB = 1.0  # INT8's worst dry frame against FP32's


def default_output(onnx_path: str | Path) -> Path:
    """model.onnx -> model.int8.onnx"""
    path = Path(onnx_path)
    return path.with_name(f"{path.stem}.int8.onnx")


def quantize(onnx_path: str | Path, calib: str | Path, out: str | Path | None = None, n: int = 200,
             size: tuple[int, int] = (640, 360), method: str = "minmax", per_channel: bool = True,
             keep_fp: str = "IO", val: str | Path = "builtin", progress: bool = True) -> dict:
    """Quantize `onnx_path` with n frames of `calib` (folder or video); returns the INT8 card.

    `val` ("builtin" or a folder of pairs) gives the calibration-free frames on
    which INT8 is compared with FP32; the numbers go into the card.
    """
    src = Path(onnx_path)
    out = Path(out) if out else default_output(src)
    _check_options(src, out, method, keep_fp)
    model = load_fp32(src)
    fp32 = OrtDerainer(src)
    size = _static_size(model) or size
    pairs, val_desc = validation_pairs(val, size)  # before calibrating: a bad --val fails fast
    frames = spread_frames(calib, n, size, "reading calibration frames", progress)
    kept = kept_float_nodes(model, keep_fp)
    with atomic_path(out) as tmp:
        with tqdm(total=len(frames), desc="calibrating", unit="frame", disable=not progress) as bar:
            _quantize_static(model, tmp, FrameReader(frames, fp32.feed, bar), method, per_channel, kept)
        qdq = check_qdq(onnx.load(str(tmp)))
        models = {"fp32": fp32, "int8": OrtDerainer(tmp)}
        # the clean side doubles as dry frames: INT8 must not move them more than FP32 does
        scores = {**compare_on_pairs(models, pairs), **dry_worst(models, [clean for _, clean in pairs])}
    named = f"{size[0]}x{size[1]}"
    validation = {"set": val_desc, "pairs": len(pairs), "size": named, **scores,
                  "int8_loss_db": round(scores["psnr_fp32_vs_clean"] - scores["psnr_int8_vs_clean"], 3)}
    validation["warnings"] = int8_warnings(validation)
    card = _int8_card(src, model, method, per_channel, keep_fp, kept, qdq,
                      {"source": str(calib), "frames": len(frames), "size": named}, validation)
    write_card(out, card)
    return card


def int8_warnings(v: dict) -> list[str]:
    """What to tell the user when INT8 falls short of FP32 on the validation pairs."""
    advice = "calibrate on footage of more scenes (--calib), or compare --method minmax|percentile|entropy"
    notes = []
    if v["int8_loss_db"] > LOSS_WARN_DB:
        notes.append(f"INT8 loses {v['int8_loss_db']} dB against FP32 on rain (over {LOSS_WARN_DB} dB); {advice}")
    if v["dry_worst_int8"] < v["dry_worst_fp32"] - DRY_WARN_DB:
        notes.append(f"INT8 moves a dry frame more than FP32 does ({v['dry_worst_int8']} against "
                     f"{v['dry_worst_fp32']} dB); {advice}")
    return notes


def _check_options(src: Path, out: Path, method: str, keep_fp: str) -> None:
    if out.suffix != ".onnx":
        raise RainloopError(f"{out}: the output file name must end in .onnx")
    if out.resolve() == src.resolve():
        raise RainloopError(f"{out}: the INT8 output would overwrite its FP32 input; choose another --out")
    if method not in METHODS:
        raise RainloopError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if keep_fp not in KEEP_FP:
        raise RainloopError(f"--keep-fp {keep_fp!r}: choose {' or '.join(KEEP_FP)}")


def load_fp32(path: Path) -> onnx.ModelProto:
    """The FP32 derainer graph at `path`; RainloopError for anything else."""
    if not path.is_file():
        raise RainloopError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf and the checker raise several types for bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RainloopError(f"{path}: not a valid ONNX model ({first})") from None
    ops = {node.op_type for node in model.graph.node}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        raise RainloopError(f"{path}: already quantized (it has Q/DQ nodes); quantize the FP32 export")
    if any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer):
        raise RainloopError(f"{path}: an FP16 graph; quantize the FP32 export (`rainloop export --precision fp32`)")
    return model


def _static_size(model: onnx.ModelProto) -> tuple[int, int] | None:
    """(w, h) of a graph exported with --static, else None: calibration must match it."""
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in model.graph.input[0].type.tensor_type.shape.dim]
    return static_size(dims, channels_last=dims[3] == 3) if len(dims) == 4 else None


def kept_float_nodes(model: onnx.ModelProto, keep_fp: str) -> list[str]:
    """With keep_fp="IO": the first weighted layer, which sees the image itself, and every
    quantizable node that no weighted layer reads, which writes the output (the tail, the
    veil gain and the Add that joins them), stay float, and so does every quantizable node fed by a
    whole-frame average: the rain gate, the frame tone and the Adds that apply the tone
    to the output. These are per-frame decisions that decide what dry frames look like,
    a few thousand MACs per frame, and ranges calibrated on one camera's scenes clip on
    another's (quantizing the tone's Adds cost 0.4 dB on held-out photos; RESULTS.md).
    Found by the graph's structure, not by node names, so a renamed module cannot slip
    into INT8. The node list is topologically sorted; the heads may come anywhere in it."""
    weighted = [node.name for node in model.graph.node if node.op_type in WEIGHTED_OPS]
    if keep_fp == "none" or not weighted:
        return []
    pooled = _after_global_pool(model)
    heads = [node.name for node in model.graph.node
             if node.name in pooled and node.op_type in WEIGHTED_OPS + QUANTIZED_OPS]
    first = next((name for name in weighted if name not in pooled), weighted[0])
    out_side = _read_by_no_weighted(model)
    last = [node.name for node in model.graph.node if node.name in out_side and node.name not in pooled
            and node.op_type in WEIGHTED_OPS + QUANTIZED_OPS]
    return list(dict.fromkeys([first, *last, *heads]))


def _read_by_no_weighted(model: onnx.ModelProto) -> set[str]:
    """Names of the nodes whose output no weighted layer reads, directly or not: the layers
    that write the output (the tail, the veil gain beside it) and what combines them."""
    feeds, names = set(), set()  # tensors that some weighted layer reads, directly or not
    for node in reversed(model.graph.node):
        read = bool(feeds.intersection(node.output))
        if not read:
            names.add(node.name)
        if read or node.op_type in WEIGHTED_OPS:
            feeds.update(node.input)
    return names


def _after_global_pool(model: onnx.ModelProto) -> set[str]:
    """Names of the nodes that read, directly or not, a GlobalAveragePool's output."""
    tainted, names = set(), set()
    for node in model.graph.node:
        if node.op_type == "GlobalAveragePool" or tainted.intersection(node.input):
            tainted.update(node.output)
            names.add(node.name)
    return names


@contextlib.contextmanager
def _quiet_ort():
    # ORT's quantizer logs advice (pre-processing, see _quantize_static) to the
    # root logger and its histogram calibrators print to stdout; our progress bar says it all.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def _quantize_static(model: onnx.ModelProto, dest: Path, reader: FrameReader, method: str,
                     per_channel: bool, kept: list[str]) -> None:
    """ORT quantize_static on the dynamic-shape graph with fixed-size frames.

    No quant_pre_process: its symbolic shape inference cannot follow the
    in-graph padding arithmetic, and without it the pass changes nothing in
    these conv nets.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibrate = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                 "percentile": CalibrationMethod.Percentile}[method]
    chunk = next(k for k in range(min(CHUNK, len(reader)), 0, -1) if len(reader) % k == 0)
    with _quiet_ort():
        quantize_static(model, dest, reader, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(QUANTIZED_OPS), per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=kept, calibrate_method=calibrate,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                                       "QuantizeBias": False,  # TensorRT has no int32 DequantizeLinear
                                       # Inputs only, as TensorRT's Q/DQ placement advice says: it fuses a
                                       # Conv with the next layer's Q itself, and a norm after a Conv
                                       # should see the float result.
                                       "OpTypesToExcludeOutputQuantization": ["Conv"],
                                       "CalibStridedMinMax": chunk})


def check_qdq(model: onnx.ModelProto) -> dict:
    """Count Q/DQ nodes and insist on TensorRT's rules: int8, zero point 0."""
    inits = {init.name: init for init in model.graph.initializer}
    counts = {"QuantizeLinear": 0, "DequantizeLinear": 0}
    for node in model.graph.node:
        if node.op_type not in counts:
            continue
        counts[node.op_type] += 1
        zero = inits.get(node.input[2]) if len(node.input) > 2 else None
        if zero is None or zero.data_type != TensorProto.INT8 or np.any(numpy_helper.to_array(zero)):
            raise RuntimeError(f"{node.name}: Q/DQ zero point is not an int8 zero (TensorRT rejects it)")
    if not counts["QuantizeLinear"]:
        raise RuntimeError("quantization produced no QuantizeLinear nodes")
    return counts


def validation_pairs(val: str | Path, size: tuple[int, int]) -> tuple[list, str]:
    """(rainy, clean) pairs resized to `size`, and a description for the card."""
    if str(val) == "builtin":
        return rainy_pairs(size, VAL_PAIRS, seed=SEED), "physics rain on the builtin test photos (fixed seed)"
    pairs = open_pairs(val)
    picks = np.unique(np.linspace(0, len(pairs) - 1, min(VAL_MAX, len(pairs))).round().astype(int))
    samples = [pairs[int(i)] for i in picks]
    return ([(resize_to(s.rainy, size), resize_to(s.clean, size)) for s in samples],
            f"{val} ({pairs.layout} layout)")


def _int8_card(src: Path, model: onnx.ModelProto, method: str, per_channel: bool, keep_fp: str,
               kept: list[str], qdq: dict, calibration: dict, validation: dict) -> dict:
    card = read_card(src) if card_path(src).exists() else {"kind": "derainer"}
    card.pop("parity", None)  # it described the FP32 graph; the INT8 one is judged below
    has_deconv = any(node.op_type == "ConvTranspose" for node in model.graph.node)
    card["precision"] = "int8"
    card["quantization"] = {
        "format": "explicit QuantizeLinear/DequantizeLinear (QDQ)",
        "activations": "int8, symmetric, per tensor, zero point 0",
        "weights": f"int8, symmetric, per {'channel' if per_channel else 'tensor'}, zero point 0",
        "bias": "float",
        "quantized_op_types": list(QUANTIZED_OPS),
        "kept_float": {"policy": keep_fp, "nodes": kept,
                       "why": "first and last layers see the image and write the output; "
                              "the rain gate and the frame tone are per-frame decisions and cost nothing"},
        "conv_transpose": "kept float (TensorRT and ONNX Runtime disagree on its per-channel axis)"
                          if has_deconv else "none in this network",
        "method": method,
        "calibration": calibration,
        "qdq_nodes": qdq,
        "from": {"file": src.name, "sha256": sha256_file(src)},
    }
    quality = card.get("quality") or {}
    card["quality"] = {**quality, "int8_vs_fp32": validation}
    return card
