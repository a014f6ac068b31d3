"""Does the derained stream flicker? A camera on a still scene in rain, frame after frame.

Rain moves and the scene does not, so a perfect derainer gives the same image every frame. For each
held-out test photo and rain intensity, a clip of falling physics rain (`rain.render_sequence`: one
rain field whose drops fall; noise, JPEG and the sky's brightness flicker fresh each frame) is
derained frame by frame through the runtime, and scored:
  PSNR      each frame against the clean photo, averaged over the clip
  flicker   how much consecutive frames differ, mean |frame_t - frame_t-1| in 8-bit levels:
            the rainy input's, the derained output's, and their ratio (1: the model passes the
            rain's flicker through, 0: a steady picture)
  jump      the largest frame-to-frame change of the mean brightness, in levels, of the input (the
            renderer's own brightness flicker) and of the output: a per-frame decision (the rain
            gate, the frame tone) flipping would show as an output jump well above the input's

    python benchmarks/temporal.py [--model default] [--size 320x240] [--frames 24] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rainloop import builtin, rain
from rainloop.atomic import write_json
from rainloop.metrics import psnr
from rainloop.runtime import Derainer
from rainloop.sizes import parse_size

INTENSITIES = (0.05, 0.2, 0.5, 1.0)
SEED = 20261126


def flicker(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b.astype(np.int16) - a).mean() for a, b in zip(frames, frames[1:])]))


def jump(frames: list[np.ndarray]) -> float:
    return float(np.abs(np.diff([f.mean() for f in frames])).max())


def clip_scores(derain, clean: np.ndarray, intensity: float, n_frames: int, rng) -> dict:
    rainy = list(rain.render_sequence(clean, n_frames, rng, "physics", intensity))
    out = [derain(f) for f in rainy]
    return {"psnr_in": float(np.mean([psnr(f, clean) for f in rainy])),
            "psnr_out": float(np.mean([psnr(f, clean) for f in out])),
            "flicker_in": flicker(rainy), "flicker_out": flicker(out), "jump_in": jump(rainy), "jump_out": jump(out)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--size", default="320x240", help="frame size WxH (default 320x240)")
    p.add_argument("--frames", type=int, default=24, help="frames per clip (default 24)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    size = parse_size(args.size)
    derain = Derainer(args.model)
    rng = np.random.default_rng(SEED)
    photos = [builtin.random_crop(rng, size, split="test") for _ in builtin.photo_names("test")]
    rows = {}
    for intensity in INTENSITIES:
        clips = [clip_scores(derain, photo, intensity, args.frames, rng) for photo in photos]
        rows[f"{intensity:g}"] = {k: float(np.mean([c[k] for c in clips])) for k in clips[0]} | {
            k: max(c[k] for c in clips) for k in ("jump_in", "jump_out")}
    print(f"{len(photos)} held-out photos x {args.frames} frames at {args.size}, model {args.model}")
    print(f"{'intensity':>9} {'PSNR in':>8} {'PSNR out':>9} {'flicker in':>11} {'flicker out':>12} {'ratio':>6} "
          f"{'jump in':>7} {'out':>5}")
    for name, r in rows.items():
        print(f"{name:>9} {r['psnr_in']:>8.2f} {r['psnr_out']:>9.2f} {r['flicker_in']:>11.2f} "
              f"{r['flicker_out']:>12.2f} {r['flicker_out'] / r['flicker_in']:>6.2f} {r['jump_in']:>7.2f} {r['jump_out']:>5.2f}")
    if args.json:
        write_json(args.json, {"model": args.model, "size": args.size, "frames": args.frames,
                               "photos": len(photos), "seed": SEED, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
