"""Calibration frames from the user's own rainy footage, fed to ONNX Runtime's calibrator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader
from tqdm import tqdm

from rainloop.data import open_unpaired
from rainloop.errors import RainloopError
from rainloop.frames import resize_to


def _spread(images, source: Path, n: int):
    """Up to n samples spread evenly over a folder (indexable) or videos (every k-th frame,
    k = length // n, so the frames span the whole footage rather than its first seconds)."""
    if isinstance(images, Sequence):
        picks = np.unique(np.linspace(0, len(images) - 1, min(n, len(images))).round().astype(int))
        yield from (images[int(i)] for i in picks)
        return
    for count, sample in enumerate(open_unpaired(source, every=max(1, images.frame_count() // n)), 1):
        yield sample
        if count == n:
            return


def calibration_frames(source: str | Path, n: int, size: tuple[int, int],
                       progress: bool = True) -> list[np.ndarray]:
    """Up to n BGR uint8 frames of `size` (w, h), spread over a folder of images, a video or a folder of videos."""
    if n < 1:
        raise RainloopError(f"--n {n}: need at least one calibration frame")
    source = Path(source)
    samples = _spread(open_unpaired(source), source, n)
    return [resize_to(s.rainy, size) for s in tqdm(samples, total=n, desc="reading calibration frames",
                                                       unit="frame", leave=False, disable=not progress)]


class FrameReader(CalibrationDataReader):
    """Feeds frames one at a time; len() and set_range() let ORT calibrate in chunks
    (CalibStridedMinMax) so histogram methods never hold every activation of every frame."""

    def __init__(self, frames: list[np.ndarray], feed, progress=None):
        self.frames = frames
        self.feed = feed  # frames (N,H,W,3) BGR uint8 -> the graph's input dict
        self.progress = progress
        self.set_range(0, len(frames))

    def __len__(self) -> int:
        return len(self.frames)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next, self._end = start_index, end_index

    def get_next(self) -> dict | None:
        if self._next >= self._end:
            return None
        frame = self.frames[self._next]
        self._next += 1
        if self.progress is not None:
            self.progress.update(1)
        return self.feed(frame[None])
