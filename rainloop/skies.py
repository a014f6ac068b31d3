"""Procedural skies over built-in training crops.

The built-in training photos are close-ups, textures and indoor shots: none shows
sky, while an outdoor camera sees it in most frames. A derainer trained without
sky takes any smooth, bright region for rain's veil and darkens it: the previous
default model's worst dry frames were dusk skies, darkened throughout. `add_sky`
replaces the part of a crop above a random horizon with a smooth sky (clear,
overcast, dusk or night, with soft clouds); a run opts in with `--sky FRACTION`.
"""

from __future__ import annotations

import cv2
import numpy as np

# (zenith, horizon) colours, BGR in [0, 1].
_PALETTES = (
    ((0.75, 0.43, 0.24), (0.90, 0.78, 0.67)),   # clear day
    ((0.63, 0.61, 0.59), (0.80, 0.79, 0.78)),   # overcast
    ((0.35, 0.14, 0.08), (0.40, 0.55, 0.78)),   # dusk
    ((0.16, 0.06, 0.04), (0.43, 0.27, 0.24)),   # night, city glow at the horizon
)


def add_sky(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`img` (BGR uint8) with a sky above a horizon between 20% and 65% of its height."""
    h, w = img.shape[:2]
    zenith, horizon = (np.asarray(c) + rng.uniform(-0.06, 0.06, 3) for c in _PALETTES[rng.integers(len(_PALETTES))])
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** rng.uniform(0.5, 2.0)
    sky = (zenith + (horizon - zenith) * t) * rng.uniform(0.75, 1.15)
    coarse = rng.uniform(0, 1, (3, 4)).astype(np.float32)
    clouds = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)[..., None]
    sky = sky + (rng.uniform(0.6, 0.95) - sky) * clouds * rng.uniform(0, 0.5)
    line = rng.uniform(0.2, 0.65) * h
    # A soft horizon a few pixels wide: a hard cut would be an edge no camera sees.
    above = np.clip((line - np.arange(h, dtype=np.float32)) / rng.uniform(1, 6) + 0.5, 0, 1)[:, None, None]
    out = sky * above + img.astype(np.float32) / 255 * (1 - above)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def maybe_sky(img: np.ndarray, rng: np.random.Generator, fraction: float) -> np.ndarray:
    """`add_sky` a `fraction` of the time; with fraction 0 no draw is spent, so the
    caller's later draws are the same as if skies did not exist."""
    return add_sky(img, rng) if fraction and rng.random() < fraction else img
