"""The threaded pipeline: real files, real threads, fake-rate live sources."""

import _thread
import signal
import threading
import time

import numpy as np
import pytest

from rainloop.runtime import Derainer, Pipeline, open_sink, open_source
from rainloop.runtime.sinks import Sink
from rainloop.runtime.sources import Source


class Collector(Sink):
    """Keeps what it is given (the test's eyes at the end of the pipeline)."""

    def __init__(self):
        self.frames, self.closed = [], False

    def write(self, image, name=None):
        self.frames.append(image)

    def close(self):
        self.closed = True


class PacedCamera(Source):
    """A live source producing indexed frames at a fixed rate, forever (or until lost)."""

    live = True

    def __init__(self, kit, fps: float, lose_at: int | None = None, failed_reopens: int = 0):
        self.kit, self.period = kit, 1.0 / fps
        self.produced = 0
        self.lose_at, self.failed_reopens = lose_at, failed_reopens
        self.lost = False
        self.reopen_times = []
        self._due = time.perf_counter()

    def read(self):
        self._due = max(self._due + self.period, time.perf_counter())
        time.sleep(max(0.0, self._due - time.perf_counter()))
        if self.lost or self.produced == self.lose_at:
            self.lost, self.lose_at = True, None
            return None
        frame = self.kit.indexed_frame(self.produced % 256)
        self.produced += 1
        return frame

    def reopen(self):
        self.reopen_times.append(time.perf_counter())
        if len(self.reopen_times) <= self.failed_reopens:
            return False
        self.lost = False
        return True


def test_file_to_file_keeps_every_frame_in_order(toy_onnx, indexed_video, kit, tmp_path):
    toy = toy_onnx()
    out = tmp_path / "out.avi"
    stats = Pipeline(open_source(indexed_video(n=20)), Derainer(toy.path), open_sink(str(out))).run()
    frames = kit.read_video(out)
    assert stats.read == stats.written == len(frames) == 20 and stats.dropped == 0
    assert [kit.frame_index(f) for f in frames] == list(range(20))
    assert {f.shape for f in frames} == {(48, 64, 3)}
    body = toy.expected(kit.indexed_frame(0))[16:]
    assert all(np.abs(f[16:].astype(int) - body).max() <= 4 for f in frames)  # derained, not copied


def test_side_by_side_doubles_the_width(toy_onnx, indexed_video, kit):
    toy = toy_onnx(io="uint8")
    sink = Collector()
    Pipeline(open_source(indexed_video(n=6)), Derainer(toy.path), sink, side_by_side=True).run()
    assert sink.closed and [f.shape for f in sink.frames] == [(48, 128, 3)] * 6
    assert [kit.frame_index(f[:, :64]) for f in sink.frames] == list(range(6))
    assert [kit.frame_index(f[:, 64:]) for f in sink.frames] == list(range(6))
    rainy, clean = sink.frames[0][:, :64], sink.frames[0][:, 64:]
    assert np.abs(rainy.astype(int) - kit.indexed_frame(0)).max() <= 3
    assert np.abs(clean.astype(int) - toy.expected(kit.indexed_frame(0))).max() <= 3


def test_fps_overlay_draws_on_the_output():
    frames = [np.full((120, 160, 3), 128, np.uint8)] * 3

    class Replay(Source):
        def read(self):
            return frames.pop() if frames else None

    sink = Collector()
    Pipeline(Replay(), lambda f: f.copy(), sink, fps_overlay=True).run()
    text_rows = sink.frames[0][:20, :80]
    assert (text_rows == 255).all(axis=2).any() and (text_rows < 100).all(axis=2).any()  # white on a dark outline
    assert (sink.frames[0][60:] == 128).all()


def test_files_never_drop_frames_behind_a_slow_derainer(indexed_video):
    def slow(frame):
        time.sleep(0.01)
        return frame

    stats = Pipeline(open_source(indexed_video(n=15)), slow, Collector(), queue_size=3).run()
    assert stats.written == 15 and stats.dropped == 0 and stats.queue_peak <= 3


def test_live_source_derains_the_latest_frame(kit):
    camera = PacedCamera(kit, fps=200)
    staleness = []

    def slow(frame):
        staleness.append(camera.produced - 1 - kit.frame_index(frame))
        time.sleep(0.03)
        return frame

    sink = Collector()
    stats = Pipeline(camera, slow, sink, max_frames=60).run()
    indices = [kit.frame_index(f) for f in sink.frames]
    assert indices == sorted(set(indices))  # order kept, no repeats
    assert stats.dropped > 0 and stats.read == 60 == stats.written + stats.dropped
    assert stats.written < 40
    assert stats.queue_peak == 1
    # A queue would fall further behind on every frame; the slot keeps the derainer on the newest.
    assert max(staleness) <= 2, staleness


def test_lost_camera_is_retried_with_backoff_and_reported(kit):
    camera = PacedCamera(kit, fps=200, lose_at=3, failed_reopens=2)
    events, sink = [], Collector()
    stats = Pipeline(camera, lambda f: f, sink, max_frames=8, backoff=(0.02, 1.0), on_event=events.append).run()
    indices = [kit.frame_index(f) for f in sink.frames]
    assert indices == sorted(set(indices)) and indices[-1] == 7  # frames flow again after the loss
    assert stats.read == 8 == stats.written + stats.dropped
    assert stats.reconnects == 1 and len(camera.reopen_times) == 3
    gaps = np.diff(camera.reopen_times)
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04  # each wait doubles
    assert events[0] == "source lost; reconnecting"
    assert [e for e in events if "failed" in e] == ["reconnect attempt 1 failed; next in 0.02 s",
                                                    "reconnect attempt 2 failed; next in 0.04 s"]
    assert events[-1] == "source back after 3 attempt(s)"


def _finalised_frames(kit, path, stats):
    frames = kit.read_video(path)
    assert len(frames) == stats.written > 0
    indices = [kit.frame_index(f) for f in frames]
    assert indices == sorted(indices)
    return frames


def test_stop_finalises_the_output(kit, tmp_path):
    out = tmp_path / "live.avi"
    pipeline = Pipeline(PacedCamera(kit, fps=100), lambda f: f, open_sink(str(out)))
    threading.Timer(0.3, pipeline.stop).start()
    stats = pipeline.run()
    assert not stats.interrupted
    _finalised_frames(kit, out, stats)


def test_ctrl_c_shuts_down_cleanly(kit, tmp_path):
    # A shell's background job inherits SIGINT ignored, and then interrupt_main()
    # does nothing: install Python's own handler, as an interactive run has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    out = tmp_path / "live.mp4"
    pipeline = Pipeline(PacedCamera(kit, fps=100), lambda f: f, open_sink(str(out)))
    threading.Timer(0.3, _thread.interrupt_main).start()
    safety = threading.Timer(20.0, pipeline.stop)  # fail, never hang, if the interrupt is lost
    safety.start()
    try:
        stats = pipeline.run()
    finally:
        safety.cancel()
        signal.signal(signal.SIGINT, previous)
    assert stats.interrupted and "stopped by Ctrl-C" in stats.summary()
    _finalised_frames(kit, out, stats)


def test_a_failing_stage_raises_in_the_caller_and_closes_the_sink(indexed_video):
    def broken(frame):
        raise ArithmeticError("derainer bug")

    sink = Collector()
    with pytest.raises(ArithmeticError, match="derainer bug"):
        Pipeline(open_source(indexed_video(n=5)), broken, sink).run()
    assert sink.closed and sink.frames == []


def test_status_callback_sees_live_numbers(indexed_video):
    lines = []

    def slow(frame):
        time.sleep(0.02)
        return frame

    stats = Pipeline(open_source(indexed_video(n=12)), slow, Collector()).run(
        on_status=lambda s: lines.append(s.status_line()), status_every=0.05)
    assert lines and "FPS" in lines[-1] and "infer" in lines[-1]
    assert stats.stages["infer"].mean_ms >= 20 and stats.fps > 0
