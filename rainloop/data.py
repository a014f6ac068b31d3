"""Deraining data sets on disk: paired (rainy + clean) and unpaired (real rain, no ground truth).

Paired layouts, found by `detect_layout`:

| layout     | folders                                   | pairing                              |
|------------|-------------------------------------------|--------------------------------------|
| `rainloop` | `rainy/` + `clean/`                       | same file stem                       |
| `rain100`  | `rain/` + `norain/` (Rain100L/H)          | `rain-NNN.png` -> `norain-NNN.png`   |
| `rain1400` | `rainy_image/` + `ground_truth/` (Rain1400, Rain800) | `NNN_K.jpg` -> `NNN.jpg`  |
| `spa`      | `*rain.png` beside `*gt.png`, any depth (SPA-Data) | `X_rain.png` -> `X_gt.png`  |
| `jrgr`     | `Os/` `Bs/` `Ot/` [`Bt/`] (the JRGR code) | pairs Os/Bs (or Ot/Bt if no Os)      |

Images are read lazily, one sample at a time. A missing partner, an
unreadable image or a pair whose sizes differ raises RainloopError naming
the file. Training that would rather skip bad files uses `set.get(i,
skip_bad=True)` (None plus a warning) or iterates `set.iter_valid()`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from rainloop.errors import RainloopError
from rainloop.images import is_image_file, read_image

# What a folder of a camera's clips holds (OpenCV's FFmpeg reads them all).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts")

LAYOUTS = ("rainloop", "rain100", "rain1400", "spa", "jrgr")

# Folder pairs (rainy, clean) that identify a layout, in detection order.
_FOLDERS = {
    "jrgr": ("Os", "Bs"),
    "rainloop": ("rainy", "clean"),
    "rain100": ("rain", "norain"),
    "rain1400": ("rainy_image", "ground_truth"),
}
_EXPECTED = "rainy/+clean/, rain/+norain/, rainy_image/+ground_truth/, *rain.png+*gt.png or Os/+Bs/"


@dataclass
class Sample:
    rainy: np.ndarray
    clean: np.ndarray | None
    name: str


class _LazySet(Sequence):
    """A list of samples read from disk on access, with a skip-bad-files escape hatch."""

    def _load(self, i: int) -> Sample:
        raise NotImplementedError

    def __getitem__(self, i: int) -> Sample:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._load(i % len(self))

    def get(self, i: int, skip_bad: bool = False) -> Sample | None:
        """Sample i; with skip_bad, a bad file gives None and a warning instead of an error."""
        try:
            return self[i]
        except RainloopError as exc:
            if not skip_bad:
                raise
            warnings.warn(f"skipping: {exc}", stacklevel=2)
            return None

    def iter_valid(self) -> Iterator[Sample]:
        """Every readable sample, warning about (and skipping) the bad ones."""
        for i in range(len(self)):
            sample = self.get(i, skip_bad=True)
            if sample is not None:
                yield sample


class PairedSet(_LazySet):
    """Rainy/clean pairs: `pairs[i]` is (rainy path, clean path), `names[i]` the rainy
    file relative to its folder (to `root` for SPA-Data); `layout` names the layout."""

    def __init__(self, root: Path, layout: str, pairs: list[tuple[Path, Path]], names: list[str]):
        self.root = root
        self.layout = layout
        self.pairs = pairs
        self.names = names

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, i: int) -> Sample:
        rainy_path, clean_path = self.pairs[i]
        rainy, clean = read_image(rainy_path), read_image(clean_path)
        if rainy.shape != clean.shape:
            raise RainloopError(f"{rainy_path}: size {_wxh(rainy)} differs from its clean image "
                                f"{clean_path} ({_wxh(clean)})")
        return Sample(rainy, clean, self.names[i])


class ImageSet(_LazySet):
    """Rainy images with no ground truth (`clean` is None)."""

    def __init__(self, root: Path, files: list[Path]):
        self.root = root
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, i: int) -> Sample:
        path = self.files[i]
        name = path.relative_to(self.root).as_posix() if path != self.root else path.name
        return Sample(read_image(path), None, name)


class VideoFrames:
    """Every `every`-th frame of a video file as Samples (clean None), read as iterated."""

    def __init__(self, path: Path, every: int = 1):
        self.path = path
        self.every = every
        cap = cv2.VideoCapture(str(path))
        try:
            ok = cap.isOpened() and cap.read()[0]
        finally:
            cap.release()
        if not ok:
            raise RainloopError(f"{path}: unreadable video or no frames")

    def frame_count(self) -> int:
        """The container's frame count (0 where it does not say), before `every`."""
        cap = cv2.VideoCapture(str(self.path))
        try:
            return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        finally:
            cap.release()

    def __iter__(self) -> Iterator[Sample]:
        cap = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield Sample(frame, None, f"{self.path.stem}#{index:06d}")
                # grab() skips decoding-to-BGR of the frames we drop.
                for _ in range(self.every - 1):
                    if not cap.grab():
                        return
                index += self.every
        finally:
            cap.release()


class VideoFolder:
    """The videos of a folder (a camera's clips), one after the other, as VideoFrames."""

    def __init__(self, path: Path, files: list[Path], every: int = 1):
        self.path = path
        self.videos = [VideoFrames(f, every) for f in files]

    def __iter__(self) -> Iterator[Sample]:
        for video in self.videos:
            yield from video

    def frame_count(self) -> int:
        return sum(video.frame_count() for video in self.videos)


def _wxh(img: np.ndarray) -> str:
    return f"{img.shape[1]}x{img.shape[0]}"


def _list_files(folder: Path, recursive: bool, accept: Callable[[Path], bool]) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and accept(p) and not p.name.startswith("."))


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in `folder` (by suffix, hidden files skipped), sorted."""
    return _list_files(folder, recursive, is_image_file)


def list_videos(folder: Path) -> list[Path]:
    """Video files anywhere below `folder` (by suffix, hidden files skipped), sorted."""
    return _list_files(folder, True, lambda p: p.suffix.lower() in VIDEO_SUFFIXES)


def _is_spa_rainy(path: Path) -> bool:
    return path.stem.lower().endswith("rain") and is_image_file(path)


def _existing_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.exists():
        raise RainloopError(f"{root}: no such folder")
    if not root.is_dir():
        raise RainloopError(f"{root}: not a folder")
    return root


def detect_layout(root: str | os.PathLike) -> str:
    """Which of LAYOUTS `root` holds; RainloopError for a missing, empty or unknown folder."""
    root = _existing_dir(root)
    if (root / "Ot").is_dir() or (root / "Os").is_dir():
        return "jrgr"
    for layout, (rainy, clean) in _FOLDERS.items():
        if (root / rainy).is_dir() and (root / clean).is_dir():
            return layout
    if any(_is_spa_rainy(p) for p in root.rglob("*")):
        return "spa"
    if not any(root.iterdir()):
        raise RainloopError(f"{root}: empty folder")
    raise RainloopError(f"{root}: no known dataset layout (expected {_EXPECTED})")


# Each layout's rule for the key a rainy file shares with its clean partner.
def _strip_prefix(prefix: str) -> Callable[[Path], str]:
    return lambda p: p.stem[len(prefix):] if p.stem.startswith(prefix) else p.stem


_KEYS: dict[str, tuple[Callable[[Path], str], Callable[[Path], str]]] = {
    "rainloop": (lambda p: p.stem, lambda p: p.stem),
    "jrgr": (lambda p: p.stem, lambda p: p.stem),
    "rain100": (_strip_prefix("rain-"), _strip_prefix("norain-")),
    "rain1400": (lambda p: p.stem.rsplit("_", 1)[0], lambda p: p.stem),
}


def _pair_folders(rainy_dir: Path, clean_dir: Path, layout: str) -> list[tuple[Path, Path]]:
    rainy_key, clean_key = _KEYS[layout]
    rainy_files = list_images(rainy_dir)
    if not rainy_files:
        raise RainloopError(f"{rainy_dir}: no images")
    clean_by_key = {clean_key(p): p for p in list_images(clean_dir)}
    pairs = []
    for path in rainy_files:
        partner = clean_by_key.get(rainy_key(path))
        if partner is None:
            raise RainloopError(f"{path}: no matching clean image in {clean_dir}")
        pairs.append((path, partner))
    return pairs


def _pair_spa(root: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for path in list_images(root, recursive=True):
        if not _is_spa_rainy(path):
            continue
        stem = path.stem[:-4]
        partners = [p for p in path.parent.glob(f"{stem}gt.*") if is_image_file(p)]
        if not partners:
            raise RainloopError(f"{path}: no matching {stem}gt image beside it")
        pairs.append((path, partners[0]))
    return pairs


def _jrgr_folders(root: Path) -> tuple[Path, Path]:
    for rainy, clean in (("Os", "Bs"), ("Ot", "Bt")):
        if (root / rainy).is_dir() and (root / clean).is_dir():
            return root / rainy, root / clean
    raise RainloopError(f"{root}: a JRGR folder needs Os/+Bs/ (or Ot/+Bt/) for paired data")


def open_pairs(root: str | os.PathLike) -> PairedSet:
    """The rainy/clean pairs under `root`, in any of LAYOUTS (see the module docstring)."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "spa":
        rainy_dir, pairs = root, _pair_spa(root)
    else:
        rainy_dir, clean_dir = _jrgr_folders(root) if layout == "jrgr" else (root / f for f in _FOLDERS[layout])
        pairs = _pair_folders(rainy_dir, clean_dir, layout)
    return PairedSet(root, layout, pairs, [r.relative_to(rainy_dir).as_posix() for r, _ in pairs])


def _rainy_folder(root: Path) -> Path:
    """The rainy half of a known layout (a JRGR root's real rain, Ot/), else `root` itself."""
    if (root / "Ot").is_dir():
        return root / "Ot"
    for rainy, clean in _FOLDERS.values():
        if (root / rainy).is_dir() and (root / clean).is_dir():
            return root / rainy
    return root


def open_unpaired(path: str | os.PathLike, every: int = 1) -> ImageSet | VideoFrames | VideoFolder:
    """Rainy images without ground truth: a folder (searched recursively; a JRGR root
    gives its Ot/, another paired layout its rainy half), a single image, a video
    file, a folder of videos (no images in it), or a ROS 2 bag's image topic
    (`bag://recording?topic=/camera/image_raw`); every `every`-th image or frame."""
    if every < 1:
        raise RainloopError(f"every={every}: must be 1 or more")
    if str(path).startswith("bag://"):
        from rainloop.runtime.bags import BagFrames  # footage by URI is the runtime's source layer

        return BagFrames(str(path), every)
    path = Path(path)
    if not path.exists():
        raise RainloopError(f"{path}: no such file or folder")
    if path.is_file():
        if is_image_file(path):
            return ImageSet(path, [path])
        return VideoFrames(path, every)
    folder = _rainy_folder(path)
    files = list_images(folder, recursive=True)[::every]
    if files:
        return ImageSet(folder, files)
    videos = list_videos(folder)
    if not videos:
        raise RainloopError(f"{folder}: no images or videos")
    return VideoFolder(folder, videos, every)


def spread_frames(source: str | os.PathLike, n: int, size: tuple[int, int] | None, desc: str = "reading frames",
                  progress: bool = True) -> list[np.ndarray]:
    """Up to n BGR uint8 frames of `size` (w, h; None: as they are) spread evenly over a folder of
    images, a video, a folder of videos or a bag:// topic, so that they span the whole footage rather than
    its first seconds."""
    from tqdm import tqdm

    from rainloop.frames import resize_to

    if n < 1:
        raise RainloopError(f"--n {n}: need at least one frame")
    samples = _spread(open_unpaired(source), source, n)
    samples = tqdm(samples, total=n, desc=desc, unit="frame", leave=False, disable=not progress)
    return [s.rainy if size is None else resize_to(s.rainy, size) for s in samples]


def dry_pairs(source: str | os.PathLike, n: int) -> list[Sample]:
    """Up to n frames of dry footage (a folder of images, a video, a folder of videos, a bag:// topic),
    spread over it, each paired with itself: a derainer should hand a rainless frame back unchanged."""
    return [Sample(s.rainy, s.rainy, s.name) for s in _spread(open_unpaired(source), source, n)]


def _spread(images, source: str | os.PathLike, n: int):
    """Up to n samples: evenly indexed in a folder; every k-th frame of videos, k = length // n."""
    if isinstance(images, Sequence):
        picks = np.unique(np.linspace(0, len(images) - 1, min(n, len(images))).round().astype(int))
        yield from (images[int(i)] for i in picks)
        return
    for count, sample in enumerate(open_unpaired(source, every=max(1, images.frame_count() // n)), 1):
        yield sample
        if count == n:
            return
