"""`rainloop demo`: a new user's first minute.

Renders a short clip of moving physics rain over a held-out built-in photo,
derains it through the same runtime pipeline as `rainloop run` (ONNX Runtime,
no PyTorch), and writes a labelled side-by-side video and a contact sheet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rainloop import builtin, metrics, rain
from rainloop.errors import RainloopError
from rainloop.images import write_image
from rainloop.video import read_video, write_video
from rainloop.runtime import Derainer, Pipeline, open_sink, open_source
from rainloop.runtime.sinks import Sink

PHOTO = "coffee"  # a held-out (never trained on) colour photo: the demo shows unseen content
COLUMNS = ("rainy", "derained", "clean")


@dataclass
class DemoResult:
    frames: int
    input_psnr: float
    output_psnr: float
    fps: float
    model_fps: float
    video: Path
    sheet: Path

    @property
    def gain_db(self) -> float:
        return self.output_psnr - self.input_psnr


class _Collect(Sink):
    """Keeps derained frames in memory, so PSNR is measured before any re-encoding."""

    def __init__(self):
        self.frames: list[np.ndarray] = []

    def write(self, image, name=None):
        self.frames.append(image)


def _center_crop(img: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred window of width/height `aspect`, so resizing never distorts."""
    h, w = img.shape[:2]
    cw, ch = min(w, round(h * aspect)), min(h, round(w / aspect))
    x, y = (w - cw) // 2, (h - ch) // 2
    return img[y:y + ch, x:x + cw]


def render_clip(path: Path, size: tuple[int, int], frames: int, fps: float, seed: int,
                intensity: float) -> np.ndarray:
    """Write the rainy clip to `path`; return the clean frame it was rendered from."""
    index = builtin.photo_names("test").index(PHOTO)
    photo = builtin.clean_photos("test")[index]
    clean = cv2.resize(_center_crop(photo, size[0] / size[1]), size, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    write_video(path, rain.render_sequence(clean, frames, rng, style="physics", intensity=intensity), fps)
    return clean


def _label(frame: np.ndarray, title: str, psnr: float | None) -> np.ndarray:
    out = frame.copy()
    text = title if psnr is None else f"{title}  {psnr:.1f} dB"
    scale = max(0.5, frame.shape[1] / 640 * 0.7)
    org = (10, int(30 * scale))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def compose(rainy: np.ndarray, derained: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """One labelled row: rainy | derained | clean, PSNR against clean on the first two."""
    return np.hstack([_label(rainy, "rainy", metrics.psnr(rainy, clean)),
                      _label(derained, "derained", metrics.psnr(derained, clean)),
                      _label(clean, "clean", None)])


def write_outputs(out: Path, rainy: list[np.ndarray], derained: list[np.ndarray], clean: np.ndarray,
                  fps: float, sheet_rows: int = 3) -> tuple[Path, Path]:
    rows = [compose(r, d, clean) for r, d in zip(rainy, derained)]
    video = out / "demo_side_by_side.mp4"
    write_video(video, rows, fps)
    picks = np.linspace(0, len(rows) - 1, sheet_rows).round().astype(int)
    sheet = np.vstack([rows[i] for i in picks])
    # Half size keeps the committed README image small; labels stay legible.
    sheet = cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), interpolation=cv2.INTER_AREA)
    sheet_path = out / "demo_contact_sheet.png"
    write_image(sheet_path, sheet)
    return video, sheet_path


def run_demo(out: str | Path = "rainloop-demo", model: str = "default", *, size=(640, 360),
             frames: int = 48, fps: float = 12.0, seed: int = 2021, intensity: float = 0.55) -> DemoResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo_rainy.mp4"
    clean = render_clip(clip, size, frames, fps, seed, intensity)
    collect = _Collect()
    with Derainer(model) as derainer, open_source(str(clip)) as source:
        derainer(clean)  # warm-up: the first ORT call allocates, which would skew the FPS
        stats = Pipeline(source, derainer, collect).run()
        t0 = time.perf_counter()
        derainer(clean)
        model_fps = 1.0 / (time.perf_counter() - t0)
    # The pipeline saw the decoded clip; compare against the same decoded frames.
    rainy = read_video(clip)
    derained = collect.frames
    video, sheet = write_outputs(out, rainy, derained, clean, fps)
    return DemoResult(
        frames=len(derained),
        input_psnr=float(np.mean([metrics.psnr(r, clean) for r in rainy])),
        output_psnr=float(np.mean([metrics.psnr(d, clean) for d in derained])),
        fps=stats.fps, model_fps=model_fps, video=video, sheet=sheet)


def play(video: Path, fps: float = 12.0) -> bool:
    """Show the side-by-side video in a window; False where there is no display or GUI."""
    try:
        sink = open_sink("display://0")
    except RainloopError:  # no display / headless OpenCV: the files are the result
        return False

    def paced(frame):
        time.sleep(1.0 / fps)
        return frame

    with open_source(str(video)) as source:
        Pipeline(source, paced, sink).run()
    return True
