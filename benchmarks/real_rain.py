"""Does a derainer remove real rain? Several models side by side on real rain and two classic test sets.

    python benchmarks/real_rain.py LABEL=MODEL [LABEL=MODEL ...] [--data DIR] [--out DIR] [--json FILE] [--quick]
    python benchmarks/real_rain.py split OUT_DIR [--data DIR]

MODEL is anything rainloop.runtime.Derainer opens (default, .onnx, .safetensors, a run folder) or
`none` (the identity). The data (--data, default ../shared/data beside the repository) is read
where it lies: its licences do not allow copying it into the repository. Columns: the input
(the identity) and each model. Rows:

  yard      real rain on a nearly still phone camera (real-rain/video/yard.mp4). Reference: the
            per-pixel temporal median of the input frames in a 2-second window centred on the
            frame (2 * round(fps) + 1 frames: 61 at 29.7 fps); scored: every 8th frame whose whole
            window lies inside the clip (frames 30, 38, ... 342: 40 frames). PSNR/SSIM (RGB) of
            the frame against its reference, and the gain over the input.
  photos    the held-out real photos (see split), downscaled to --max-side first, and
  ra1       the held-out frames of real-rain/video/ra1 (moving camera); no ground truth, so per
            image: the tone shift (metrics.tone_shift: mean |21-pixel median of output - of input|
            in grey levels, where thin streaks vanish; "<= 4" is the share within 4 levels) and
            the thin bright detail removed (1 - metrics.bright_detail(output) / of input, in %).
            A model that only darkens shows a large tone shift and little detail removed. Contact
            sheets (rainy | each model) go to --out.
  Rain100H  rain100h/ (100 synthetic heavy-streak pairs) and
  SIRR-val  sirr-val/ (20 synthetic pairs): mean PSNR/SSIM on Y (BT.601, as papers) and on RGB.
  dry       the held-out dry set of benchmarks/quality.py (100 rain-free 320x240 crops of the
            built-in test photos, its seed): share of frames at >= 38 dB against themselves, worst.

--quick scores every 32nd yard frame (10), 5 photos, 5 ra1 frames, 20 Rain100H, 5 SIRR-val
and 20 dry pairs: a smoke run.

The split (one definition, `real_split`, for both subcommands): the photos of
real-rain/photos sorted by name, every third (index % 3 == 2) held out; ra1's frames sorted by
name, the last third held out; yard.mp4 entirely held out. `split OUT_DIR` copies the training
part into OUT_DIR/photos and OUT_DIR/ra1 (a folder `rainloop train --real OUT_DIR` reads), with
split.json listing both parts.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from quality import SEED as DRY_SEED, SETS as QUALITY_SETS
from rainloop import builtin
from rainloop.atomic import write_json
from rainloop.data import Sample, VideoFrames, list_images, open_pairs
from rainloop.errors import RainloopError
from rainloop.evaluate import evaluate, identity
from rainloop.frames import resize_to
from rainloop.images import read_image, write_image
from rainloop.metrics import bright_detail, psnr, ssim, temporal_median, tone_shift
from rainloop.runtime import Derainer
from rainloop.synth import synth_pairs

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = Path("/tmp/rainloop-real-rain")
INPUT = "input"

WINDOW_S = 2.0
TONE_OK = 4.0  # grey levels: the bar for "the tone did not move"
DRY_SIZE = (320, 240)  # benchmarks/quality.py's default size
SHEET_ROW_H = 320  # high enough that thin streaks survive the downscale

# How much of each set a run scores: (full, --quick).
YARD_STRIDE = (8, 32)
N_PHOTOS = (None, 5)  # None: all held-out ones
N_RA1 = (None, 5)
N_RAIN100H = (100, 20)
N_SIRR = (20, 5)
N_DRY = (100, 20)


@dataclass(frozen=True)
class Split:
    train_photos: list[Path]
    held_photos: list[Path]
    train_ra1: list[Path]
    held_ra1: list[Path]
    yard: Path


def real_split(data: Path) -> Split:
    """The fixed split of the real rain: training may see the train_* files, benchmarks report on the rest."""
    photos = _images_in(data / "real-rain" / "photos")
    ra1 = _images_in(data / "real-rain" / "video" / "ra1")
    ra1_train = len(ra1) - len(ra1) // 3
    return Split(train_photos=[p for i, p in enumerate(photos) if i % 3 != 2],
                 held_photos=[p for i, p in enumerate(photos) if i % 3 == 2],
                 train_ra1=ra1[:ra1_train], held_ra1=ra1[ra1_train:],
                 yard=data / "real-rain" / "video" / "yard.mp4")


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise RainloopError(f"{folder}: no such folder")
    files = list_images(folder)
    if not files:
        raise RainloopError(f"{folder}: no images")
    return files


def _data_root(path: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise RainloopError(f"--data {root}: no such folder (it holds real-rain/, rain100h/ and sirr-val/)")
    return root


def _outside_repo(path: Path, flag: str) -> Path:
    # The real photos' terms forbid redistribution: nothing made from them may land in the repository.
    if path.resolve().is_relative_to(REPO):
        raise RainloopError(f"{flag} {path}: inside the repository; real rain data must stay outside it")
    return path


# ---- split subcommand ----

def write_split(out: Path, data: Path) -> Split:
    """Copy the split's training part into `out` (a new or empty folder), all or nothing."""
    split = real_split(data)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RainloopError(f"{out}: exists and is not an empty folder; remove it or pick another")
    for path in split.train_photos + split.train_ra1:
        read_image(path)  # an unreadable file stops it here, before anything is written
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        # Copies, not links: the folder stays whole when carried to a training machine.
        for sub, files in (("photos", split.train_photos), ("ra1", split.train_ra1)):
            (tmp / sub).mkdir()
            for path in files:
                shutil.copyfile(path, tmp / sub / path.name)
        write_json(tmp / "split.json", _split_doc(split, data))
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)  # replaces an empty folder too
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return split


def _split_doc(split: Split, data: Path) -> dict:
    names = lambda paths: [p.name for p in paths]  # noqa: E731
    return {"data": str(data.resolve()),
            "rule": "real-rain/photos sorted by name: index % 3 == 2 held out; real-rain/video/ra1 sorted "
                    "by name: last third held out; real-rain/video/yard.mp4 held out",
            "train": {"photos": names(split.train_photos), "ra1": names(split.train_ra1)},
            "held_out": {"photos": names(split.held_photos), "ra1": names(split.held_ra1),
                         "video": [split.yard.name]}}


# ---- the benchmark's inputs, all read before any model runs ----

def yard_cases(path: Path, stride: int) -> tuple[list[dict], dict]:
    """Sampled frames of a still clip, each with the temporal median of its window."""
    if not path.is_file():
        raise RainloopError(f"{path}: no such video")
    frames = [s.rainy for s in VideoFrames(path)]
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0  # a container that does not say: a phone's usual rate
    cap.release()
    half = round(fps * WINDOW_S / 2)
    window = 2 * half + 1
    if len(frames) < window:
        raise RainloopError(f"{path}: {len(frames)} frames, too short for its {window}-frame window "
                            f"({WINDOW_S:g} s at {fps:.1f} fps)")
    centres = range(half, len(frames) - half, stride)
    cases = [{"frame": c, "rainy": frames[c], "reference": temporal_median(frames[c - half:c + half + 1])}
             for c in centres]
    return cases, {"frames": len(frames), "fps": fps, "window_frames": window, "stride": stride,
                   "scored_frames": list(centres)}


def _fit(img: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(img.shape[:2])
    if scale >= 1:
        return img
    return resize_to(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))))


def _spread(items: list, n: int | None) -> list:
    """n items evenly spread over `items` (all of them for None)."""
    if n is None or n >= len(items):
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round()]


def photo_set(paths: list[Path], max_side: int) -> list[Sample]:
    return [Sample(_fit(read_image(p), max_side), None, p.name) for p in paths]


def dry_set(n: int) -> list[Sample]:
    """quality.py's held-out dry set: its style, level, seed and photos."""
    style, levels = QUALITY_SETS["dry"]
    crop = lambda rng, sz: builtin.random_crop(rng, sz, split="test")  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="rainloop-dry-") as tmp:
        synth_pairs(tmp, n, crop, DRY_SIZE, DRY_SEED, style, levels[0])
        return list(open_pairs(tmp))


def load_inputs(data: Path, quick: bool, max_side: int) -> tuple[dict, dict]:
    q = int(quick)
    split = real_split(data)
    for path in split.train_photos + split.train_ra1:
        read_image(path)  # the whole folder must read, not only the part scored here
    yard, yard_settings = yard_cases(split.yard, YARD_STRIDE[q])
    inputs = {
        "yard": yard,
        "photos": photo_set(_spread(split.held_photos, N_PHOTOS[q]), max_side),
        "ra1": photo_set(_spread(split.held_ra1, N_RA1[q]), max_side),
        "Rain100H": list(open_pairs(data / "rain100h"))[:N_RAIN100H[q]],
        "SIRR-val": list(open_pairs(data / "sirr-val"))[:N_SIRR[q]],
        "dry": dry_set(N_DRY[q]),
    }
    settings = {"data": str(data.resolve()), "quick": quick, "max_side": max_side,
                "yard": {**yard_settings, "window_s": WINDOW_S, "reference": "per-pixel temporal median of the "
                         "input frames in the window centred on the frame", "metric": "RGB"},
                "split": _split_doc(split, data),
                "photos": [s.name for s in inputs["photos"]], "ra1": [s.name for s in inputs["ra1"]],
                "tone_ok_levels": TONE_OK,
                "dry": {"set": "benchmarks/quality.py dry", "n": len(inputs["dry"]), "size": list(DRY_SIZE),
                        "seed": DRY_SEED}}
    return inputs, settings


# ---- scoring one derainer ----

def score_yard(derain, cases: list[dict]) -> tuple[dict, list]:
    rows = []
    for case in cases:
        out = derain(case["rainy"])
        rows.append({"frame": case["frame"], "psnr": psnr(out, case["reference"]), "ssim": ssim(out, case["reference"]),
                     "input_psnr": psnr(case["rainy"], case["reference"])})
    mean = lambda key: float(np.mean([r[key] for r in rows]))  # noqa: E731
    return {"psnr": mean("psnr"), "ssim": mean("ssim"), "gain_db": mean("psnr") - mean("input_psnr")}, rows


def score_photos(derain, samples: list[Sample]) -> tuple[dict, list, list]:
    """Tone shift and thin bright detail removed, per image; and the derained images for the sheet."""
    rows, outs = [], []
    for s in samples:
        out = derain(s.rainy)
        detail_in, detail_out = bright_detail(s.rainy), bright_detail(out)
        rows.append({"name": s.name, "size": [s.rainy.shape[1], s.rainy.shape[0]],
                     "tone_shift": tone_shift(out, s.rainy), "detail_in": detail_in, "detail_out": detail_out,
                     "detail_removed_pct": 100.0 * (1.0 - detail_out / detail_in) if detail_in else 0.0})
        outs.append(_thumb(out))
    tones = [r["tone_shift"] for r in rows]
    return ({"tone_ok": float(np.mean([t <= TONE_OK for t in tones])), "tone_shift": float(np.mean(tones)),
             "detail_removed_pct": float(np.mean([r["detail_removed_pct"] for r in rows]))}, rows, outs)


def _once(derain):
    """`derain` run once per input array, so the Y and RGB scores of a pair share one inference.
    Keyed by id(): the caller's list keeps every input alive while this is in use."""
    seen = {}

    def run(img):
        if id(img) not in seen:
            seen[id(img)] = derain(img)
        return seen[id(img)]

    return run


def score_pairs(derain, pairs: list[Sample]) -> tuple[dict, list]:
    derain = _once(derain)
    res = {"Y": evaluate(pairs, derain, y=True), "RGB": evaluate(pairs, derain)}
    summary = {f"{key}_{space}": r[key] for space, r in res.items() for key in ("psnr", "ssim")}
    summary["gain_y_db"] = res["Y"]["gain_db"]
    per_image = [{"name": y["name"], "psnr_y": y["psnr"], "ssim_y": y["ssim"], "psnr": c["psnr"], "ssim": c["ssim"]}
                 for y, c in zip(res["Y"]["per_image"], res["RGB"]["per_image"])]
    return summary, per_image


def score_dry(derain, pairs: list[Sample]) -> tuple[dict, list]:
    r = evaluate(pairs, derain)
    return ({"share_38": r["share_38"], "worst": r["worst"]["psnr"]},
            [{"name": p["name"], "psnr": p["psnr"]} for p in r["per_image"]])


def score(derain, inputs: dict) -> tuple[dict, dict, dict]:
    """One derainer on every set: ({set: summary}, {set: per-image rows}, {set: sheet thumbnails})."""
    summary, per_image, thumbs = {}, {}, {}
    summary["yard"], per_image["yard"] = score_yard(derain, inputs["yard"])
    for name in ("photos", "ra1"):
        summary[name], per_image[name], thumbs[name] = score_photos(derain, inputs[name])
    for name in ("Rain100H", "SIRR-val"):
        summary[name], per_image[name] = score_pairs(derain, inputs[name])
    summary["dry"], per_image["dry"] = score_dry(derain, inputs["dry"])
    return summary, per_image, thumbs


# ---- output ----

def _thumb(img: np.ndarray) -> np.ndarray:
    return resize_to(img, (max(1, round(img.shape[1] * SHEET_ROW_H / img.shape[0])), SHEET_ROW_H))


def contact_sheet(columns: dict[str, list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """One row per image (in the JSON's order), one column per model, a header naming the columns.
    Every cell is as wide as the widest thumbnail, so the columns line up."""
    cell = max(im.shape[1] for ims in columns.values() for im in ims) + gap
    n = len(next(iter(columns.values())))
    sheet = np.zeros((28 + n * (SHEET_ROW_H + gap), cell * len(columns), 3), np.uint8)
    for j, (label, ims) in enumerate(columns.items()):
        cv2.putText(sheet, label, (j * cell + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        for i, im in enumerate(ims):
            y = 28 + i * (SHEET_ROW_H + gap)
            sheet[y:y + SHEET_ROW_H, j * cell:j * cell + im.shape[1]] = im
    return sheet


# (label, set, key, format); gains print signed, shares as percentages.
ROWS = [
    ("yard PSNR vs median", "yard", "psnr", "{:.2f}"),
    ("yard SSIM vs median", "yard", "ssim", "{:.4f}"),
    ("yard gain dB", "yard", "gain_db", "{:+.2f}"),
    *[(f"{s} {label}", s, key, fmt) for s in ("photos", "ra1") for label, key, fmt in (
        (f"tone shift <= {TONE_OK:g}", "tone_ok", "{:.0%}"), ("tone shift (levels)", "tone_shift", "{:.2f}"),
        ("detail removed %", "detail_removed_pct", "{:+.1f}"))],
    *[(f"{s} {label}", s, key, fmt) for s in ("Rain100H", "SIRR-val") for label, key, fmt in (
        ("PSNR Y", "psnr_Y", "{:.2f}"), ("SSIM Y", "ssim_Y", "{:.4f}"), ("gain Y dB", "gain_y_db", "{:+.2f}"),
        ("PSNR RGB", "psnr_RGB", "{:.2f}"), ("SSIM RGB", "ssim_RGB", "{:.4f}"))],
    ("dry >= 38 dB", "dry", "share_38", "{:.0%}"),
    ("dry worst dB", "dry", "worst", "{:.2f}"),
]


def table(results: dict[str, dict], inputs: dict) -> str:
    counts = {name: len(items) for name, items in inputs.items()}
    width = max(len(label) for label, *_ in ROWS) + 7
    lines = [f"{'':<{width}}" + "".join(f"{label:>12}" for label in results)]
    for label, name, key, fmt in ROWS:
        cells = "".join(f"{fmt.format(res['summary'][name][key]):>12}" for res in results.values())
        lines.append(f"{label + f' ({counts[name]})':<{width}}{cells}")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{os.cpu_count()}-core {cpu}, {platform.system()} {platform.release()} {platform.machine()}, " \
           f"Python {platform.python_version()}"


def parse_models(specs: list[str]) -> dict[str, str]:
    models = {}
    for spec in specs:
        label, sep, model = spec.partition("=")
        if not sep:
            label = model = spec
        if not label or not model:
            raise RainloopError(f"{spec}: expected LABEL=MODEL")
        if label in models or label == INPUT:
            raise RainloopError(f"{spec}: label {label!r} is taken")
        models[label] = model
    return models


def open_derainers(models: dict[str, str]) -> dict[str, object]:
    derainers = {}
    try:
        for label, model in models.items():
            derainers[label] = identity if model == "none" else Derainer(model)
    except RainloopError:
        close_all(derainers)
        raise
    return derainers


def close_all(derainers: dict) -> None:
    for d in derainers.values():
        if isinstance(d, Derainer):
            d.close()


def run_benchmark(args) -> int:
    data = _data_root(args.data)
    out = _outside_repo(Path(args.out), "--out")
    json_path = Path(args.json) if args.json else out / "real_rain.json"
    if args.max_side < 16:
        raise RainloopError(f"--max-side {args.max_side}: must be at least 16")
    models = parse_models(args.models)
    derainers = open_derainers(models)  # a model that cannot load fails before minutes of work
    try:
        start = time.perf_counter()
        inputs, settings = load_inputs(data, args.quick, args.max_side)
        settings["load_seconds"] = round(time.perf_counter() - start, 1)
        results = {}
        for label, derain in {INPUT: identity, **derainers}.items():
            t = time.perf_counter()
            summary, per_image, thumbs = score(derain, inputs)
            results[label] = {"model": models.get(label, "none"), "summary": summary, "per_image": per_image,
                              "thumbs": thumbs, "seconds": round(time.perf_counter() - t, 1),
                              **({"backend": derain.backend, "precision": derain.precision}
                                 if isinstance(derain, Derainer) else {})}
            print(f"{label}: scored in {results[label]['seconds']:.0f} s", file=sys.stderr)
    finally:
        close_all(derainers)
    print(table(results, inputs))
    sheets = [out / f"contact_{name}.jpg" for name in ("photos", "ra1")]
    for path, name in zip(sheets, ("photos", "ra1")):
        write_image(path, contact_sheet({label: res["thumbs"][name] for label, res in results.items()}))
    for res in results.values():
        del res["thumbs"]
    write_json(json_path, {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                           "machine": machine(), "settings": settings, "results": results})
    print(f"wrote {json_path}, {', '.join(map(str, sheets))}; total {time.perf_counter() - start:.0f} s")
    return 0


def run_split(args) -> int:
    out = _outside_repo(Path(args.out_dir), "split")
    split = write_split(out, _data_root(args.data))
    print(f"wrote {out}: {len(split.train_photos)} photos and {len(split.train_ra1)} ra1 frames for --real; "
          f"held out {len(split.held_photos)} photos, {len(split.held_ra1)} ra1 frames and {split.yard.name}")
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["split"]:
        p = argparse.ArgumentParser(prog="real_rain.py split", description="write the training part of the "
                                    "real-rain split (see real_rain.py --help) for rainloop train --real")
        p.add_argument("out_dir", help="new or empty folder, outside the repository")
        p.add_argument("--data", default=str(DEFAULT_DATA), help="the rain data folder (default: %(default)s)")
        return p.parse_args(argv[1:], namespace=argparse.Namespace(run=run_split))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="LABEL=MODEL", help="a model (or none) and its column's label")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the rain data folder (default: %(default)s)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="contact sheets and JSON go here, outside the "
                   "repository (default: %(default)s)")
    p.add_argument("--json", help="the results (default: OUT/real_rain.json)")
    p.add_argument("--max-side", type=int, default=1024, help="photos larger than this are downscaled first")
    p.add_argument("--quick", action="store_true", help="fewer frames and photos: a smoke run")
    return p.parse_args(argv, namespace=argparse.Namespace(run=run_benchmark))


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else list(argv))
    try:
        return args.run(args)
    except RainloopError as exc:
        print(f"real_rain.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
