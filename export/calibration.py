"""The user's calibration frames, fed to ONNX Runtime's calibrator (rainloop.data.spread_frames reads them)."""

from __future__ import annotations

import numpy as np
from onnxruntime.quantization import CalibrationDataReader


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
