"""Frame sizes as cameras state them: width x height (`1280x720`)."""

from __future__ import annotations

from rainloop.errors import RainloopError

# 8K DCI. A larger side is a typo (1280x72000) that would otherwise end in an
# out-of-memory kill rather than an error.
MAX_SIDE = 8192


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360) as (width, height)."""
    parts = text.lower().split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise RainloopError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 640x360") from None
    if w <= 0 or h <= 0:
        raise RainloopError(f"size {text!r}: width and height must be positive")
    if max(w, h) > MAX_SIDE:
        raise RainloopError(f"size {text!r}: sides above {MAX_SIDE} px are not supported")
    return w, h


def static_size(shape, channels_last: bool) -> tuple[int, int] | None:
    """(w, h) of a 4-d model input (NCHW, or NHWC if channels_last) whose height and width
    are fixed numbers; None where either is dynamic (a name, None or 0)."""
    h, w = shape[1:3] if channels_last else shape[2:4]
    return (w, h) if isinstance(h, int) and isinstance(w, int) and h and w else None


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'640x360,1280x720' -> [(640, 360), (1280, 720)]."""
    return [parse_size(s) for s in text.split(",") if s.strip()]
