"""Whole video files in and out with OpenCV (streaming output is runtime.sinks.VideoSink)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from rainloop.atomic import atomic_path
from rainloop.errors import RainloopError


# OpenCV's writers that ship with every build (opencv-python's FFmpeg, Jetson's GStreamer).
CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}


def codec_for(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in CODECS:
        raise RainloopError(f"{path}: unknown video type (use one of {', '.join(CODECS)})")
    return CODECS[suffix]


def write_video(dest: str | os.PathLike, frames: Iterable[np.ndarray], fps: float) -> int:
    """Write all `frames` (BGR uint8, one size) atomically, codec from the suffix; returns the count."""
    dest = Path(dest)
    codec = codec_for(dest)
    n = 0
    with atomic_path(dest) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, size)
                    if not writer.isOpened():
                        raise RainloopError(f"{dest}: cannot write a {codec} video here")
                writer.write(frame)
                n += 1
        finally:
            if writer is not None:
                writer.release()
        if n == 0:
            raise RainloopError(f"{dest}: no frames to write")
    return n


def read_video(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame of a (short) video file."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RainloopError(f"{path}: cannot open as a video")
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(frame)
        ok, frame = cap.read()
    cap.release()
    return frames
