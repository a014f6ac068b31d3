"""Frame sinks: a window, a video file, image files, a ROS 2 bag (runtime.bags), or nothing.

`write(image, name)` takes a BGR uint8 frame (`name` is the source file name
where there is one). `close()` finalises the output. A sink sets
`stop_requested` when its user asks to stop (the window's `q`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from rainloop.errors import RainloopError
from rainloop.images import write_image
from rainloop.runtime.uri import SinkSpec, parse_sink

DEFAULT_FPS = 30.0


class Sink:
    stop_requested: bool = False

    def write(self, image: np.ndarray, name: str | None = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NullSink(Sink):
    """Discards frames: benchmarks, headless runs."""

    def write(self, image, name=None):
        pass


class DisplaySink(Sink):
    """An OpenCV window; `q` or Esc (or closing the window) asks the pipeline to stop.

    The window is created on the first write so every GUI call happens on the
    one thread that writes (Qt and GTK backends insist on that).
    """

    def __init__(self, title: str = "rainloop"):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise RainloopError("display://: no display (DISPLAY is unset); use --headless or a file sink")
        # currentUIFramework() is "" in headless builds (older OpenCV lacks it: assume a GUI).
        if not getattr(cv2, "currentUIFramework", lambda: "unknown")():
            raise RainloopError("display://: this OpenCV has no GUI (opencv-python-headless?); use --headless or a file sink")
        self.title = title
        self._shown = False

    def write(self, image, name=None):
        if not self._shown:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            self._shown = True
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        if key in (ord("q"), 27) or closed:
            self.stop_requested = True

    def close(self):
        if self._shown:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
            self._shown = False


class VideoSink(Sink):
    """A video file; the writer opens on the first frame, whose size every later frame takes."""

    def __init__(self, path: str | Path, codec: str, fps: float | None = None):
        self.path = Path(path)
        self.codec = codec
        self.fps = fps or DEFAULT_FPS
        self._writer = None
        self._size = None

    def _open(self, size: tuple[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, size)
        if not self._writer.isOpened():
            raise RainloopError(f"{self.path}: cannot write a {self.codec} video here")
        self._size = size

    def write(self, image, name=None):
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self._open(size)
        if size != self._size:
            # OpenCV silently drops frames of another size; a folder of mixed images must not lose any.
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)

    def close(self):
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class ImageFileSink(Sink):
    """One image file holding the latest frame (a snapshot; one image in, one image out)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, image, name=None):
        write_image(self.path, image)


class ImageFolderSink(Sink):
    """A folder of images named like the source's files, or numbered PNGs."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise RainloopError(f"{self.folder}: exists and is not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.frames = 0

    def write(self, image, name=None):
        write_image(self.folder / (name or f"{self.frames:06d}.png"), image)
        self.frames += 1


def open_sink(uri: str | SinkSpec, fps: float | None = None) -> Sink:
    """Open a sink by URI (display://0, none, a video file, an image, a folder, bag://).
    `fps` is the video file's frame rate (the source's, where known)."""
    spec = uri if isinstance(uri, SinkSpec) else parse_sink(uri)
    if spec.kind == "none":
        return NullSink()
    if spec.kind == "display":
        return DisplaySink(f"rainloop {spec.target}")
    if spec.kind == "video":
        return VideoSink(spec.target, spec.codec, fps)
    if spec.kind == "image":
        return ImageFileSink(spec.target)
    if spec.kind == "bag":
        from rainloop.runtime.bags import BagSink  # bags builds on this module

        return BagSink(spec)
    return ImageFolderSink(spec.target)
