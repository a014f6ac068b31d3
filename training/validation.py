"""A fixed held-out rainy/clean set, and the derainer's PSNR on it during training.

`builtin`: crops of the test-split photos (never trained on) under physics
rain at a fixed seed, light to heavy; or evenly spaced pairs of a user's folder.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from rainloop.training.batches import resize_short, to_image, to_tensor
from rainloop.training.networks import PaddedDerainer

VAL_SEED = 20210325
VAL_SIZE = 256


@functools.cache
def builtin_set(n: int = 8, size: int = VAL_SIZE) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Fixed by VAL_SEED; rendered once per process (physics rain is not cheap)."""
    from rainloop import builtin, rain

    rng = np.random.default_rng(VAL_SEED)
    pairs = []
    for i in range(n):
        clean = builtin.random_crop(rng, (size, size), split="test")
        intensity = 0.2 + 0.8 * i / max(1, n - 1)
        pairs.append((rain.render(clean, rng, style="physics", intensity=intensity), clean))
    return tuple(pairs)


def folder_set(root, n: int = 16, size: int = VAL_SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to n evenly spaced pairs, short side scaled to `size`, centre square crop."""
    from rainloop import data

    samples = data.open_pairs(root)
    idx = np.unique(np.linspace(0, len(samples) - 1, min(n, len(samples))).round().astype(int))
    pairs = []
    for i in idx:
        s = samples[int(i)]
        pairs.append(tuple(_centre_square(resize_short(im, size), size) for im in (s.rainy, s.clean)))
    return pairs


def _centre_square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


def open_val(spec: str):
    """'builtin', a pairs folder, or 'none' (no validation)."""
    if spec == "none":
        return ()
    return builtin_set() if spec == "builtin" else folder_set(spec)


def derain_fn(net: torch.nn.Module, device="cpu"):
    """A BGR uint8 -> BGR uint8 function around a derainer (any frame size), for rainloop.evaluate."""
    padded = PaddedDerainer(net).eval()

    @torch.no_grad()
    def derain(rainy: np.ndarray) -> np.ndarray:
        return to_image(padded(to_tensor([rainy], device))[0])

    return derain


def evaluate(net: torch.nn.Module, pairs, device="cpu") -> dict[str, float]:
    """Mean PSNR/SSIM of the derained output and of the rainy input ({} without pairs), and
    `dry_psnr`: the clean images passed through, output against input (a derainer must
    leave a dry scene alone)."""
    from rainloop.data import Sample
    from rainloop.evaluate import evaluate as score

    if not pairs:
        return {}
    was_training = net.training
    derain = derain_fn(net, device)
    scores = score([Sample(r, c, str(i)) for i, (r, c) in enumerate(pairs)], derain)
    dry = score([Sample(c, c, str(i)) for i, (_, c) in enumerate(pairs)], derain)
    net.train(was_training)
    return {**{k: scores[k] for k in ("psnr", "ssim", "input_psnr", "input_ssim")}, "dry_psnr": dry["psnr"]}
