"""Source and sink URIs (jetson-inference videoSource/videoOutput style) as typed specs.

Parsing is pure: it decides what a URI means and which capture targets
OpenCV should try, but opens nothing, so every camera pipeline string can
be checked in a test without the camera.

Sources: `0`, `v4l2:///dev/video0`, `/dev/video0`, `csi://0`, `rtsp://...`,
`http(s)://...`, `file://clip.mp4`, `clip.mp4`, `photo.jpg`, `folder/`,
`frames/*.png`, `bag://recording?topic=/camera/image_raw` (a ROS 2 bag).
Camera URIs take `?width=&height=&fps=` (csi also `flip=`).
Sinks: `display://0`, `none`, `out.mp4|.avi|.mkv|.mov`, `out.png` (one image,
overwritten per frame), `folder/`, `bag://new_bag[?topic=/derained|replace=1]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from rainloop.errors import RainloopError
from rainloop.video import CODECS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# CSI needs explicit caps; a webcam keeps its driver's mode unless the URI asks.
_CSI_DEFAULTS = {"width": 1280, "height": 720, "fps": 30, "flip": 0}
_WEBCAM_OPTIONS = ("width", "height", "fps")
_SOURCE_SCHEMES = "v4l2://, csi://, rtsp(s)://, http(s)://, bag://, file:// or a path"


@dataclass(frozen=True)
class SourceSpec:
    """kind: webcam | csi | stream | video | image | images | bag. `target` is what the kind opens:
    a device index or path, a URL, a file path, a folder, a glob or a bag (options: topic)."""

    kind: str
    uri: str
    target: str | int
    live: bool
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SinkSpec:
    """kind: display | none | video | image | images | bag. `codec` only for video;
    `options` only for a bag (topic, replace)."""

    kind: str
    uri: str
    target: str = ""
    codec: str = ""
    options: dict = field(default_factory=dict)


def _split_scheme(uri: str) -> tuple[str, str]:
    if "://" not in uri:
        return "", uri
    scheme, rest = uri.split("://", 1)
    return scheme.lower(), rest


def _camera_options(query: str, uri: str, defaults: dict, known: tuple[str, ...]) -> dict:
    options = dict(defaults)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in known:
            raise RainloopError(f"{uri}: unknown option {key!r} (known: {', '.join(known)})")
        try:
            options[key] = int(value)
        except ValueError:
            raise RainloopError(f"{uri}: option {key}={value!r} must be an integer") from None
    return options


def _bag_options(query: str, uri: str, known: tuple[str, ...]) -> dict:
    options = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in known:
            raise RainloopError(f"{uri}: unknown option {key!r} (known: {', '.join(known)})")
        options[key] = value
    return options


def _bag_source(uri: str, body: str, query: str) -> SourceSpec:
    if not body:
        raise RainloopError(f"{uri}: bag:// needs a path, e.g. bag://recording?topic=/camera/image_raw")
    path = Path(body).expanduser()
    if not path.exists():
        raise RainloopError(f"{path}: no such bag")
    return SourceSpec("bag", uri, str(path), live=False, options=_bag_options(query, uri, ("topic",)))


def _bag_sink(uri: str, body: str, query: str) -> SinkSpec:
    options = _bag_options(query, uri, ("topic", "replace"))
    if options.get("replace", "0") not in ("0", "1"):
        raise RainloopError(f"{uri}: replace={options['replace']!r} must be 0 or 1")
    options["replace"] = options.get("replace") == "1"
    if options["replace"] and options.get("topic"):
        raise RainloopError(f"{uri}: replace=1 keeps the source's topic; drop topic=")
    if not body:
        raise RainloopError(f"{uri}: bag:// needs the new bag's path, e.g. bag://derained_bag")
    path = Path(body).expanduser()
    # A bag is a folder of its own: writing into an old one would mix two recordings.
    if path.exists():
        raise RainloopError(f"{path}: exists already; a bag sink writes a new bag")
    return SinkSpec("bag", uri, str(path), options=options)


def _path_source(uri: str, text: str) -> SourceSpec:
    if any(ch in text for ch in "*?["):
        return SourceSpec("images", uri, text, live=False)
    path = Path(text).expanduser()
    if str(path).startswith("/dev/video"):
        return SourceSpec("webcam", uri, str(path), live=True)
    if not path.exists():
        raise RainloopError(f"{path}: no such source file or folder")
    if path.is_dir():
        return SourceSpec("images", uri, str(path), live=False)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return SourceSpec("image", uri, str(path), live=False)
    return SourceSpec("video", uri, str(path), live=False)


def parse_source(uri: str | int) -> SourceSpec:
    """Turn a user's --source into a SourceSpec; raises RainloopError for what cannot be a source."""
    text = str(uri).strip()
    if text.isdigit():
        return SourceSpec("webcam", text, int(text), live=True)
    scheme, rest = _split_scheme(text)
    body, _, query = rest.partition("?")
    if scheme == "":
        return _path_source(text, text)
    if scheme == "file":
        return _path_source(text, rest)
    if scheme == "v4l2":
        device = body if body.startswith("/") else f"/dev/{body}"
        return SourceSpec("webcam", text, device, live=True, options=_camera_options(query, text, {}, _WEBCAM_OPTIONS))
    if scheme == "csi":
        if not body.isdigit():
            raise RainloopError(f"{text}: csi:// needs a sensor number, e.g. csi://0")
        options = _camera_options(query, text, _CSI_DEFAULTS, tuple(_CSI_DEFAULTS))
        return SourceSpec("csi", text, int(body), live=True, options=options)
    if scheme in ("rtsp", "rtsps", "http", "https"):
        return SourceSpec("stream", text, text, live=True)
    if scheme == "bag":
        return _bag_source(text, body, query)
    raise RainloopError(f"{text}: unknown source scheme {scheme!r} (use {_SOURCE_SCHEMES})")


def csi_pipeline(sensor: int, width: int, height: int, fps: int, flip: int = 0) -> str:
    """GStreamer pipeline for a Jetson CSI camera, ending in BGR frames for OpenCV.

    nvarguscamerasrc delivers NVMM NV12; nvvidconv leaves NVMM as BGRx and
    videoconvert drops the x. appsink keeps one buffer so reads are always fresh.
    """
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! "
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"format=(string)NV12, framerate=(fraction){fps}/1 ! "
        f"nvvidconv flip-method={flip} ! video/x-raw, format=(string)BGRx ! "
        "videoconvert ! video/x-raw, format=(string)BGR ! "
        "appsink drop=true max-buffers=1 sync=false"
    )


def stream_pipeline(url: str) -> str:
    """GStreamer pipeline for an RTSP/HTTP stream (used where OpenCV has GStreamer but no FFmpeg)."""
    src = f"rtspsrc location={url} latency=0" if url.startswith("rtsp") else f"souphttpsrc location={url}"
    return (
        f"{src} ! decodebin ! videoconvert ! video/x-raw, format=(string)BGR ! "
        "appsink drop=true max-buffers=1 sync=false"
    )


def capture_candidates(spec: SourceSpec) -> list[tuple[str | int, str]]:
    """What to hand cv2.VideoCapture, best first: (target, backend) with backend
    one of any | v4l2 | gstreamer | ffmpeg. Image kinds are not opened by OpenCV video."""
    if spec.kind == "webcam":
        return [(spec.target, "any" if isinstance(spec.target, int) else "v4l2")]
    if spec.kind == "csi":
        o = spec.options
        return [(csi_pipeline(spec.target, o["width"], o["height"], o["fps"], o["flip"]), "gstreamer")]
    if spec.kind == "stream":
        return [(spec.target, "ffmpeg"), (stream_pipeline(spec.target), "gstreamer")]
    if spec.kind == "video":
        return [(spec.target, "any")]
    raise ValueError(f"{spec.kind} sources are not opened with cv2.VideoCapture")


def parse_sink(uri: str) -> SinkSpec:
    """Turn a user's --sink into a SinkSpec; raises RainloopError for what cannot be a sink."""
    text = str(uri).strip()
    if text.lower() in ("none", "null", "none://", "null://"):
        return SinkSpec("none", text)
    scheme, rest = _split_scheme(text)
    if scheme == "display":
        return SinkSpec("display", text, rest or "0")
    if scheme == "bag":
        body, _, query = rest.partition("?")
        return _bag_sink(text, body, query)
    if scheme not in ("", "file"):
        raise RainloopError(f"{text}: unknown sink scheme {scheme!r} (use display://0, none, a video file, "
                            "a folder or bag://)")
    path = Path(rest).expanduser()
    suffix = path.suffix.lower()
    if suffix in CODECS:
        return SinkSpec("video", text, str(path), CODECS[suffix])
    if suffix in IMAGE_SUFFIXES:
        return SinkSpec("image", text, str(path))
    if suffix == "" or path.is_dir() or rest.endswith("/"):
        return SinkSpec("images", text, str(path))
    known = ", ".join(list(CODECS) + list(IMAGE_SUFFIXES))
    raise RainloopError(f"{text}: unknown sink file type {suffix!r} (known: {known}, or a folder)")
