"""The threaded run loop: decode -> infer -> encode, each stage in its own thread.

Stages hand frames over through small bounded channels. A file source feeds
a blocking queue (every frame is derained, in order); a live source feeds a
one-frame slot that it overwrites, so the derainer always takes the newest
frame and no backlog can grow. A live source that fails is reopened with
exponential backoff. Ctrl-C (or `stop()`) ends the run with the sink
finalised.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from rainloop.runtime.sinks import Sink
from rainloop.runtime.sources import Source

# The decode thread may sit in a driver call (a dead RTSP stream blocks for
# seconds); shutdown does not wait longer than this for it (threads are daemons).
_DECODE_JOIN_S = 2.0
_POLL_S = 0.1


@dataclass
class Packet:
    rainy: np.ndarray
    t_read: float
    name: str | None = None
    clean: np.ndarray | None = None


class StageStats:
    """Time per frame in one stage: totals for the summary, a recent window for the live line."""

    def __init__(self, window: int = 60):
        self.count = 0
        self.total_s = 0.0
        self.recent = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.recent.append(seconds)

    @property
    def mean_ms(self) -> float:
        return 1000.0 * self.total_s / self.count if self.count else 0.0

    @property
    def recent_ms(self) -> float:
        recent = list(self.recent)
        return 1000.0 * sum(recent) / len(recent) if recent else 0.0


@dataclass
class PipelineStats:
    stages: dict = field(default_factory=lambda: {k: StageStats() for k in ("decode", "infer", "encode", "latency")})
    read: int = 0
    written: int = 0
    dropped: int = 0
    reconnects: int = 0
    queue_peak: int = 0  # most frames ever waiting for the derainer
    interrupted: bool = False
    started: float = 0.0
    ended: float = 0.0
    events: deque = field(default_factory=lambda: deque(maxlen=100))
    _write_times: deque = field(default_factory=lambda: deque(maxlen=60))

    def mark_written(self, now: float) -> None:
        self.written += 1
        self._write_times.append(now)

    @property
    def elapsed_s(self) -> float:
        return (self.ended or time.perf_counter()) - self.started if self.started else 0.0

    @property
    def fps(self) -> float:
        """Frames written per second over the whole run."""
        return self.written / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def recent_fps(self) -> float:
        times = list(self._write_times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def status_line(self) -> str:
        s = self.stages
        return (f"{self.recent_fps:6.1f} FPS | decode {s['decode'].recent_ms:5.1f} ms | "
                f"infer {s['infer'].recent_ms:6.1f} ms | encode {s['encode'].recent_ms:5.1f} ms | "
                f"latency {s['latency'].recent_ms:6.1f} ms | frames {self.written} | dropped {self.dropped}")

    def summary(self) -> str:
        s = self.stages
        text = (f"{self.written} frames in {self.elapsed_s:.1f} s ({self.fps:.1f} FPS); per frame: "
                f"decode {s['decode'].mean_ms:.1f} ms, infer {s['infer'].mean_ms:.1f} ms, "
                f"encode {s['encode'].mean_ms:.1f} ms, end-to-end {s['latency'].mean_ms:.1f} ms; "
                f"dropped {self.dropped} stale, reconnects {self.reconnects}")
        return text + ("; stopped by Ctrl-C" if self.interrupted else "")


class Channel:
    """Hand-over between two stages: a bounded blocking queue, or (drop_stale) a
    one-frame slot where a new frame replaces the one nobody took yet."""

    def __init__(self, stop: threading.Event, capacity: int = 4, drop_stale: bool = False):
        self._stop = stop
        self._capacity = 1 if drop_stale else capacity
        self._drop_stale = drop_stale
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.peak = 0

    def put(self, item) -> bool:
        """Hand over `item`; False when the pipeline is stopping."""
        with self._cond:
            if self._drop_stale and self._items:
                self._items.popleft()
                self.dropped += 1
            while len(self._items) >= self._capacity and not self._stop.is_set():
                self._cond.wait(_POLL_S)
            if self._stop.is_set():
                return False
            self._items.append(item)
            self.peak = max(self.peak, len(self._items))
            self._cond.notify_all()
            return True

    def get(self):
        """The next item; None at the end of the stream or when stopping."""
        with self._cond:
            while not self._items and not self._closed and not self._stop.is_set():
                self._cond.wait(_POLL_S)
            if self._stop.is_set() or not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def draw_overlay(frame: np.ndarray, text: str) -> np.ndarray:
    """White text on a dark outline, readable on any footage, scaled to the frame."""
    scale = max(0.4, frame.shape[0] / 720)
    thick = max(1, round(2 * scale))
    org = (int(10 * scale), int(30 * scale))
    for color, width in (((0, 0, 0), thick + 2), ((255, 255, 255), thick)):
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, width, cv2.LINE_AA)
    return frame


class Pipeline:
    """source -> derain -> sink in three threads. `run()` owns both ends: it closes
    the source and finalises the sink before it returns.

    derain: any callable BGR frame -> BGR frame of the same size (a Derainer).
    backoff: (first, longest) wait in seconds between reopen attempts of a lost live source.
    on_event: called with one line per notable event (source lost, reconnected).
    """

    def __init__(self, source: Source, derain: Callable[[np.ndarray], np.ndarray], sink: Sink, *,
                 side_by_side: bool = False, fps_overlay: bool = False, max_frames: int | None = None,
                 queue_size: int = 4, backoff: tuple[float, float] = (0.5, 8.0),
                 on_event: Callable[[str], None] | None = None):
        self.source, self.derain, self.sink = source, derain, sink
        self.side_by_side, self.fps_overlay, self.max_frames = side_by_side, fps_overlay, max_frames
        self.backoff = backoff
        self.on_event = on_event
        self.stats = PipelineStats()
        self._stop = threading.Event()
        self._to_infer = Channel(self._stop, queue_size, drop_stale=source.live)
        # Live: one derained frame in waiting at most, so a slow sink adds no backlog latency.
        self._to_encode = Channel(self._stop, 1 if source.live else queue_size)
        self._error: BaseException | None = None

    def stop(self) -> None:
        """Ask the run to end (thread-safe); the sink is still finalised."""
        self._stop.set()

    # -- stages ----------------------------------------------------------

    def _decode(self) -> None:
        index = 0
        try:
            while not self._stop.is_set() and (self.max_frames is None or index < self.max_frames):
                t0 = time.perf_counter()
                image = self.source.read()
                if image is None:
                    if self.source.live and self._reconnect():
                        continue
                    break
                now = time.perf_counter()
                self.stats.stages["decode"].add(now - t0)
                if not self._to_infer.put(Packet(image, now, self.source.frame_name(index))):
                    break
                index += 1
                self.stats.read = index
                self.stats.dropped = self._to_infer.dropped
        finally:
            self._to_infer.close()
            self.source.close()

    def _reconnect(self) -> bool:
        """Reopen a lost live source, waiting longer after each failure; False only when stopping."""
        self.stats.reconnects += 1
        self._event("source lost; reconnecting")
        delay, longest = self.backoff
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            if self.source.reopen():
                self._event(f"source back after {attempt} attempt(s)")
                return True
            self._event(f"reconnect attempt {attempt} failed; next in {delay:.3g} s")
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, longest)
        return False

    def _infer(self) -> None:
        try:
            while (packet := self._to_infer.get()) is not None:
                t0 = time.perf_counter()
                packet.clean = self.derain(packet.rainy)
                self.stats.stages["infer"].add(time.perf_counter() - t0)
                if not self._to_encode.put(packet):
                    break
        finally:
            self._to_encode.close()

    def _encode(self) -> None:
        try:
            while (packet := self._to_encode.get()) is not None:
                t0 = time.perf_counter()
                self.sink.write(self._compose(packet), packet.name)
                now = time.perf_counter()
                self.stats.stages["encode"].add(now - t0)
                self.stats.stages["latency"].add(now - packet.t_read)
                self.stats.mark_written(now)
                if self.sink.stop_requested:
                    self._stop.set()
        finally:
            self.sink.close()

    def _compose(self, packet: Packet) -> np.ndarray:
        frame = np.hstack((packet.rainy, packet.clean)) if self.side_by_side else packet.clean
        if self.fps_overlay:
            text = f"{self.stats.recent_fps:.1f} FPS  infer {self.stats.stages['infer'].recent_ms:.1f} ms"
            frame = draw_overlay(frame, text)
        return frame

    # -- control ---------------------------------------------------------

    def _event(self, message: str) -> None:
        self.stats.events.append(message)
        if self.on_event is not None:
            self.on_event(message)

    def _guard(self, stage: Callable[[], None], done: threading.Event) -> None:
        try:
            stage()
        except BaseException as exc:  # re-raised by run() in the caller's thread
            if self._error is None:
                self._error = exc
            self._stop.set()
        finally:
            done.set()

    def run(self, on_status: Callable[[PipelineStats], None] | None = None, status_every: float = 0.5) -> PipelineStats:
        """Run to the end of the source, `stop()`, the sink's own stop, or Ctrl-C.
        Returns the stats; an exception in any stage is re-raised here."""
        stages = {"decode": self._decode, "infer": self._infer, "encode": self._encode}
        # Events, not join(): a join that Ctrl-C interrupts can mark a running thread as finished.
        done = {name: threading.Event() for name in stages}
        self.stats.started = time.perf_counter()
        for name, stage in stages.items():
            threading.Thread(target=self._guard, args=(stage, done[name]), name=f"rainloop-{name}", daemon=True).start()
        next_status = self.stats.started + status_every
        try:
            # Encode finishes last in every ending (end of stream, stop, error upstream).
            while not done["encode"].wait(_POLL_S):
                if on_status is not None and time.perf_counter() >= next_status:
                    on_status(self.stats)
                    next_status += status_every
        except KeyboardInterrupt:
            self.stats.interrupted = True
            self._stop.set()
        done["encode"].wait()
        done["infer"].wait()
        done["decode"].wait(_DECODE_JOIN_S)
        self.stats.ended = time.perf_counter()
        self.stats.dropped = self._to_infer.dropped
        self.stats.queue_peak = self._to_infer.peak
        if self._error is not None:
            raise self._error
        return self.stats
