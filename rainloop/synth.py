"""Write synthetic rainy data sets and videos from clean photos (`rainloop synth`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rainloop import builtin, rain
from rainloop.data import list_images
from rainloop.errors import RainloopError
from rainloop.images import read_image, write_image
from rainloop.video import write_video

# Intensity ranges drawn per image when none is fixed: Rain100L/Rain1400-like, and heavy (Rain100H-like).
MODERATE = (0.2, 0.7)
HEAVY = (0.7, 1.0)

CropFn = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


def clean_source(clean: str, split: str | None = None) -> CropFn:
    """`builtin` (the bundled photos of `split`) or a folder of the user's clean photos."""
    if clean == "builtin":
        split = split or "train"
        builtin.photo_names(split)  # rejects an unknown split now, not at the first crop
        return lambda rng, size: builtin.random_crop(rng, size, split)
    if split is not None:
        raise RainloopError("--split picks among the builtin photos; it does not apply to --clean DIR")
    folder = Path(clean)
    if not folder.is_dir():
        raise RainloopError(f"{folder}: no such folder of clean photos")
    files = list_images(folder, recursive=True)
    if not files:
        raise RainloopError(f"{folder}: no images")
    return lambda rng, size: builtin.crop_from(read_image(files[rng.integers(len(files))]), rng, size)


def _intensity(rng: np.random.Generator, intensity: float | None, heavy: bool) -> float:
    if intensity is not None:
        return intensity
    return float(rng.uniform(*(HEAVY if heavy else MODERATE)))


def synth_pairs(out: str | os.PathLike, n: int, crop: CropFn, size: tuple[int, int], seed: int = 0,
                style: str = "streak", intensity: float | None = None, heavy: bool = False,
                progress: Iterable | None = None) -> list[str]:
    """Write out/rainy/NAME.png and out/clean/NAME.png for n pairs; return the names.

    Image i draws from its own generator seeded by (seed, i), so a set is
    byte-identical for a seed and its first images do not depend on n.
    """
    if n < 1:
        raise RainloopError(f"--n {n}: must be 1 or more")
    out = Path(out)
    names = []
    for i in progress(range(n)) if progress else range(n):
        rng = np.random.default_rng([seed, i])
        clean = crop(rng, size)
        rainy, clean = rain.render_pair(clean, rng, style, _intensity(rng, intensity, heavy))
        name = f"{i:05d}.png"
        write_image(out / "clean" / name, clean)
        write_image(out / "rainy" / name, rainy)
        names.append(name)
    return names


def synth_video(dest: str | os.PathLike, frames: int, crop: CropFn, size: tuple[int, int], seed: int = 0,
                style: str = "physics", intensity: float | None = None, heavy: bool = False,
                fps: float = 25.0) -> None:
    """A rainy mp4 of one clean scene (rain.render_sequence), written atomically."""
    if frames < 1:
        raise RainloopError(f"--frames {frames}: must be 1 or more")
    dest = Path(dest)
    rng = np.random.default_rng(seed)
    clean = crop(rng, size)
    sequence = rain.render_sequence(clean, frames, rng, style, _intensity(rng, intensity, heavy))
    write_video(dest, sequence, fps)
