"""PSNR and SSIM as deraining papers report them, on BGR uint8 images.

- Colour (default): computed over the three channels (SSIM averaged per channel).
- `y=True`: on the luma Y of ITU-R BT.601 YCbCr in the 16..235 range, rounded
  to integers like MATLAB's rgb2ycbcr on uint8 images, which is how the
  Rain100/Rain1400 tables were measured.
- SSIM follows Wang et al. 2004: 11x11 Gaussian window, sigma 1.5,
  K1 = 0.01, K2 = 0.03, population (not sample) covariance, mean over the
  pixels whose window fits inside the image. It matches
  skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255).
- PSNR of identical images is infinite; it is capped at PSNR_CAP (100 dB) so
  averages and JSON stay finite.

For real rain, which has no ground truth:
- `temporal_median`: the per-pixel median of a still camera's frames, a
  rain-free reference (a streak crosses a pixel in a frame or two, the scene
  stays): the idea behind SPA-Data's ground truth.
- `tone_shift`: how far a derainer moved the frame's tone, measured after a
  21-pixel median filter, in which thin streaks vanish.
- `bright_detail`: the energy of thin bright structures (luma above its
  7-pixel median), which rain streaks dominate on a rainy photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PSNR_CAP = 100.0
# Wider than any streak is thick: its median keeps the scene's tone and drops the streaks.
TONE_WINDOW = 21
# A bright line up to 3 pixels wide covers less than half of this window, so its median drops it.
DETAIL_WINDOW = 7
_WIN, _SIGMA = 11, 1.5
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
# BT.601 luma weights for R, G, B on 0..255 input, offset 16 (MATLAB rgb2ycbcr).
_Y_RGB = np.array([65.481, 128.553, 24.966]) / 255.0


def luma(bgr: np.ndarray) -> np.ndarray:
    """Y channel (16..235, integer-valued float64) of a BGR uint8 image."""
    return np.round(16.0 + bgr.astype(np.float64) @ _Y_RGB[::-1])


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype} and {b.dtype}")


def _prepare(a: np.ndarray, b: np.ndarray, y: bool) -> tuple[np.ndarray, np.ndarray]:
    _check_pair(a, b)
    if y:
        return luma(a), luma(b)
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, y: bool = False) -> float:
    """Peak signal-to-noise ratio in dB (peak 255), capped at PSNR_CAP."""
    a, b = _prepare(a, b, y)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * np.log10(255.0 ** 2 / mse))


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    def blur(img):
        return cv2.GaussianBlur(img, (_WIN, _WIN), _SIGMA, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    ssim_map = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    r = _WIN // 2
    # Only windows lying fully inside the image count (MATLAB's 'valid' filtering).
    return float(ssim_map[r:-r, r:-r].mean())


def ssim(a: np.ndarray, b: np.ndarray, y: bool = False) -> float:
    """Structural similarity (Wang et al. 2004), averaged over channels."""
    a, b = _prepare(a, b, y)
    if min(a.shape[:2]) < _WIN:
        raise ValueError(f"SSIM needs images of at least {_WIN}x{_WIN}, got {a.shape[1]}x{a.shape[0]}")
    if a.ndim == 2:
        return _ssim_channel(a, b)
    return float(np.mean([_ssim_channel(a[..., c].copy(), b[..., c].copy()) for c in range(a.shape[2])]))


def temporal_median(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel median of same-sized uint8 frames; an even count averages the middle two, rounding up."""
    stack = np.stack(frames)
    if stack.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {stack.dtype}")
    # A partition stays in uint8, where np.median would hold the whole window in float64.
    k = len(stack) // 2
    if len(stack) % 2:
        return np.partition(stack, k, axis=0)[k]
    part = np.partition(stack, (k - 1, k), axis=0)
    return ((part[k - 1].astype(np.uint16) + part[k] + 1) // 2).astype(np.uint8)


def _median_filter(img: np.ndarray, window: int) -> np.ndarray:
    if window < 3 or window % 2 == 0:
        raise ValueError(f"median window {window}: must be odd and at least 3")
    return cv2.medianBlur(img, window)


def tone_shift(a: np.ndarray, b: np.ndarray, window: int = TONE_WINDOW) -> float:
    """Mean absolute difference, in grey levels (0..255, all channels), between `a` and `b`
    after a `window`-pixel median filter: what a derainer did to the tone, not to the streaks."""
    _check_pair(a, b)
    return float(np.abs(_median_filter(a, window).astype(np.int16) - _median_filter(b, window)).mean())


def bright_detail(bgr: np.ndarray, window: int = DETAIL_WINDOW) -> float:
    """Mean square of the luma's excess over its `window`-pixel median (grey levels squared):
    the energy of bright structures thinner than about half the window. Squares let the strong
    excess of streaks outweigh sensor noise. An offset in tone leaves it be; scaling the
    frame's brightness scales it too, hence tone_shift beside it."""
    if bgr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {bgr.dtype}")
    y = luma(bgr).astype(np.uint8)
    excess = np.maximum(y.astype(np.int16) - _median_filter(y, window), 0).astype(np.float64)
    return float(np.mean(excess * excess))
