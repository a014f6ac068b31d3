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
"""

from __future__ import annotations

import cv2
import numpy as np

PSNR_CAP = 100.0
_WIN, _SIGMA = 11, 1.5
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
# BT.601 luma weights for R, G, B on 0..255 input, offset 16 (MATLAB rgb2ycbcr).
_Y_RGB = np.array([65.481, 128.553, 24.966]) / 255.0


def luma(bgr: np.ndarray) -> np.ndarray:
    """Y channel (16..235, integer-valued float64) of a BGR uint8 image."""
    return np.round(16.0 + bgr.astype(np.float64) @ _Y_RGB[::-1])


def _prepare(a: np.ndarray, b: np.ndarray, y: bool) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype} and {b.dtype}")
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
