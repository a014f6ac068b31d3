"""Where a physics-rain frame loses its decibels: the veil, the streaks, or the camera.

Each held-out photo (quality.py's test split and seed) is rendered at one
intensity several times from the same rain field, with one part of the
renderer left out each time, and scored against the clean photo:
  rainy          the whole renderer (what quality.py's physics sets show)
  veil only      the veil alone: no streaks, no sensor noise, no JPEG
  no veil        everything but the veil (transmission 1)
  veil undone    the whole frame with the veil inverted exactly, B = (O - (1 - T) A) / T,
                 from the renderer's own T and A: what a perfect veil estimate would give
The gap between "rainy" and "veil undone" is what removing the veil alone is worth.

    python benchmarks/rain_budget.py [--n 40] [--intensity 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rainloop import builtin
from rainloop.atomic import write_json
from rainloop.metrics import psnr
# The renderer's parts, not its public API: this script takes the renderer apart on purpose.
from rainloop.rain import _compose_physics, _physics_field, _seed_drops

SEED = 4242  # quality.py's
PARTS = ("rainy", "veil only", "no veil", "veil undone")


def render_part(clean: np.ndarray, seed: int, intensity: float, part: str) -> np.ndarray:
    scene = clean.astype(np.float32) / 255
    rng = np.random.default_rng(seed)
    fld = _physics_field(scene, rng, intensity)
    for layer in fld.layers:
        _seed_drops(layer, fld.size, rng)
    gains = [layer.opacity for layer in fld.layers]
    if part == "veil only":
        gains, fld.noise, fld.jpeg = [0.0] * len(gains), (0.0, 0.0), 100
    if part == "no veil":
        fld.transmission = np.ones_like(fld.transmission)
    out = _compose_physics(scene, fld, 0, gains, rng)
    if part == "veil undone":
        t = fld.transmission[..., None]
        undone = (out.astype(np.float32) / 255 - (1 - t) * fld.airlight) / t
        out = (np.clip(undone, 0, 1) * 255 + 0.5).astype(np.uint8)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=40, help="photos")
    p.add_argument("--intensity", type=float, default=0.5)
    p.add_argument("--size", default="320x240")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(SEED)
    scores = {part: [] for part in PARTS}
    for i in range(args.n):
        clean = builtin.random_crop(rng, size, split="test")
        for part in PARTS:
            scores[part].append(psnr(render_part(clean, SEED + 1000 + i, args.intensity, part), clean))
    means = {part: float(np.mean(v)) for part, v in scores.items()}
    print(f"physics rain at intensity {args.intensity}, {args.n} held-out photos at {args.size}")
    print(f"{'rendered':<12} {'PSNR':>6} {'vs rainy':>8}")
    for part, value in means.items():
        print(f"{part:<12} {value:>6.2f} {value - means['rainy']:>+8.2f}")
    if args.json:
        write_json(args.json, {"seed": SEED, "n": args.n, "intensity": args.intensity, "size": args.size,
                               "psnr": means})
    return 0


if __name__ == "__main__":
    sys.exit(main())
