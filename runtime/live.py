"""`rainloop run` as a library call: URIs and a model in, a running pipeline with a status line out."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TextIO

from rainloop.errors import RainloopError
from rainloop.runtime.backends import Derainer
from rainloop.runtime.pipeline import Pipeline, PipelineStats
from rainloop.runtime.sinks import open_sink
from rainloop.runtime.sources import open_source
from rainloop.runtime.uri import parse_sink

# Where nobody watches a terminal (systemd, docker logs) a line every few seconds is enough.
_LOG_EVERY_S = 5.0


class StatusPrinter:
    """The live status line: redrawn in place on a terminal, a periodic line in a log."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = stream.isatty()
        self._last_log = time.monotonic()
        self._width = 0

    def status(self, stats: PipelineStats) -> None:
        line = stats.status_line()
        if self.tty:
            self._width = max(self._width, len(line))
            self.stream.write("\r" + line.ljust(self._width))
        elif time.monotonic() - self._last_log >= _LOG_EVERY_S:
            self._last_log = time.monotonic()
            self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """A line of its own, leaving the status line intact below it."""
        self.stream.write(("\r\033[K" if self.tty and self._width else "") + text + "\n")
        self.stream.flush()


def run_live(model: str = "default", source: str = "0", sink: str | None = None, *,
             size: tuple[int, int] | None = None, side_by_side: bool = False, headless: bool = False,
             max_frames: int | None = None, fps_overlay: bool = False, providers: str | None = None,
             stream: TextIO | None = None) -> PipelineStats:
    """Derain `source` into `sink` (default: a window, or nothing when headless) until the
    source ends, the window's `q`, `max_frames`, or Ctrl-C; prints status and a summary."""
    if max_frames is not None and max_frames < 1:
        raise RainloopError(f"--max-frames {max_frames}: must be at least 1")
    sink_spec = parse_sink(sink if sink is not None else ("none" if headless else "display://0"))
    if headless and sink_spec.kind == "display":
        raise RainloopError(f"--headless: sink {sink_spec.uri} would open a window")
    printer = StatusPrinter(stream or sys.stderr)
    with contextlib.ExitStack() as cleanup:
        # The model first: a wrong model path is the likelier mistake, and it is
        # better reported than a camera that did open.
        derainer = cleanup.enter_context(Derainer(model, size=size, providers=providers))
        src = cleanup.enter_context(open_source(source))
        out = open_sink(sink_spec, fps=src.fps)
        printer.line(f"{derainer.model_path.name}: {derainer.backend}, {derainer.precision}"
                     f"{'' if size is None else f', infer at {size[0]}x{size[1]}'}; "
                     f"{source} -> {sink_spec.uri}")
        pipeline = Pipeline(src, derainer, out, side_by_side=side_by_side, fps_overlay=fps_overlay,
                            max_frames=max_frames, on_event=printer.line)
        stats = pipeline.run(on_status=printer.status)
    printer.line(stats.summary())
    return stats
