"""The user's path: fine-tune the bundled model on a video of your own camera's rain.

Stands in for "your camera" with a physics-rain video of a held-out photo
(one rain field, drops falling frame to frame, sensor noise, JPEG). The first
frames are the footage you would hand to training, unpaired (`--real`); the
later frames, which training never sees, are scored against the clean scene.
Dry frames of the other held-out photos check that pass-through survives. The
table also gives the gate's mean on the held-out frames and the PSNR with the
gate forced open (benchmarks/gate_analysis.py).

    python benchmarks/finetune_video.py --steps 600 --out runs/finetune-video [--json out.json] [-- TRAIN OPTIONS]

Runs `rainloop train --init default --real footage.mp4 --lambda-idt 20 ...`,
exactly the README's fine-tuning command, then scores both models, and both again
with their gate set on the camera's own dry scenes (`rainloop gate --dry`: each
scene of the footage without rain; the dry score is on other photos).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from gate_analysis import analyse
from rainloop import builtin, rain
from rainloop.atomic import write_json
from rainloop.cli import main as rainloop
from rainloop.data import Sample, open_pairs
from rainloop.evaluate import evaluate
from rainloop.files import read_json
from rainloop.images import write_image
from rainloop.runtime import Derainer
from rainloop.video import write_video

SEED = 31337


def camera(size: tuple[int, int], frames: int, intensity: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The clean scene and its rainy frames."""
    rng = np.random.default_rng(SEED)
    clean = builtin.crop_from(builtin.clean_photos("test")[builtin.photo_names("test").index("rocket")], rng, size)
    return clean, list(rain.render_sequence(clean, frames, rng, "physics", intensity))


def other_scenes(size: tuple[int, int], n: int, frames: int, intensity: float) -> tuple[list, list]:
    """More footage from the same camera: `n` clips of built-in *train* photos, back to back;
    and each scene without rain (the camera's dry footage)."""
    rng = np.random.default_rng(SEED + 2)
    scenes, out = [], []
    for _ in range(n):
        scenes.append(builtin.random_crop(rng, size, split="train"))
        out += rain.render_sequence(scenes[-1], frames, rng, "physics", intensity)
    return scenes, out


def dry_frames(size: tuple[int, int], n: int) -> list[Sample]:
    rng = np.random.default_rng(SEED + 1)
    frames = [builtin.random_crop(rng, size, split="test") for _ in range(n)]
    return [Sample(f, f, f"dry{i}") for i, f in enumerate(frames)]


def score(model: str, held_out: Path, dry: list[Sample]) -> dict:
    """PSNR through the runtime (ONNX Runtime), plus the gate and the rain layer (gate_analysis)."""
    with Derainer(model) as derainer:
        rainy, still = evaluate(open_pairs(held_out), derainer), evaluate(dry, derainer)
    inner = analyse(model, {"held-out": [held_out]})["held-out"]
    return {"input_psnr": rainy["input_psnr"], "psnr": rainy["psnr"], "gain_db": rainy["gain_db"],
            "ssim": rainy["ssim"], "dry_psnr": still["psnr"], "gate_mean": inner["gate_mean"],
            "psnr_gate_open": inner["psnr_open"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="the fine-tuning run folder (resumed if it exists)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--size", default="640x360")
    p.add_argument("--frames", type=int, default=240, help="video length; the last quarter is held out")
    p.add_argument("--intensity", type=float, default=0.6)
    p.add_argument("--scenes", type=int, default=1, help="footage of this many scenes: the scored one, then others")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gate-db", default="38", help="`rainloop gate --dry-db` on the camera's own dry scenes")
    p.add_argument("--dry-sizes", help="`rainloop gate --dry-sizes` (default: the footage's own size; "
                                       "320x240 as rows before session 9 were)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="after --: more `rainloop train` options")
    args = p.parse_args(argv)
    extra = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    w, h = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean, frames = camera((w, h), args.frames, args.intensity)
    split = args.frames * 3 // 4
    footage, own_dry = out.parent / f"{out.name}-footage.mp4", out.parent / f"{out.name}-dry"
    scenes, more = other_scenes((w, h), args.scenes - 1, split, args.intensity)
    write_video(footage, frames[:split] + more, fps=25)
    for i, scene in enumerate([clean, *scenes]):
        write_image(own_dry / f"{i:02d}.png", scene)
    held_out = out.parent / f"{out.name}-held-out"
    for i, frame in enumerate(frames[split:]):
        write_image(held_out / "rainy" / f"{split + i:05d}.png", frame)
        write_image(held_out / "clean" / f"{split + i:05d}.png", clean)
    dry = dry_frames((w, h), 12)

    before = score("default", held_out, dry)
    resume = ["--resume"] if (out / "config.json").exists() else ["--init", "default"]
    rc = rainloop(["train", *resume, "--real", str(footage), "--lambda-idt", "20", "--steps", str(args.steps),
                   "--out", str(out), "--val", "none", "--seed", "0", "--threads", str(args.threads), *extra])
    if rc:
        return rc
    after = score(str(out), held_out, dry)
    results = {"default": before, f"fine-tuned ({args.steps} steps)": after}
    # The other way to fit a camera: set the gate on its own dry scenes (`rainloop gate`), with or without training.
    for name, model in (("default", "default"), (f"fine-tuned ({args.steps} steps)", str(out))):
        gated = out.parent / f"{out.name}-gate-{'default' if model == 'default' else 'fine-tuned'}"
        sizes = ["--dry-sizes", args.dry_sizes] if args.dry_sizes else []
        if rainloop(["gate", model, "--dry-db", args.gate_db, "--dry", str(own_dry), *sizes, "--out", str(gated)]):
            return 1
        results[f"{name}, gate on own dry"] = score(str(gated), held_out, dry)
    print(f"\n{'model':<40} {'input':>6} {'output':>7} {'gain':>6} {'SSIM':>6} {'dry':>6} {'gate':>5} {'open':>6}")
    for name, r in results.items():
        print(f"{name:<40} {r['input_psnr']:>6.2f} {r['psnr']:>7.2f} {r['gain_db']:>+6.2f} {r['ssim']:>6.4f} "
              f"{r['dry_psnr']:>6.2f} {r['gate_mean']:>5.2f} {r['psnr_gate_open']:>6.2f}")
    if args.json:
        write_json(args.json, {"seed": SEED, "size": args.size, "frames": args.frames, "held_out": args.frames - split,
                               "gate_db": args.gate_db,
                               "intensity": args.intensity, "scenes": args.scenes, "steps": args.steps, "train_args": extra,
                               "fine_tune_seconds": read_json(out / "g3.json", "derainer card")["train_seconds"], "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
