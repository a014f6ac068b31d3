"""Score a derainer on paired data: PSNR/SSIM of its output and of the rainy input."""

from __future__ import annotations

import itertools
from typing import Callable, Iterable

import numpy as np

from rainloop.data import Sample
from rainloop.metrics import psnr, ssim

Derain = Callable[[np.ndarray], np.ndarray]

# A rainless frame must come out at least this close to itself: a derainer that
# changes dry scenes is useless on a robot that drives in and out of rain.
DRY_BAR_DB = 38.0


def identity(rainy: np.ndarray) -> np.ndarray:
    """The do-nothing derainer: the baseline every model must beat."""
    return rainy


def score_pair(sample: Sample, derain: Derain, y: bool = False) -> dict:
    out = derain(sample.rainy)
    if out.shape != sample.clean.shape:
        raise ValueError(f"{sample.name}: derainer returned {out.shape}, expected {sample.clean.shape}")
    return {
        "name": sample.name,
        "psnr": psnr(out, sample.clean, y), "ssim": ssim(out, sample.clean, y),
        "input_psnr": psnr(sample.rainy, sample.clean, y), "input_ssim": ssim(sample.rainy, sample.clean, y),
    }


def evaluate(pairs: Iterable[Sample], derain: Derain = identity, y: bool = False,
             limit: int | None = None, progress: bool = False) -> dict:
    """Mean scores over `pairs` (the first `limit`), plus one row per image.

    Returns {"n", "psnr", "ssim", "input_psnr", "input_ssim", "gain_db", "psnr_p10", "share_38", "worst",
    "y", "per_image": [{"name", "psnr", "ssim", "input_psnr", "input_ssim"}]}; means are over
    images, as deraining papers report them. A mean of PSNRs hides bad images (one untouched
    image counts 100 dB), hence the 10th percentile and the worst image ({"name", "psnr"}).
    """
    items = itertools.islice(pairs, limit)
    if progress:
        from tqdm import tqdm

        total = min(len(pairs), limit or len(pairs)) if hasattr(pairs, "__len__") else limit
        items = tqdm(items, total=total, unit="img", desc="eval", disable=None)  # None: off when not a terminal
    rows = [score_pair(sample, derain, y) for sample in items]
    if not rows:
        raise ValueError("evaluate: no pairs to score")
    means = {key: float(np.mean([r[key] for r in rows])) for key in ("psnr", "ssim", "input_psnr", "input_ssim")}
    worst = min(rows, key=lambda r: r["psnr"])
    return {"n": len(rows), **means, "gain_db": means["psnr"] - means["input_psnr"],
            "psnr_p10": float(np.percentile([r["psnr"] for r in rows], 10)),
            "share_38": sum(r["psnr"] >= DRY_BAR_DB for r in rows) / len(rows),
            "worst": {"name": worst["name"], "psnr": worst["psnr"]}, "y": y, "per_image": rows}
