"""A classic yardstick without learning: dark-channel-prior dehazing (He et al., CVPR 2009) on the quality sets.

Physics rain's decibels are mostly in its veil (RESULTS.md, "Where physics rain's
decibels go"), and the veil is Koschmieder's haze, which the dark channel prior
inverts from one frame: airlight A from the brightest 0.1% of the dark channel,
transmission t = 1 - omega * dark(I / A) refined by a guided filter, then
J = (I - A) / max(t, 0.1) + A. omega < 1 keeps some haze, as He et al. do.

--model takes `dcp:OMEGA` (the prior alone) or `MODEL+dcp:OMEGA` (the prior on a
derainer's output: a derainer for the streaks, the prior for the veil).

    python benchmarks/dark_channel_prior.py --model dcp:0.8 --model default+dcp:0.5 [--n 100] [--json out.json]
"""

from __future__ import annotations

import contextlib
import sys

import cv2
import numpy as np

from quality import measure_all, print_table, score_sets
from rainloop.runtime import Derainer

PATCH = 15  # He et al.'s window
T_MIN = 0.1
GUIDE_RADIUS, GUIDE_EPS = 20, 1e-3


def dark_channel(img: np.ndarray) -> np.ndarray:
    return cv2.erode(img.min(axis=2), cv2.getStructuringElement(cv2.MORPH_RECT, (PATCH, PATCH)))


def guided_filter(guide: np.ndarray, src: np.ndarray) -> np.ndarray:
    """He et al.'s edge-preserving smoother (ECCV 2010): src made to follow guide's edges."""
    box = lambda x: cv2.boxFilter(x, -1, (2 * GUIDE_RADIUS + 1,) * 2)  # noqa: E731
    mean_g, mean_s = box(guide), box(src)
    a = (box(guide * src) - mean_g * mean_s) / (box(guide * guide) - mean_g * mean_g + GUIDE_EPS)
    b = mean_s - a * mean_g
    return box(a) * guide + box(b)


def dehaze(frame: np.ndarray, omega: float) -> np.ndarray:
    """One BGR uint8 frame with its haze lifted by the dark channel prior."""
    img = frame.astype(np.float32) / 255
    dark = dark_channel(img)
    n = max(1, dark.size // 1000)
    brightest = np.argpartition(dark.ravel(), -n)[-n:]
    airlight = img.reshape(-1, 3)[brightest].mean(axis=0)
    t = 1 - omega * dark_channel(img / np.maximum(airlight, 1e-3))
    t = np.clip(guided_filter(img.mean(axis=2), t), T_MIN, 1)[..., None]
    return (np.clip((img - airlight) / t + airlight, 0, 1) * 255 + 0.5).astype(np.uint8)


def measure(spec: str, sets: dict) -> dict:
    model, _, omega = spec.rpartition("dcp:")
    omega = float(omega)
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(Derainer(model.rstrip("+"))) if model else (lambda frame: frame)
        return score_sets(lambda frame: dehaze(first(frame), omega), sets)


def main(argv=None) -> int:
    print_table(measure_all(__doc__, "dcp:OMEGA or MODEL+dcp:OMEGA", measure, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
