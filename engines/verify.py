"""`rainloop build --verify DIR`: run an engine and ONNX Runtime on the same images, compare.

The reference is ONNX Runtime on the very ONNX the engine was built from, so
the table shows what TensorRT's kernels (and FP16/INT8 choices) changed;
when DIR holds clean/rainy pairs it also shows how good both are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from rainloop.data import detect_layout, open_pairs, open_unpaired
from rainloop.errors import RainloopError
from rainloop.frames import from_model, to_model
from rainloop.metrics import psnr

Model = Callable[[np.ndarray], np.ndarray]
Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class VerifyRow:
    name: str
    size: tuple[int, int]  # width, height actually run
    engine_vs_reference: float
    engine_vs_clean: float | None
    reference_vs_clean: float | None


def verify_engine(engine_path: str | Path, onnx_path: str | Path, folder: str | Path) -> list[VerifyRow]:
    from rainloop.engines.trt import TensorRTRunner

    session = _reference_session(Path(onnx_path))
    name = session.get_inputs()[0].name

    def reference(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x})[0]

    with TensorRTRunner(engine_path) as runner:
        return compare_models(runner, reference, open_samples(folder), runner.layout,
                              runner.input_dtype, runner.input_shape_range)


def open_samples(folder: str | Path) -> Iterable:
    """Clean/rainy pairs when `folder` is a paired set, else its rainy images alone."""
    try:
        detect_layout(folder)
    except RainloopError:
        return open_unpaired(folder)
    return open_pairs(folder)  # a broken pair is an error, not a reason to drop the clean half


def compare_models(engine: Model, reference: Model, samples: Iterable, layout: str,
                   dtype: np.dtype, shape_range: tuple[Shape, Shape]) -> list[VerifyRow]:
    """PSNR of `engine` against `reference` (and both against clean images) per sample."""
    rows = []
    for sample in samples:
        rainy, clean = fit_to_profile(sample.rainy, sample.clean, shape_range, layout)
        # Repeat the image up to the profile's smallest batch; compare the first.
        io = "uint8" if layout == "nhwc" else "float"
        x = to_model(np.repeat(rainy[None], shape_range[0][0], axis=0), io, dtype)
        a, b = from_model(engine(x), io)[0], from_model(reference(x), io)[0]
        rows.append(VerifyRow(sample.name, (rainy.shape[1], rainy.shape[0]), psnr(a, b),
                              None if clean is None else psnr(a, clean),
                              None if clean is None else psnr(b, clean)))
    if not rows:
        raise RainloopError("--verify: the folder holds no images")
    return rows


def fit_to_profile(rainy: np.ndarray, clean: np.ndarray | None, shape_range: tuple[Shape, Shape],
                   layout: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize an image (and its clean pair) into the engine's height/width range."""
    hw = (1, 2) if layout == "nhwc" else (2, 3)
    (h0, w0), (h1, w1) = ((s[hw[0]], s[hw[1]]) for s in shape_range)
    h, w = rainy.shape[:2]
    scale = min(1.0, h1 / h, w1 / w)
    nh = min(max(round(h * scale), h0), h1)
    nw = min(max(round(w * scale), w0), w1)
    if (nh, nw) == (h, w):
        return rainy, clean
    def resize(im: np.ndarray) -> np.ndarray:
        return cv2.resize(im, (nw, nh), interpolation=cv2.INTER_AREA)

    return resize(rainy), None if clean is None else resize(clean)


def format_table(rows: list[VerifyRow]) -> str:
    def cell(v: float | None) -> str:
        return "      -" if v is None else f"{v:7.2f}"

    width = max(len("image"), *(len(r.name) for r in rows))
    lines = [f"{'image':<{width}}  {'size':>9}  {'TRT~ORT':>7}  {'TRT~GT':>7}  {'ORT~GT':>7}  (PSNR dB)"]
    for r in rows:
        size = f"{r.size[0]}x{r.size[1]}"
        lines.append(f"{r.name:<{width}}  {size:>9}  {cell(r.engine_vs_reference)}  "
                     f"{cell(r.engine_vs_clean)}  {cell(r.reference_vs_clean)}")
    lines.append(f"{'mean':<{width}}  {'':>9}  " + "  ".join(
        cell(_mean([getattr(r, f) for r in rows]))
        for f in ("engine_vs_reference", "engine_vs_clean", "reference_vs_clean")))
    return "\n".join(lines)


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _reference_session(onnx_path: Path):
    import onnxruntime as ort

    # CUDA when onnxruntime-gpu is installed (it runs FP16 graphs), never the
    # TensorRT provider: the reference must not share TensorRT's kernels.
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]
    try:
        return ort.InferenceSession(str(onnx_path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise RainloopError(f"{onnx_path}: ONNX Runtime cannot run it as the --verify reference ({first})") from None
