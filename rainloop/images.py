"""Reading and writing single images as BGR uint8 arrays, with one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from rainloop.atomic import write_bytes
from rainloop.errors import RainloopError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode `path` as BGR uint8 HxWx3; gray becomes 3 channels, alpha is dropped.

    The bytes are read with numpy and decoded by OpenCV so that non-ASCII paths
    work everywhere and a missing file is told apart from a corrupt one.
    """
    path = Path(path)
    if not path.is_file():
        raise RainloopError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise RainloopError(f"{path}: cannot read ({exc.strerror or exc})") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise RainloopError(f"{path}: unreadable or empty image")
    return img


def write_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Encode by the file suffix and write atomically, creating the folder."""
    path = Path(path)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or img.size == 0:
        raise ValueError(f"write_image wants a non-empty uint8 image, got {img.dtype} {img.shape}")
    try:
        ok, buf = cv2.imencode(path.suffix or ".png", img)
    except cv2.error:
        ok = False
    if not ok:
        raise RainloopError(f"{path}: cannot encode an image with suffix {path.suffix!r}")
    try:
        write_bytes(path, buf.tobytes())
    except OSError as exc:
        raise RainloopError(f"{path}: cannot write ({exc.strerror or exc})") from None
