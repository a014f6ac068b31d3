"""Which dry frames can set the rain gate's operating point without touching the held-out photos?

For each model, the logit shift that `--dry-db 40 --dry-stat mean` would pick (training/gate_calibration.py) on
three sets of 64 dry 320x240 crops, seed 7357: the built-in training photos half under a
procedural sky (the built-in default), the training photos alone, and the held-out photos (which
the quality benchmarks score, so they must not be used). A set is a fair stand-in when its shift
is close to the held-out one.

    python benchmarks/calibration_sets.py --model runs/sky/ft-sky --model runs/sweep/c128 [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

from rainloop.atomic import write_json
from rainloop.training import gate_calibration as g
from rainloop.training.derainer_io import load_derainer

TARGET = 40.0
STAT = "mean"  # as results/calibration_sets.json was measured, before --dry-stat p5 existed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="repeatable: a run folder or a .safetensors derainer")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    sets = {"train+sky": g.dry_set(), "train": (g.dry_crops(sky=0), "train"),
            "held-out": (g.dry_crops(split="test", sky=0), "test")}
    results = {}
    print(f"{'model':<36} {'dry set':<10} {'as trained':>10} {'shift':>6}")
    for model in args.model:
        results[model] = {}
        for name, frames in sets.items():
            net, _ = load_derainer(model)  # calibrate() shifts the gate in place: a fresh copy per set
            r = g.calibrate(net.net, TARGET, frames, STAT)
            results[model][name] = {"dry_psnr_as_trained": r["dry_psnr_before"], "logit_shift": r["logit_shift"]}
            print(f"{model:<36} {name:<10} {r['dry_psnr_before']:>10.2f} {r['logit_shift']:>+6.2f}")
    if args.json:
        write_json(args.json, {"target_db": TARGET, "statistic": STAT, "crops": g.CROPS, "seed": g.SEED, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
