"""The rain gate's operating point: how sure it must be of rain before the derainer acts.

The gate learns "raining or not" from labelled synthetic frames, and where it ends up is
an accident of training: on dry scenes it has never seen it may open part way, and every
bit it opens subtracts some rain layer from a dry frame; or it may stay shut on much of
the rain it should remove. A robot that drives in and out of rain needs dry frames through
untouched, and as much rain removed as that allows. So after training the gate's logit is
shifted, down or up, to the most open setting at which dry frames still reach `dry_db`
PSNR against themselves: 95 in 100 of them (`p5`, the 5th percentile), or on average
(`mean`, how runs were set before `--dry-stat` existed). A mean is the wrong promise for a robot:
an untouched frame scores 100 dB, so a few such frames let many others fall far below.

`rainloop train --dry-db` does this at every save; `rainloop gate` does it to a trained
derainer, e.g. the bundled one for a new camera's dry footage.

Which dry frames: a camera's own dry footage (`--dry`) at its own size, the size the model
will run at, else 320x240 crops of the built-in *training* photos, half of them under a
procedural sky (rainloop.skies). With several sizes (`--dry-sizes`, or footage from several
cameras) the promise holds at each: a model that passes 320x240 frames may still move
1280x720 ones (benchmarks/RESULTS.md), so the gate is set for the strictest. The built-in
photos are about 500 px across: crops much larger than 640x360 are upscaled and softer than
a camera's frames, so they are no stand-in at those sizes. The held-out
photos stay out of it, so the quality benchmarks never score a setting tuned on them.
Without skies the training photos say little: a gate trained on them stays shut there
(about 51 dB for a model trained without --sky) and opens on new sky-like scenes; with
skies in training and in this set, the same shift gives about the same dry PSNR on the
training and on the held-out photos (benchmarks/RESULTS.md). Either statistic over few
crops swings by a few dB with the draw, hence many.

The shift is found without re-running the network per candidate: one pass records each
frame's logit and rain layer, and the output for any shift is x - sigmoid(logit - shift) * R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rainloop.errors import RainloopError
from rainloop.training.networks import EdgeUNet, RainGate

CROPS = 64           # per size
PIXELS = 32 * 1280 * 720  # footage at its own size: at most this many pixels held (~15 bytes each)
SIZES = ((320, 240),)
SEED = 7357
SKY = 0.5
STEP = 0.05          # logit units
MOST = 8.0           # sigmoid(8) ~ 1 - 3e-4: beyond this either way the gate is open or shut for good
# How the dry frames' PSNRs are summed up against --dry-db.
STATS = {"p5": lambda scores: float(np.percentile(scores, 5)), "mean": lambda scores: float(np.mean(scores))}
DEFAULT_STAT = "p5"


def dry_crops(n: int = CROPS, sizes=SIZES, seed: int = SEED, split: str = "train",
              sky: float = SKY) -> list[np.ndarray]:
    """n crops of the built-in `split` photos at each of `sizes`, a `sky` fraction of them under a procedural sky."""
    from rainloop import builtin
    from rainloop.skies import maybe_sky

    rng = np.random.default_rng(seed)
    crops = [builtin.random_crop(rng, size, split=split) for size in sizes for _ in range(n)]
    return [maybe_sky(c, rng, sky) for c in crops]


def parse_dry_sizes(text: str) -> list[tuple[int, int]]:
    """--dry-sizes "640x360,1280x720" -> [(640, 360), (1280, 720)]; RainloopError naming the flag."""
    from rainloop.sizes import parse_sizes

    try:
        return parse_sizes(text)
    except RainloopError as exc:
        raise RainloopError(f"--dry-sizes: {exc}") from None


def dry_set(path: str | None = None, sizes: str | None = None) -> tuple[list[np.ndarray], str]:
    """The frames to calibrate on, and how the card describes them: a camera's own dry
    footage (folder of images, video, folder of videos) at its own size, or the built-in
    `dry_crops`; `sizes` ("640x360,1280x720") sets the sizes of either."""
    wanted = parse_dry_sizes(sizes) if sizes else None
    listed = [f"{w}x{h}" for w, h in wanted or SIZES]
    named = f"at {listed[0]}" if len(listed) == 1 else f"at each of {', '.join(listed)}"
    if path is None:
        return (dry_crops(sizes=wanted or SIZES),
                f"{CROPS} dry crops of the built-in train photos {named}, {SKY:.0%} under a sky, seed {SEED}")
    from rainloop.data import spread_frames
    from rainloop.frames import resize_to

    frames = spread_frames(path, CROPS, None, progress=False)
    if not wanted:
        pixels = sum(f.shape[0] * f.shape[1] for f in frames)
        frames = frames[::-(-pixels // PIXELS)]  # large frames: fewer of them, still spread over the footage
        return frames, f"{len(frames)} frames of {path}, at their own size"
    return [resize_to(f, size) for size in wanted for f in frames], f"{len(frames)} frames of {path} {named}"


@torch.no_grad()
def _logits_and_layers(net: EdgeUNet, images: list[np.ndarray]):
    from rainloop.training.batches import to_tensor
    from rainloop.training.networks import pad_to_multiple

    device = next(net.parameters()).device
    for img in images:
        x = to_tensor([img], device)
        h, w = x.shape[-2:]
        logit, layer = net.rain_layer(pad_to_multiple(x, net.multiple))  # as the exported graph pads
        yield np.round(x[0].cpu().numpy() * 255).astype(np.uint8), float(logit), layer[0, :, :h, :w].cpu().numpy()


def _dry_psnrs(frames, shift: float) -> list[float]:
    from rainloop.metrics import psnr

    scores = []
    for x8, logit, layer in frames:
        x = x8.astype(np.float32) / np.float32(255)  # to_tensor's own scaling: the frame the net saw
        y = np.clip(x - layer / (1 + np.exp(shift - logit)), 0, 1)
        scores.append(psnr(np.round(y * 255).astype(np.uint8), x8))
    return scores


def _by_size(frames, scores, summary) -> dict[str, float]:
    """The statistic over each frame size's dry frames."""
    groups: dict[str, list[float]] = {}
    for (x8, *_), score in zip(frames, scores):
        groups.setdefault(f"{x8.shape[2]}x{x8.shape[1]}", []).append(score)
    return {size: summary(group) for size, group in groups.items()}


def shift_gate(net: EdgeUNet, shift: float) -> None:
    """Lower the gate's logit by `shift` (in place; a negative shift opens it)."""
    net.gate[-1].bias.data -= shift / RainGate.GAIN  # the logit is GAIN * the head's output


def calibrate(net: EdgeUNet, dry_db: float, dry: tuple[list[np.ndarray], str] | None = None,
              stat: str = DEFAULT_STAT) -> dict:
    """Shift `net`'s gate (in place) to the most open setting at which the dry frames (a
    dry_set) of every size reach `dry_db` by `stat` (STATS); returns the record for the card
    (a negative shift opens)."""
    if net.gate is None:
        raise ValueError("only a gated derainer has an operating point to set")
    images, described = dry or dry_set()
    was_training = net.training
    net.eval()
    frames = list(_logits_and_layers(net, images))
    net.train(was_training)
    summary = STATS[stat]

    def strictest(shift: float) -> float:
        return min(_by_size(frames, _dry_psnrs(frames, shift), summary).values())

    before = strictest(0.0)
    # The least grid step that reaches the target, by bisection: a lower gate only ever
    # brings a frame closer to itself, so every frame's dry PSNR rises with the shift.
    lo, hi = -round(MOST / STEP), round(MOST / STEP)
    while lo < hi:
        mid = (lo + hi) // 2
        if strictest(mid * STEP) >= dry_db:
            hi = mid
        else:
            lo = mid + 1
    shift = round(hi * STEP, 6)
    shift_gate(net, shift)
    after = _dry_psnrs(frames, shift)
    by_size = _by_size(frames, after, summary)
    return {"dry_db_target": dry_db, "statistic": stat, "logit_shift": shift, "dry_psnr_before": round(before, 2),
            "dry_psnr_after": round(min(by_size.values()), 2),
            "by_size": {size: round(v, 2) for size, v in by_size.items()},
            "share_at_target": round(float(np.mean(np.array(after) >= dry_db)), 3), "frames": described}


def set_gate(source: str, out: str | Path, dry_db: float, dry: str | None = None, stat: str = DEFAULT_STAT,
             sizes: str | None = None) -> dict:
    """`rainloop gate`: a trained derainer (run folder, .safetensors or `default`) with its gate
    set anew, written to out/g3.safetensors with its card; returns the card's record.
    The shift of an earlier setting is undone first, so settings never stack."""
    from rainloop.models import resolve
    from rainloop.training.derainer_io import FORMAT_KEYS, load_derainer, save_derainer

    padded, card = load_derainer(resolve(source, want="weights"))
    net = padded.net
    if getattr(net, "gate", None) is None:
        raise RainloopError(f"{source}: this derainer has no rain gate to set")
    frames = dry_set(dry, sizes)
    if card.get("gate_calibration"):
        shift_gate(net, -card["gate_calibration"]["logit_shift"])
    record = calibrate(net, dry_db, frames, stat)
    meta = {k: v for k, v in card.items() if k not in FORMAT_KEYS}
    save_derainer(net, card["net"], Path(out) / "g3.safetensors",
                  {**meta, "gate_calibration": record, "gate_set_from": str(source)})
    return record
