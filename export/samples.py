"""Real images for checks: physics-rendered rain on the held-out builtin test photos."""

from __future__ import annotations

import numpy as np

from rainloop.builtin import random_crop
from rainloop.rain import render

SEED = 20210613  # fixed: every check and report sees the same frames


def rainy_pairs(size: tuple[int, int], n: int, seed: int = SEED,
                intensity: float = 0.5) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (rainy, clean) BGR uint8 pairs of size (w, h), never from training photos."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        clean = random_crop(rng, size, split="test")
        pairs.append((render(clean, rng, style="physics", intensity=intensity), clean))
    return pairs
