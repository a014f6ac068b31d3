"""Frames (BGR uint8, as OpenCV gives them) <-> a derainer graph's own tensors.

The graph's input dtype states its contract: uint8 -> NHWC BGR frames as they
are; float -> NCHW RGB in [0, 1]. Every stage that feeds a derainer (export
parity, engine verification, the runtime) converts through here.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_model(batch: np.ndarray, io: str, dtype=np.float32) -> np.ndarray:
    """(N, H, W, 3) BGR uint8 -> the graph's input."""
    if io == "uint8":
        return np.ascontiguousarray(batch)
    # Channel flip and transpose are views; the cast makes the one contiguous copy.
    x = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    x *= np.float32(1.0 / 255.0)
    return x if np.dtype(dtype) == np.float32 else x.astype(dtype)


def to_float_frames(y: np.ndarray, io: str) -> np.ndarray:
    """The graph's output -> (N, H, W, 3) BGR float32 in [0, 1], unrounded (for parity checks)."""
    if io == "uint8":
        return y.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1)[..., ::-1], dtype=np.float32)


def from_model(y: np.ndarray, io: str) -> np.ndarray:
    """The graph's output -> (N, H, W, 3) BGR uint8, clipped and rounded."""
    if io == "uint8":
        return np.ascontiguousarray(y)
    n, _, h, w = y.shape
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        # OpenCV's saturating scale + channel merge is ~3x faster than numpy's
        # strided transpose at 720p; the max() drops FP16/INT8 undershoot below 0,
        # which convertScaleAbs would otherwise mirror.
        planes = cv2.max(np.ascontiguousarray(y[i], dtype=np.float32).reshape(3 * h, w), 0.0)
        u = cv2.convertScaleAbs(planes, alpha=255.0).reshape(3, h, w)
        cv2.merge((u[2], u[1], u[0]), dst=out[i])
    return out


def resize_to(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h) as the runtime feeds a model: area averaging when shrinking
    (no aliasing), bilinear when enlarging. Calibration uses it too, so INT8
    ranges are measured on frames prepared exactly like live ones."""
    if (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    shrink = size[0] * size[1] < frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
