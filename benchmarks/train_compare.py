"""Does the JRGR loop beat plain supervised training? Same network, same step budget.

(a) supervised only: G1 trained on synthetic pairs for all --steps;
(b) JRGR: G1 for --pretrain-steps, then the joint loops train G3 for the rest.
Both are scored on physics-rain images of the held-out built-in photos
(split "test", a seed no training draw uses) with rainloop.evaluate: the
physics renderer stands in for real rain, which (b) saw only unpaired.

    python benchmarks/train_compare.py --preset tiny --steps 400 --pretrain-steps 200 --out runs/compare
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from rainloop.atomic import write_json
from rainloop.data import Sample
from rainloop.evaluate import evaluate
from rainloop.training import loop, runs
from rainloop.training.checkpoint import load_latest
from rainloop.training.derainer_io import load_derainer
from rainloop.training.networks import build_derainer
from rainloop.training.validation import derain_fn

EVAL_SEED = 90210


def eval_pairs(n: int, size: int) -> list[Sample]:
    from rainloop import builtin, rain

    rng = np.random.default_rng(EVAL_SEED)
    pairs = []
    for i in range(n):
        clean = builtin.random_crop(rng, (size, size), split="test")
        rainy = rain.render(clean, rng, style="physics", intensity=float(rng.uniform(0.2, 1.0)))
        pairs.append(Sample(rainy, clean, f"test-{i:03d}"))
    return pairs


def train_run(out: Path, name: str, cfg: dict, opts: loop.Options) -> Path:
    run = out / name
    if (run / "config.json").exists():
        runs.resume_run(run, {"steps": cfg["steps"]})
        loop.train(run, opts)
    else:
        loop.train(run, opts, new=cfg)
    return run


def frozen_g1(run: Path) -> torch.nn.Module:
    """Run (b)'s G1 as it was when stage 2 began (it stays frozen afterwards)."""
    cfg = runs.read_config(run)
    tensors, _ = load_latest(run / "checkpoints")
    net = build_derainer(cfg["g1"])
    net.load_state_dict({k[len("net.g1."):]: v for k, v in tensors.items() if k.startswith("net.g1.")})
    return net


def score(net: torch.nn.Module, pairs) -> dict:
    s = evaluate(pairs, derain_fn(net))
    return {k: s[k] for k in ("psnr", "ssim", "input_psnr", "input_ssim", "gain_db")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny", choices=["paper", "edge", "tiny"])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--pretrain-steps", type=int, default=200)
    p.add_argument("--out", default="runs/train_compare")
    p.add_argument("--crop", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-eval", type=int, default=24)
    p.add_argument("--eval-size", type=int, default=256)
    p.add_argument("--threads", type=int)
    p.add_argument("--stage1-gate", choices=["on", "off"],
                   help="the gate term in stage 1 (default on; off as every figure before session 10)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    common = dict(preset=args.preset, crop=args.crop, batch=args.batch, seed=args.seed, steps=args.steps,
                  stage1_gate=args.stage1_gate)
    opts = loop.Options(device=args.device, command=" ".join(sys.argv), ckpt_every=max(50, args.steps // 4),
                        val_every=max(50, args.steps // 4))
    sup = train_run(out, "supervised", runs.make_config(**common, pretrain_steps=args.steps), opts)
    jrgr = train_run(out, "jrgr", runs.make_config(**common, pretrain_steps=args.pretrain_steps), opts)

    pairs = eval_pairs(args.n_eval, args.eval_size)
    rows = {"G1 supervised, all steps (a)": score(load_derainer(sup)[0].net, pairs),
            "G1 after pretrain (b, frozen)": score(frozen_g1(jrgr), pairs),
            "G3 JRGR (b)": score(load_derainer(jrgr)[0].net, pairs)}
    first = next(iter(rows.values()))
    table = [("input (rainy)", first["input_psnr"], first["input_ssim"])]
    table += [(name, r["psnr"], r["ssim"]) for name, r in rows.items()]
    print(f"preset {args.preset}, {args.steps} steps ({args.pretrain_steps} pretrain), "
          f"{len(pairs)} physics-rain test crops {args.eval_size}px")
    print(f"{'model':<32} {'PSNR':>7} {'SSIM':>7}")
    for name, ps, ss in table:
        print(f"{name:<32} {ps:>7.2f} {ss:>7.4f}")
    result = {"preset": args.preset, "steps": args.steps, "pretrain_steps": args.pretrain_steps,
              "seed": args.seed, "eval": {"n": len(pairs), "size": args.eval_size, "seed": EVAL_SEED,
                                          "rain": "physics", "photos": "builtin split test"},
              "input": {"psnr": first["input_psnr"], "ssim": first["input_ssim"]}, "models": rows,
              "machine": loop.machine(torch.device(args.device))}
    write_json(out / "train_compare.json", result)
    print(f"wrote {out / 'train_compare.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
