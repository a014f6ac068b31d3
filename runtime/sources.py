"""Frame sources: cameras, streams, video files, images and ROS 2 bags, all returning BGR uint8 frames.

A source's `read()` gives the next frame or None. For a file None means the
end; for a live source (camera, stream) it means the device went away, and
the pipeline calls `reopen()` with backoff until it returns True.
"""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path

import cv2
import numpy as np

from rainloop.errors import RainloopError
from rainloop.runtime.uri import IMAGE_SUFFIXES, SourceSpec, capture_candidates, parse_source

_BACKENDS = {"any": cv2.CAP_ANY, "v4l2": cv2.CAP_V4L2, "gstreamer": cv2.CAP_GSTREAMER, "ffmpeg": cv2.CAP_FFMPEG}
_PROPS = {"width": cv2.CAP_PROP_FRAME_WIDTH, "height": cv2.CAP_PROP_FRAME_HEIGHT, "fps": cv2.CAP_PROP_FPS}


class Source:
    """The source contract; subclasses override read() and whatever else applies."""

    live: bool = False
    fps: float | None = None

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def frame_name(self, index: int) -> str | None:
        """The file name of frame `index` where frames come from named files."""
        return None

    def reopen(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _has_backend(name: str) -> bool:
    return name == "any" or cv2.videoio_registry.hasBackend(_BACKENDS[name])


class CaptureSource(Source):
    """Anything cv2.VideoCapture opens: webcams, CSI cameras, streams, video files."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        self.live = spec.live
        self._candidates = [c for c in capture_candidates(spec) if _has_backend(c[1])]
        if not self._candidates:
            raise RainloopError(f"{spec.uri}: needs OpenCV built with GStreamer (JetPack's OpenCV); this one has none")
        self._cap = self._open()
        if self._cap is None:
            what = "camera or stream" if spec.live else "video (unreadable or unsupported format)"
            raise RainloopError(f"{spec.uri}: cannot open {what}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None
        # A file that opens but yields nothing is as unusable as one that does not open.
        self._pending = None if spec.live else self._grab()
        if not spec.live and self._pending is None:
            self._cap.release()
            raise RainloopError(f"{spec.uri}: video has no readable frames")

    def _open(self) -> cv2.VideoCapture | None:
        for target, backend in self._candidates:
            cap = cv2.VideoCapture(target, _BACKENDS[backend])
            if cap.isOpened():
                self._configure(cap)
                return cap
            cap.release()
        return None

    def _configure(self, cap: cv2.VideoCapture) -> None:
        if not self.live:
            return
        # A one-frame driver buffer: a live reader wants the newest frame, not a backlog.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.spec.kind == "webcam":
            for key, value in self.spec.options.items():
                cap.set(_PROPS[key], value)

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        return frame if ok else None

    def read(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._grab()

    def reopen(self) -> bool:
        if self._cap is not None:
            self._cap.release()
        self._cap = self._open()
        return self._cap is not None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _list_images(spec: SourceSpec) -> list[Path]:
    if spec.kind == "image":
        return [Path(spec.target)]
    if Path(spec.target).is_dir():
        paths = [p for p in Path(spec.target).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        paths = [Path(p) for p in glob.glob(str(spec.target)) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise RainloopError(f"{spec.target}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return sorted(paths, key=_natural_key)


class ImageSource(Source):
    """An image, a folder or a glob of images, in natural name order (frame2 before frame10)."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        self._paths = _list_images(spec)
        self._next = 0
        self._pending = self._load(0)

    def _load(self, index: int) -> np.ndarray:
        path = self._paths[index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise RainloopError(f"{path}: unreadable image")
        return image

    def read(self) -> np.ndarray | None:
        if self._next >= len(self._paths):
            return None
        image = self._pending if self._pending is not None else self._load(self._next)
        self._pending = None
        self._next += 1
        return image

    def frame_name(self, index: int) -> str | None:
        return self._paths[index].name if index < len(self._paths) else None


def open_source(uri: str | int | SourceSpec) -> Source:
    """Open a source by URI (see rainloop.runtime.uri); RainloopError if it cannot be read."""
    spec = uri if isinstance(uri, SourceSpec) else parse_source(uri)
    if spec.kind in ("image", "images"):
        return ImageSource(spec)
    if spec.kind == "bag":
        from rainloop.runtime.bags import BagSource  # bags builds on this module

        return BagSource(spec)
    return CaptureSource(spec)
