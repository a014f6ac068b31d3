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
With --model, each derainer's output on every part too: how much of the veil and of
the streaks it takes away.

    python benchmarks/rain_budget.py [--n 40] [--intensity 0.5] [--model default ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rainloop import builtin
from rainloop.atomic import write_json
from rainloop.metrics import psnr
from rainloop.runtime import Derainer
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
    p.add_argument("--model", action="append", default=[], help="repeatable: .onnx, .engine, run, default")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(SEED)
    cleans = [builtin.random_crop(rng, size, split="test") for _ in range(args.n)]
    frames = {part: [render_part(c, SEED + 1000 + i, args.intensity, part) for i, c in enumerate(cleans)]
              for part in PARTS}

    def mean_psnr(images):
        return float(np.mean([psnr(x, c) for x, c in zip(images, cleans)]))

    means = {part: mean_psnr(images) for part, images in frames.items()}
    derained = {}
    for model in args.model:
        with Derainer(model) as derainer:
            derained[model] = {part: mean_psnr(derainer.derain_batch(frames[part])) for part in PARTS[:3]}
    print(f"physics rain at intensity {args.intensity}, {args.n} held-out photos at {args.size}")
    print(f"{'rendered':<12} {'PSNR':>6} {'vs rainy':>8}" + "".join(f" {m[-24:]:>24}" for m in args.model))
    for part, value in means.items():
        outs = "".join(f" {derained[m][part]:>24.2f}" if part in derained[m] else f" {'':>24}" for m in args.model)
        print(f"{part:<12} {value:>6.2f} {value - means['rainy']:>+8.2f}{outs}")
    if args.json:
        write_json(args.json, {"seed": SEED, "n": args.n, "intensity": args.intensity, "size": args.size,
                               "psnr": means, "derained": derained})
    return 0


if __name__ == "__main__":
    sys.exit(main())
