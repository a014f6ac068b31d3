"""How good is a derainer where it matters: unseen physics rain, classic streaks, and dry frames.

Held-out sets are rendered from the built-in *test* photos (never trained on),
with a seed no training draw uses:
  physics-moderate  physics rain, intensity 0.5 (the project's depth-layered renderer)
  physics-mixed     physics rain, intensity 0.2..1.0
  physics-drizzle   physics rain, intensity 0.05..0.15: light rain must not be over-processed
  streak            classic streak rain, intensity 0.2..0.7
  dry               no rain at all: output vs input must stay >= 38 dB PSNR,
                    a derainer that smears dry scenes is useless on a robot
Besides the mean PSNR (the papers' figure), the 10th percentile, the worst image,
the share of images at >= 38 dB (on the dry set a mean of PSNRs hides the frames
the derainer does change: an untouched frame counts 100 dB) and the share of rainy
images the derainer makes worse than they came in.

    python benchmarks/quality.py --model default [--model runs/x ...] [--n 24] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from rainloop import builtin
from rainloop.atomic import write_json
from rainloop.data import open_pairs
from rainloop.evaluate import evaluate
from rainloop.runtime import Derainer
from rainloop.synth import synth_pairs

SEED = 4242
SETS = {  # name: (style, intensities; the set is split evenly over them)
    "physics-moderate": ("physics", [0.5]),
    "physics-mixed": ("physics", [0.2, 0.4, 0.6, 0.8, 1.0]),
    "physics-drizzle": ("physics", [0.05, 0.1, 0.15]),  # light rain must not be over-processed
    "streak": ("streak", [0.2, 0.45, 0.7]),
    "dry": ("streak", [0.0]),
}


def render_sets(root: Path, n: int, size: tuple[int, int]) -> dict[str, list[Path]]:
    crop = lambda rng, sz: builtin.random_crop(rng, sz, split="test")  # noqa: E731
    sets = {}
    for name, (style, levels) in SETS.items():
        sets[name] = [root / name / str(i) for i in range(len(levels))]
        for i, (folder, level) in enumerate(zip(sets[name], levels)):
            synth_pairs(folder, max(1, n // len(levels)), crop, size, SEED + i, style, level)
    return sets


def score(model: str, sets: dict[str, list[Path]]) -> dict:
    with Derainer(model) as derainer:
        return {"backend": derainer.backend, "precision": derainer.precision, **score_sets(derainer, sets)}


def score_sets(derain: Callable[[np.ndarray], np.ndarray], sets: dict[str, list[Path]]) -> dict:
    """Every set's scores for `derain` (BGR uint8 in and out)."""
    out = {}
    for name, folders in sets.items():
        r = evaluate([s for f in folders for s in open_pairs(f)], derain)
        out[name] = {k: r[k] for k in ("n", "input_psnr", "psnr", "gain_db", "input_ssim", "ssim",
                                        "psnr_p10", "worst", "share_38")}
        out[name]["share_worse"] = sum(row["psnr"] < row["input_psnr"] for row in r["per_image"]) / r["n"]
    return out


def measure_all(doc: str, model_help: str, measure: Callable[[str, dict], dict], argv=None) -> dict:
    """The command line: render the sets once, run
    `measure(model, sets)` for every --model, write --json; returns {model: result}."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help=f"repeatable: {model_help}")
    p.add_argument("--n", type=int, default=25, help="images per set")
    p.add_argument("--size", default="320x240")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="rainloop-quality-") as tmp:
        sets = render_sets(Path(tmp), args.n, (w, h))
        results = {m: measure(m, sets) for m in args.model}
    if args.json:
        write_json(args.json, {"seed": SEED, "size": args.size, "n": args.n, "photos": "builtin split test",
                               "results": results})
    return results


def main(argv=None) -> int:
    print_table(measure_all(__doc__, ".onnx, .engine, run, default", score, argv))
    return 0


def print_table(results: dict) -> None:
    print(f"{'model':<28} {'set':<17} {'input PSNR':>10} {'output':>7} {'gain':>6} {'SSIM in':>7} {'out':>6} {'p10':>6} {'worst':>6} {'>=38':>5} {'worse':>5}")
    for model, res in results.items():
        for name in SETS:
            r = res[name]
            print(f"{model:<28} {name:<17} {r['input_psnr']:>10.2f} {r['psnr']:>7.2f} {r['gain_db']:>+6.2f} "
                  f"{r['input_ssim']:>7.4f} {r['ssim']:>6.4f} {r['psnr_p10']:>6.2f} {r['worst']['psnr']:>6.2f} "
                  f"{r['share_38']:>5.0%} {'-' if name == 'dry' else format(r['share_worse'], '.0%'):>5}")


if __name__ == "__main__":
    sys.exit(main())
