"""Benchmark derainers: latency and FPS per model x backend x size, optional PSNR, and the
end-to-end pipeline FPS on a rendered rainy video (so the cost of decode, encode and
threads against the bare model is visible)."""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from rainloop import __version__, models
from rainloop.atomic import write_json
from rainloop.errors import RainloopError
from rainloop.video import write_video
from rainloop.runtime.backends import Derainer, resolve_providers
from rainloop.runtime.pipeline import Pipeline
from rainloop.runtime.sinks import NullSink
from rainloop.runtime.sources import open_source

# Rendering physics rain is slow on small CPUs; a short clip is looped to the frame count.
_DISTINCT_FRAMES = 30
_COLUMNS = [("model", "model", "s"), ("backend", "backend", "s"), ("precision", "precision", "s"),
            ("size", "size", "s"), ("mean ms", "mean_ms", ".2f"), ("p50 ms", "p50_ms", ".2f"),
            ("p99 ms", "p99_ms", ".2f"), ("FPS", "fps", ".1f"), ("PSNR", "psnr", ".2f"),
            ("pipeline FPS", "pipeline_fps", ".1f"), ("overhead %", "overhead_pct", ".1f")]


def time_derainer(derainer: Derainer, size: tuple[int, int], warmup: int, iters: int,
                  rng: np.random.Generator) -> dict:
    """Latency of derainer(frame) on one frame of `size`, after `warmup` untimed calls."""
    frame = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    for _ in range(warmup):
        derainer(frame)
    times = np.empty(max(1, iters))
    for i in range(len(times)):
        t0 = time.perf_counter()
        derainer(frame)
        times[i] = time.perf_counter() - t0
    ms = times * 1000.0
    mean = float(ms.mean())
    return {"mean_ms": mean, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "fps": 1000.0 / mean if mean > 0 else 0.0}


def render_video(path: Path, size: tuple[int, int], n_frames: int, rng: np.random.Generator) -> Path:
    """A rainy clip of a built-in photo: physics rain, written with OpenCV (mp4v)."""
    from rainloop.builtin import random_crop
    from rainloop.rain import render_sequence

    clip = list(render_sequence(random_crop(rng, size), min(n_frames, _DISTINCT_FRAMES), rng,
                                style="physics", intensity=0.5))
    write_video(path, (clip[i % len(clip)] for i in range(n_frames)), 30.0)
    return path


def pipeline_fps(derainer: Derainer, video: Path) -> float:
    """Frames per second of video file -> derainer -> nothing, through the threaded Pipeline."""
    return Pipeline(open_source(video), derainer, NullSink()).run().fps


def psnr_on(data: str | Path, derainer: Derainer) -> float:
    from rainloop.data import open_pairs
    from rainloop.evaluate import evaluate

    return float(evaluate(open_pairs(data), derainer)["psnr"])


def backend_variants(model: str | Path, providers: str | Sequence[str] | None) -> list[list[str] | None]:
    """One entry per backend to bench: each ONNX Runtime provider on its own for an ONNX
    (CPU and CUDA are different backends), the file's own backend otherwise."""
    if models.resolve(model).suffix.lower() != ".onnx":
        return [None]
    return [[p] for p in resolve_providers(providers)]


def bench(model_paths: Sequence[str | Path], sizes: Sequence[tuple[int, int]], *, warmup: int = 10,
          iters: int = 100, data: str | Path | None = None, providers: str | Sequence[str] | None = None,
          pipeline: bool = True, seed: int = 0, log: Callable[[str], None] | None = None) -> list[dict]:
    """One row per model x backend x size (see _COLUMNS); `log` gets each row's line as it is done."""
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rainloop-bench-") as tmp:
        videos: dict[tuple[int, int], Path] = {}
        for model in model_paths:
            for variant in backend_variants(model, providers):
                with Derainer(model, providers=variant) as derainer:
                    for size in sizes:
                        static = derainer.static_size
                        if static and tuple(size) != static:
                            raise RainloopError(f"{derainer.model_path}: a static {static[0]}x{static[1]} graph; "
                                                f"bench it at --sizes {static[0]}x{static[1]}")
                        derainer.size = tuple(size)
                        row = {"model": _model_name(derainer.model_path), "backend": derainer.backend,
                               "precision": derainer.precision, "size": f"{size[0]}x{size[1]}",
                               **time_derainer(derainer, size, warmup, iters, rng)}
                        if data is not None:
                            row["psnr"] = psnr_on(data, derainer)
                        if pipeline:
                            if size not in videos:
                                videos[size] = render_video(Path(tmp) / f"{size[0]}x{size[1]}.mp4", size, iters, rng)
                            row["pipeline_fps"] = pipeline_fps(derainer, videos[size])
                            row["overhead_pct"] = 100.0 * (1.0 - row["pipeline_fps"] / row["fps"])
                        rows.append(row)
                        if log is not None:
                            log(format_table([row], header=not rows[:-1]))
    return rows


def _model_name(path: Path) -> str:
    return path.name if path.is_file() else f"{path.name}/"


def _columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [c for c in _COLUMNS if any(c[1] in r for r in rows)]


def format_table(rows: list[dict], header: bool = True) -> str:
    """Rows as an aligned text table (fixed widths, so rows printed one by one line up)."""
    columns = _columns(rows)
    widths = [max(len(title), 16 if key == "backend" else 8) for title, key, _ in columns]
    widths[0] = max(widths[0], 20)
    lines = ["  ".join(t.ljust(w) for (t, _, _), w in zip(columns, widths))] if header else []
    for row in rows:
        cells = [format(row[key], fmt) if key in row else "-" for _, key, fmt in columns]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)


def write_report(path: str | Path, rows: list[dict], settings: dict) -> None:
    """The rows plus what they were measured on, as JSON (written atomically)."""
    import onnxruntime as ort

    system = {"machine": platform.machine(), "platform": platform.platform(), "python": platform.python_version(),
              "onnxruntime": ort.__version__, "opencv": cv2.__version__,
              "providers_available": ort.get_available_providers()}
    write_json(path, {"rainloop_version": __version__, "system": system, "settings": settings, "rows": rows})
