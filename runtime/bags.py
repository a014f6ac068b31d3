"""ROS 2 bags (a rosbag2 folder, or one .db3 / .mcap file) as footage in and out.

In: the images of one topic, `sensor_msgs/msg/Image` (bgr8, rgb8, mono8, bgra8,
rgba8) or `sensor_msgs/msg/CompressedImage` (JPEG, PNG), as BGR frames in
recording order. A bag is a file: every image is read, none is dropped.

Out: a new bag holding every message of the input bag byte for byte, plus each
derained image under a new topic (or, with replace, in place of the original)
with the original header, bag timestamp, message type and encoding, in the
input's storage format and compression, so that it replays in place of the
input. It is written in a hidden folder beside its final name and renamed
there only once the whole recording is in it.

All rosbags calls live here; rosbags is the optional `[ros]` extra.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from rainloop.data import Sample
from rainloop.errors import RainloopError
from rainloop.runtime.sinks import Sink
from rainloop.runtime.sources import Source
from rainloop.runtime.uri import SinkSpec, SourceSpec, parse_source

try:
    import apsw  # rosbags reads SQLite3 bags through it
    from rosbags.interfaces import MessageDefinitionFormat
    from rosbags.rosbag2 import (CompressionFormat, CompressionMode, Reader, ReaderError, StoragePlugin, Writer,
                                 WriterError)
    from rosbags.serde import SerdeError
    from rosbags.typesys import Stores, get_typestore
    _BAG_ERRORS = (ReaderError, WriterError, SerdeError, apsw.Error, OSError)
except ImportError:
    Reader = None

INSTALL = "pip install 'rainloop[ros]'"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
# encoding -> (channels, OpenCV conversion to BGR, and back); None: BGR already.
_ENCODINGS = {
    "bgr8": (3, None, None),
    "rgb8": (3, cv2.COLOR_RGB2BGR, cv2.COLOR_BGR2RGB),
    "mono8": (1, cv2.COLOR_GRAY2BGR, cv2.COLOR_BGR2GRAY),
    "bgra8": (4, cv2.COLOR_BGRA2BGR, cv2.COLOR_BGR2BGRA),
    "rgba8": (4, cv2.COLOR_RGBA2BGR, cv2.COLOR_BGR2RGBA),
}
# A CompressedImage's format string varies by driver ("jpeg", "bgr8; jpeg compressed bgr8"); its bytes do not.
_MAGIC = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png"}
# Metadata version 8 writes QoS policies as numbers, the form older ROS 2 releases read too (9 writes names).
_VERSION = 8


def _need_rosbags(uri: str) -> None:
    if Reader is None:
        raise RainloopError(f"{uri}: ROS 2 bags need rosbags, which the base install leaves out: {INSTALL}")


@lru_cache(maxsize=1)
def _typestore():
    # Image and CompressedImage are the same in every ROS 2 release; definitions missing
    # from older bags (Humble's SQLite3 keeps none) come from here too.
    return get_typestore(Stores.ROS2_HUMBLE)


@contextmanager
def _bag_errors(what: str):
    """rosbags' and SQLite's errors on a bad or truncated bag as one line naming it."""
    try:
        yield
    except _BAG_ERRORS as exc:
        raise RainloopError(f"{what} ({' '.join(str(exc).split()) or type(exc).__name__})") from None


def _compressed_suffix(data: np.ndarray) -> str | None:
    head = bytes(data[:4])
    return next((suffix for magic, suffix in _MAGIC.items() if head.startswith(magic)), None)


def image_of(msg, msgtype: str, where: str) -> np.ndarray:
    """A deserialized Image or CompressedImage message as a BGR uint8 frame."""
    data = np.asarray(msg.data, np.uint8)
    if msgtype == COMPRESSED:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if _compressed_suffix(data) else None
        if image is None:
            raise RainloopError(f"{where}: CompressedImage format {msg.format!r} is not a readable JPEG or PNG")
        return image
    if msg.encoding.lower() not in _ENCODINGS:
        raise RainloopError(f"{where}: image encoding {msg.encoding!r} is not supported "
                            f"(supported: {', '.join(_ENCODINGS)})")
    channels, to_bgr, _ = _ENCODINGS[msg.encoding.lower()]
    h, w, row = msg.height, msg.width, msg.width * channels
    if h == 0 or w == 0 or msg.step < row or data.size < msg.step * h:
        raise RainloopError(f"{where}: a {w}x{h} {msg.encoding} image with step {msg.step} "
                            f"and {data.size} bytes of data")
    pixels = data[:msg.step * h].reshape(h, msg.step)[:, :row].reshape((h, w) if channels == 1 else (h, w, channels))
    return np.array(pixels) if to_bgr is None else cv2.cvtColor(pixels, to_bgr)


def with_image(msg, msgtype: str, image: np.ndarray):
    """`msg` (header, encoding or format kept) carrying the BGR frame `image` instead of its own."""
    if msgtype == COMPRESSED:
        # The transmitted encoding ends the format string: "mono8; jpeg compressed mono8".
        gray = "mono" in msg.format.split(";")[-1]
        encoded = cv2.imencode(_compressed_suffix(np.asarray(msg.data, np.uint8)),
                               cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if gray else image)[1]
        return dataclasses.replace(msg, data=encoded.reshape(-1))
    channels, _, back = _ENCODINGS[msg.encoding.lower()]
    pixels = image if back is None else cv2.cvtColor(image, back)
    h, w = image.shape[:2]
    return dataclasses.replace(msg, height=h, width=w, step=w * channels, is_bigendian=0,
                               data=np.ascontiguousarray(pixels).reshape(-1))


class BagImage(NamedTuple):
    index: int  # among the topic's messages
    image: np.ndarray  # BGR uint8


class ImageTopic:
    """One image topic of a bag, open for reading. `topic` None: the bag's only image topic."""

    def __init__(self, path: str | os.PathLike, topic: str | None, uri: str):
        _need_rosbags(uri)
        self.path, self.uri = Path(path), uri
        with _bag_errors(f"{self.path}: not a readable ROS 2 bag"):
            self.reader = Reader(self.path)
            self.reader.open()
        try:
            self.topic = self._pick(topic)
            self.connections = self.reader.topics[self.topic].connections
            self.count = sum(c.msgcount for c in self.connections)
            if self.count == 0:
                raise RainloopError(f"{uri}: topic {self.topic} has no messages")
        except BaseException:
            self.close()
            raise
        seconds = self.reader.duration / 1e9
        self.fps = self.count / seconds if self.count > 1 and seconds > 0 else None

    def _pick(self, topic: str | None) -> str:
        topics = self.reader.topics
        images = sorted(name for name, info in topics.items() if info.msgtype in (IMAGE, COMPRESSED))
        listed = f"image topics: {', '.join(images) or 'none'}"
        if topic is None:
            if not images:
                raise RainloopError(f"{self.uri}: no image topics (sensor_msgs/msg/Image, CompressedImage) in it")
            if len(images) > 1:
                raise RainloopError(f"{self.uri}: pick the image topic with ?topic= ({listed})")
            return images[0]
        if topic not in topics:
            raise RainloopError(f"{self.uri}: no topic {topic} in the bag ({listed})")
        if topic not in images:
            carries = topics[topic].msgtype or "several message types"
            raise RainloopError(f"{self.uri}: topic {topic} carries {carries}, not an image ({listed})")
        return topic

    @property
    def storage(self) -> StoragePlugin:
        files = self.path.iterdir() if self.path.is_dir() else [self.path]
        return StoragePlugin.MCAP if any(".mcap" in f.suffixes for f in files) else StoragePlugin.SQLITE3

    def messages(self, connections=()) -> Iterator:
        """(connection, bag timestamp, raw bytes) of `connections` (default: all), in recording order."""
        with _bag_errors(f"{self.path}: unreadable bag"):
            yield from self.reader.messages(connections)

    def frames(self, every: int = 1) -> Iterator[BagImage]:
        """Every `every`-th image of the topic, decoded (the others are skipped undecoded)."""
        for index, (conn, _, raw) in enumerate(self.messages(self.connections)):
            if index % every == 0:
                with _bag_errors(f"{self.uri}: message {index} is unreadable"):
                    msg = _typestore().deserialize_cdr(raw, conn.msgtype)
                yield BagImage(index, image_of(msg, conn.msgtype, f"{self.uri} message {index}"))

    def first(self, frames: Iterator[BagImage]) -> BagImage:
        """The first of `frames`, decoded now: a bad encoding shows before a run or training starts."""
        frame = next(frames, None)
        if frame is None:
            raise RainloopError(f"{self.uri}: the bag lists images on {self.topic} but holds none")
        return frame

    def close(self) -> None:
        if self.reader.is_open:
            self.reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BagFrameName(str):
    """A bag frame's file name ("000012.png") that also says where the frame came from: the
    pipeline hands a sink each frame with its name and nothing else, and a bag sink needs
    the source bag to put the derained image back in its place."""

    def __new__(cls, bag: Path, topic: str, index: int):
        name = super().__new__(cls, f"{index:06d}.png")
        name.bag, name.topic, name.index = bag, topic, index
        return name


class BagSource(Source):
    """A bag's image topic as a source: a file, so every frame, in recording order."""

    live = False

    def __init__(self, spec: SourceSpec):
        self._topic = ImageTopic(spec.target, spec.options.get("topic"), spec.uri)
        self.fps = self._topic.fps
        self._frames = self._topic.frames()
        try:
            self._pending = self._topic.first(self._frames)
        except BaseException:
            self.close()
            raise

    def read(self) -> np.ndarray | None:
        if self._frames is None:
            return None
        frame, self._pending = self._pending or next(self._frames, None), None
        return None if frame is None else frame.image

    def frame_name(self, index: int) -> str:
        return BagFrameName(self._topic.path, self._topic.topic, index)

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self._topic.close()


def _sync_files(folder: Path) -> None:
    # Robots lose power: a renamed bag whose files were never flushed can come back empty.
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


class BagSink(Sink):
    """A new bag: the source bag's messages as they were plus the derained images (see the
    module docstring). The sink reads the source bag once more itself, and the k-th frame it
    gets takes the place of the topic's k-th image: a file source hands over every frame, in order."""

    def __init__(self, spec: SinkSpec):
        _need_rosbags(spec.uri)
        self.uri, self.dest = spec.uri, Path(spec.target)
        self.topic, self.replace = spec.options.get("topic"), spec.options.get("replace", False)
        self._input: ImageTopic | None = None
        self._writer = None
        self._tmp: Path | None = None
        self._done = False
        self.frames = 0

    def write(self, image, name=None):
        try:
            with _bag_errors(f"{self.dest}: cannot write the bag"):
                if self._input is None:
                    self._start(name)
                self._put(image, name)
        except BaseException:
            self._discard()
            raise

    def _start(self, origin) -> None:
        if not isinstance(origin, BagFrameName):
            raise RainloopError(f"{self.uri}: a bag sink needs a bag:// source, whose other topics it copies")
        self._input = ImageTopic(origin.bag, origin.topic, f"bag://{origin.bag}?topic={origin.topic}")
        derained = origin.topic if self.replace else self.topic or f"{origin.topic}/derained"
        if not self.replace and derained in self._input.reader.topics:
            raise RainloopError(f"{self.uri}: topic {derained} is in the source bag already "
                                "(name another with ?topic=, or replace=1)")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.", suffix=".tmp", dir=self.dest.parent))
        self._writer = Writer(self._tmp / self.dest.name, version=_VERSION, storage_plugin=self._input.storage)
        mode = self._input.reader.compression_mode
        if mode:
            self._writer.set_compression(CompressionMode[mode.upper()], CompressionFormat.ZSTD)
        self._writer.open()
        self._out = {c.id: self._connection(c, c.topic) for c in self._input.reader.connections}
        self._derained = {c.id: self._out[c.id] if self.replace else self._connection(c, derained)
                          for c in self._input.connections}
        self._messages = self._input.messages()

    def _connection(self, conn, topic: str):
        """An output connection like `conn` (type, definition, QoS) on `topic`."""
        msgdef = conn.msgdef.data if conn.msgdef.format != MessageDefinitionFormat.NONE else None
        digest = conn.digest or None
        if (msgdef is None or digest is None) and conn.msgtype not in _typestore().types:
            raise RainloopError(f"{self._input.path}: topic {conn.topic} ({conn.msgtype}) has no message "
                                "definition in the bag and is no standard ROS 2 type; it cannot be copied")
        return self._writer.add_connection(topic, conn.msgtype, msgdef=msgdef, rihs01=digest, typestore=_typestore(),
                                           serialization_format=conn.ext.serialization_format,
                                           offered_qos_profiles=conn.ext.offered_qos_profiles)

    def _put(self, image: np.ndarray, origin: BagFrameName) -> None:
        if origin.index != self.frames:
            raise RuntimeError(f"frame {origin.index} of {origin.bag} arrived as frame {self.frames}")
        for conn, stamp, raw in self._messages:
            if conn.id not in self._derained:
                self._writer.write(self._out[conn.id], stamp, raw)
                continue
            if not self.replace:
                self._writer.write(self._out[conn.id], stamp, raw)
            store = _typestore()
            msg = with_image(store.deserialize_cdr(raw, conn.msgtype), conn.msgtype, image)
            self._writer.write(self._derained[conn.id], stamp, store.serialize_cdr(msg, conn.msgtype))
            self.frames += 1
            return
        raise RuntimeError(f"{origin.bag}: more frames than images on {origin.topic}")

    def close(self):
        if self._done:
            return
        self._done = True
        try:
            if self._input is None:
                raise RainloopError(f"{self.dest}: no frames came; no bag written")
            self._finish()
        finally:
            self._discard()

    def _finish(self) -> None:
        with _bag_errors(f"{self.dest}: cannot write the bag"):
            for conn, stamp, raw in self._messages:
                if conn.id in self._derained:
                    raise RainloopError(f"{self.dest}: the run ended after {self.frames} of {self._input.count} "
                                        f"images of {self._input.topic}; no bag written (it takes the whole recording)")
                self._writer.write(self._out[conn.id], stamp, raw)
            self._writer.close()
            self._writer = None
            _sync_files(self._tmp / self.dest.name)
            os.rename(self._tmp / self.dest.name, self.dest)

    def _discard(self) -> None:
        """Drop whatever is not renamed into place yet, and let go of the source bag."""
        self._done = True
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._input is not None:
            self._input.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class BagFrames:
    """Every `every`-th image of a bag:// URI's topic as Samples (clean None), read as
    iterated: what rainloop.data.open_unpaired gives for a bag."""

    def __init__(self, uri: str, every: int = 1):
        self.spec = parse_source(uri)
        self.every = every
        with self._open() as topic:
            self._count = topic.count
            topic.first(topic.frames())

    def _open(self) -> ImageTopic:
        return ImageTopic(self.spec.target, self.spec.options.get("topic"), self.spec.uri)

    def frame_count(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Sample]:
        with self._open() as topic:
            stem = f"{topic.path.name}{topic.topic}"
            for frame in topic.frames(self.every):
                yield Sample(frame.image, None, f"{stem}#{frame.index:06d}")
