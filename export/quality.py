"""How close a derainer's output is to the clean image, and to another model's output."""

from __future__ import annotations

import numpy as np

from rainloop.metrics import PSNR_CAP


def float_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between images in [0, 1]; float, so differences below 1/255 count.

    Capped like rainloop.metrics.psnr so identical outputs stay finite in JSON.
    """
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, float(10 * np.log10(1.0 / mse)))


def compare_on_pairs(models: dict, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Mean PSNR of each model vs clean, and of each later model vs the first, over (rainy, clean) pairs.

    `models` maps a name to a callable (N,H,W,3) BGR uint8 -> BGR float [0,1]
    (an OrtDerainer); pairs may differ in size, so they run one at a time.
    """
    names = list(models)
    sums: dict[str, float] = {}
    for rainy, clean in pairs:
        outs = {name: models[name](rainy[None])[0] for name in names}
        target = clean.astype(np.float32) / 255.0
        scores = {f"psnr_{n}_vs_clean": float_psnr(outs[n], target) for n in names}
        scores["psnr_rainy_vs_clean"] = float_psnr(rainy.astype(np.float32) / 255.0, target)
        scores.update({f"psnr_{n}_vs_{names[0]}": float_psnr(outs[n], outs[names[0]]) for n in names[1:]})
        for key, value in scores.items():
            sums[key] = sums.get(key, 0.0) + value
    return {key: round(total / len(pairs), 3) for key, total in sums.items()}


def dry_worst(models: dict, images: list[np.ndarray]) -> dict:
    """Worst PSNR of each model's output against its own input over rain-free BGR uint8 images:
    how far a model moves a dry scene, which a mean over rainy pairs does not show."""
    return {f"dry_worst_{name}": round(min(float_psnr(model(img[None])[0], img.astype(np.float32) / 255.0)
                                           for img in images), 3)
            for name, model in models.items()}
