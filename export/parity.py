"""Does the exported graph compute what the PyTorch derainer computes, on real rainy images?"""

from __future__ import annotations

import numpy as np
import torch

from rainloop.export.ort_model import OrtDerainer
from rainloop.frames import to_float_frames, to_model
from rainloop.export.quality import float_psnr
from rainloop.export.samples import SEED, rainy_pairs


def torch_reference(derainer: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
    """The float32 PyTorch derainer on (N,H,W,3) BGR uint8 frames -> BGR float [0,1]."""
    with torch.no_grad():
        y = derainer(torch.from_numpy(to_model(frames, "float")))
    return to_float_frames(y.numpy(), "float")


def criterion(precision: str, io: str, tolerance: float, min_psnr: float) -> tuple[str, float]:
    """(metric, bound): fp32 must match to `tolerance` (plus half a level of rounding for
    uint8 output); fp16 must stay above `min_psnr` dB."""
    if precision == "fp16":
        return "psnr_db", min_psnr
    return "max_abs_error", tolerance + (0.5 / 255 if io == "uint8" else 0.0)


def check_parity(graph: bytes, derainer: torch.nn.Module, sizes: list[tuple[int, int]],
                 precision: str, io: str, tolerance: float = 1e-4, min_psnr: float = 45.0,
                 batch: int = 2) -> dict:
    """Run `graph` in ONNX Runtime and `derainer` in PyTorch on `batch` rainy frames per size.

    Returns the measured worst case over all sizes and whether it meets the criterion.
    """
    session = OrtDerainer(graph)
    worst_abs, worst_psnr = 0.0, float("inf")
    for i, size in enumerate(sizes):
        frames = np.stack([rainy for rainy, _ in rainy_pairs(size, batch, seed=SEED + i)])
        got, want = session(frames), torch_reference(derainer, frames)
        worst_abs = max(worst_abs, float(np.abs(got - want).max()))
        worst_psnr = min(worst_psnr, float_psnr(got, want))
    metric, bound = criterion(precision, io, tolerance, min_psnr)
    value = worst_abs if metric == "max_abs_error" else worst_psnr
    passed = value <= bound if metric == "max_abs_error" else value >= bound
    return {
        "against": "PyTorch float32 derainer",
        "images": "physics rain on the builtin test photos",
        "sizes": [f"{w}x{h}" for w, h in sizes],
        "batch": batch,
        "max_abs_error": worst_abs,
        "psnr_db": round(worst_psnr, 2),
        "criterion": f"{metric} {'<=' if metric == 'max_abs_error' else '>='} {bound:.6g}",
        "passed": bool(passed),
    }
