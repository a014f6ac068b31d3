"""The rain gate's operating point: how sure it must be of rain before the derainer acts.

The gate learns "raining or not" from labelled synthetic frames; on dry scenes it has
never seen it still opens part way now and then, and every bit it opens subtracts some
rain layer from a dry frame. A robot that drives in and out of rain needs dry frames
through untouched, so after training the gate's logit is shifted down (never up) by the
least amount that brings dry frames to `dry_db` mean PSNR against themselves.

Which dry frames: the gate has learned the training photos by heart (it stays shut on
them, about 51 dB for the default model) and says nothing there about new scenes, so the
frames come from the held-out photos, other crops than the quality benchmarks score.
The built-in set has no third split; a user calibrating for a camera would rather use
its own dry footage. Mean PSNR over few crops swings by 1-2 dB with the draw, hence many.

The shift is found without re-running the network per candidate: one pass records each
frame's logit and rain layer, and the output for any shift is x - sigmoid(logit - shift) * R.
"""

from __future__ import annotations

import numpy as np
import torch

from rainloop.training.networks import EdgeUNet, RainGate

CROPS = 64
SIZE = (320, 240)
SEED = 7357
SPLIT = "test"      # see above: the training photos cannot tell
STEP = 0.05          # logit units
MOST = 8.0           # sigmoid(-8) ~ 3e-4: beyond this the gate is shut and further shifts change nothing


def dry_crops(n: int = CROPS, size: tuple[int, int] = SIZE, seed: int = SEED) -> list[np.ndarray]:
    from rainloop import builtin

    rng = np.random.default_rng(seed)
    return [builtin.random_crop(rng, size, split=SPLIT) for _ in range(n)]


def dry_set(path: str | None = None) -> tuple[list[np.ndarray], str]:
    """The frames to calibrate on, and how the card describes them: a camera's own dry
    footage (folder of images, video, folder of videos) or the built-in held-out crops."""
    if path is None:
        return dry_crops(), f"{CROPS} dry crops of the built-in {SPLIT} photos, seed {SEED}"
    from rainloop.data import spread_frames

    frames = spread_frames(path, CROPS, SIZE, progress=False)
    return frames, f"{len(frames)} frames of {path}"


@torch.no_grad()
def _logits_and_layers(net: EdgeUNet, images: list[np.ndarray]):
    from rainloop.training.batches import to_tensor

    device = next(net.parameters()).device
    seen = {}
    hooks = [net.gate.register_forward_hook(lambda _m, _i, out: seen.__setitem__("logit", out)),
             net.tail.register_forward_hook(lambda _m, _i, out: seen.__setitem__("layer", out))]
    try:
        for img in images:
            x = to_tensor([img], device)
            net(x)
            x = x[0].cpu().numpy()
            yield x, np.round(x * 255).astype(np.uint8), float(seen["logit"]), seen["layer"][0].cpu().numpy()
    finally:
        for h in hooks:
            h.remove()


def _dry_psnr(frames, shift: float) -> float:
    from rainloop.metrics import psnr

    scores = []
    for x, x8, logit, layer in frames:
        y = np.clip(x - layer / (1 + np.exp(shift - logit)), 0, 1)
        scores.append(psnr(np.round(y * 255).astype(np.uint8), x8))
    return float(np.mean(scores))


def calibrate(net: EdgeUNet, dry_db: float, dry: tuple[list[np.ndarray], str] | None = None) -> dict:
    """Shift `net`'s gate (in place) so the dry frames (a dry_set) reach `dry_db`; returns the
    record for the card."""
    if net.gate is None:
        raise ValueError("only a gated derainer has an operating point to set")
    images, described = dry or dry_set()
    h, w = images[0].shape[:2]
    if h % net.multiple or w % net.multiple:
        raise ValueError(f"calibration crops must be multiples of {net.multiple}")  # no padding to model
    was_training = net.training
    net.eval()
    frames = list(_logits_and_layers(net, images))
    net.train(was_training)
    before = _dry_psnr(frames, 0.0)
    # The least grid step that reaches the target, by bisection: a lower gate only ever
    # brings a frame closer to itself, so dry PSNR rises with the shift.
    lo, hi = 0, round(MOST / STEP)
    if before >= dry_db:
        hi = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if _dry_psnr(frames, mid * STEP) >= dry_db:
            hi = mid
        else:
            lo = mid + 1
    shift = round(hi * STEP, 6)
    last = net.gate[-1]
    last.bias.data -= shift / RainGate.GAIN  # the logit is GAIN * the head's output
    return {"dry_db_target": dry_db, "logit_shift": shift, "dry_psnr_before": round(before, 2),
            "dry_psnr_after": round(_dry_psnr(frames, shift), 2),
            "frames": f"{described}, {w}x{h}"}
