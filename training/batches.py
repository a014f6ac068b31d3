"""Where training images come from: the two domains of JRGR, as random crops.

- synthetic pairs (O_s, B_s): `builtin` renders rain on the fly over built-in
  clean photos, by default `broad` (every pair its own look, drawn from wide
  ranges; rain.render_pair), or one named style (`streak`, `streak-fog`,
  `physics`) (a mix
  from dry to downpour, dry frames included so a dry scene learns to pass
  through), or a paired dataset folder;
- real rainy images O_t (unpaired): a folder, a JRGR root's Ot/, or a video.
  `builtin` is only a STAND-IN: the project's physics rain renderer on other
  crops. On a user's camera, --real is their own rainy footage.

Every draw takes a numpy Generator, which the loop derives from (seed, step),
so a run is reproducible and a resumed run sees exactly the same data.
"""

from __future__ import annotations

import signal
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from rainloop.errors import RainloopError
from rainloop.training.jrgr import stage_of

# Intensity mixes for the on-the-fly synthetic rain: probability of a dry frame
# (O_s = B_s) and the uniform intensity range of the rest.
RAIN_MIXES = {
    "default": {"dry": 0.12, "range": (0.05, 1.0)},
    "light": {"dry": 0.15, "range": (0.05, 0.5)},
    "heavy": {"dry": 0.05, "range": (0.4, 1.0)},
}
# The stand-in real domain (physics renderer): "default" has dry frames and
# drizzle, as a camera sees them, so G3 learns to leave a dry scene alone;
# "rain" (always raining) is how runs before data.real_mix were trained.
REAL_MIXES = {
    "default": {"dry": 0.12, "range": (0.05, 1.0)},
    "rain": {"dry": 0.0, "range": (0.15, 1.0)},
}
# A long video is kept in memory at training resolution; beyond this many
# frames it is decimated (every other frame dropped) to bound memory.
MAX_VIDEO_FRAMES = 2000


def draw_intensity(rng: np.random.Generator, spec: dict) -> float:
    if spec["dry"] and rng.random() < spec["dry"]:
        return 0.0
    return float(rng.uniform(*spec["range"]))


def resize_short(img: np.ndarray, side: int) -> np.ndarray:
    """Scale so the shorter side is `side` (the CycleGAN "load size")."""
    h, w = img.shape[:2]
    s = side / min(h, w)
    size = (max(side, round(w * s)), max(side, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def random_window(rng: np.random.Generator, imgs: list[np.ndarray], crop: int) -> list[np.ndarray]:
    """The same random crop x crop window of each image, flipped together half the time."""
    h, w = imgs[0].shape[:2]
    y = int(rng.integers(h - crop + 1))
    x = int(rng.integers(w - crop + 1))
    flip = rng.random() < 0.5
    out = [im[y:y + crop, x:x + crop] for im in imgs]
    return [np.ascontiguousarray(im[:, ::-1] if flip else im) for im in out]


SYN_STYLES = ("broad", "streak", "streak-fog", "physics")


def _check_sky(sky: float) -> float:
    if not 0 <= sky <= 1:
        raise RainloopError(f"--sky {sky}: a fraction of training crops, between 0 and 1")
    return float(sky)


def _scene(rng: np.random.Generator, crop: int, sky: float) -> np.ndarray:
    """A clean built-in train crop, with a procedural sky a `sky` fraction of the time
    (runs from before --sky, sky 0, see the same crops)."""
    from rainloop import builtin
    from rainloop.skies import maybe_sky

    return maybe_sky(builtin.random_crop(rng, (crop, crop), split="train"), rng, sky)


def _with_sky(sky: float) -> str:
    return f", {sky:.0%} with a procedural sky" if sky else ""


class BuiltinPairs:
    """Rain in one of SYN_STYLES rendered on built-in train-split crops, intensities from the mix."""

    def __init__(self, mix: str = "default", style: str = "broad", sky: float = 0.0):
        if mix not in RAIN_MIXES:
            raise RainloopError(f"data.rain_mix {mix!r}: choose one of {', '.join(RAIN_MIXES)}")
        if style not in SYN_STYLES:
            raise RainloopError(f"--syn-style {style!r}: choose one of {', '.join(SYN_STYLES)}")
        self.mix, self.style, self.sky = mix, style, _check_sky(sky)
        self.description = f"builtin: {style} rain ({mix} mix) on built-in train photos{_with_sky(sky)}"

    def draw(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        from rainloop import rain

        clean = _scene(rng, crop, self.sky)
        return rain.render_pair(clean, rng, style=self.style, intensity=draw_intensity(rng, RAIN_MIXES[self.mix]))


class BuiltinReal:
    """Stand-in real domain: physics rain on other built-in crops (never paired with B_s)."""

    def __init__(self, mix: str = "default", sky: float = 0.0):
        if mix not in REAL_MIXES:
            raise RainloopError(f"data.real_mix {mix!r}: choose one of {', '.join(REAL_MIXES)}")
        self.mix, self.sky = mix, _check_sky(sky)
        self.description = (f"builtin: physics rain ({mix} mix) on built-in train photos{_with_sky(sky)} "
                            "(stand-in for real footage)")

    def draw(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray]:
        from rainloop import rain

        clean = _scene(rng, crop, self.sky)
        return (rain.render(clean, rng, style="physics", intensity=draw_intensity(rng, REAL_MIXES[self.mix])),)


class _FolderSource:
    """Random crops of a dataset's images, resized to the load size first.

    Decoded, resized images are cached (they are small at training size);
    an unreadable file is skipped with a warning and never tried again.
    """

    def __init__(self, samples, path, load: int, cache: int = 1024):
        self.samples = samples
        self.path = str(path)
        self.load = load
        self.cache: dict[int, list[np.ndarray]] = {}
        self.cache_size = cache
        self.bad: set[int] = set()
        if len(samples) == 0:
            raise RainloopError(f"{path}: no images found")

    def _images(self, sample) -> list[np.ndarray]:
        raise NotImplementedError

    def _get(self, i: int) -> list[np.ndarray] | None:
        if i in self.cache:
            return self.cache[i]
        try:
            imgs = [resize_short(im, self.load) for im in self._images(self.samples[i])]
        except RainloopError as exc:
            warnings.warn(f"skipping unreadable training file: {exc}", stacklevel=2)
            self.bad.add(i)
            return None
        if len(self.cache) < self.cache_size:
            self.cache[i] = imgs
        return imgs

    def draw(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, ...]:
        while len(self.bad) < len(self.samples):
            i = int(rng.integers(len(self.samples)))
            if i in self.bad:
                continue
            imgs = self._get(i)
            if imgs is not None:
                return tuple(random_window(rng, imgs, crop))
        raise RainloopError(f"{self.path}: every image is unreadable")


class FolderPairs(_FolderSource):
    def __init__(self, root, load: int):
        from rainloop import data

        super().__init__(data.open_pairs(root), root, load)
        self.description = f"pairs: {root} ({len(self.samples)} pairs)"

    def _images(self, sample):
        if sample.rainy.shape[:2] != sample.clean.shape[:2]:
            raise RainloopError(f"{sample.name}: rainy and clean images differ in size")
        return [sample.rainy, sample.clean]


class FolderUnpaired(_FolderSource):
    def __init__(self, path, load: int, every: int = 1):
        from rainloop import data

        samples = data.open_unpaired(path, every=every)
        if not isinstance(samples, Sequence):
            samples = _frames_in_memory(samples, load)
        super().__init__(samples, path, load)
        self.description = f"real: {path} ({len(self.samples)} images)"

    def _images(self, sample):
        return [sample.rainy]


class _Frame:
    """A decoded video frame, shaped like a data Sample."""

    def __init__(self, rainy, name):
        self.rainy, self.clean, self.name = rainy, None, name


def _frames_in_memory(frames, load: int) -> list:
    """Decode an iterator of frames (a video) once, at training resolution."""
    kept = []
    for n, sample in enumerate(frames):
        kept.append(_Frame(resize_short(sample.rainy, load), getattr(sample, "name", str(n))))
        if len(kept) >= MAX_VIDEO_FRAMES:
            kept = kept[::2]
    return kept


TARGETS = ("streaks", "all")


class StreakTarget:
    """Pairs whose clean side keeps the rain's low frequencies: the derainer learns to take out
    streaks and leave the frame's tone alone.

    Why: a rain layer's frame-wide part (a veil, the lift of dense sheets) looks, to a small
    network, like the brightness of any bright scene; learned as rain, it darkens real frames
    while their streaks stay (the detail layer of Fu et al.'s DDN, CVPR 2017, the same idea).
    The clean side becomes B + blur(O - B), a Gaussian of TONE_SIGMA px: about the 21-pixel
    median in which thin streaks vanish.
    """

    TONE_SIGMA = 6.0

    def __init__(self, pairs):
        self.pairs = pairs
        self.description = f"{pairs.description}; targets keep the rain's tone (streaks only)"

    def draw(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        rainy, clean = self.pairs.draw(rng, crop)
        return rainy, keep_tone(rainy, clean, self.TONE_SIGMA)


def keep_tone(rainy: np.ndarray, clean: np.ndarray, sigma: float) -> np.ndarray:
    """clean + blur(rainy - clean), uint8."""
    rain = rainy.astype(np.float32) - clean.astype(np.float32)
    out = clean + cv2.GaussianBlur(rain, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def open_synthetic(spec: str, load: int, mix: str = "default", style: str = "broad", sky: float = 0.0,
                   target: str = "all"):
    if target not in TARGETS:
        raise RainloopError(f"data.target {target!r}: choose one of {', '.join(TARGETS)}")
    if spec == "builtin":
        pairs = BuiltinPairs(mix, style, sky)
    else:
        _need_path(spec, "--syn")
        pairs = FolderPairs(spec, load)
    return StreakTarget(pairs) if target == "streaks" else pairs


def open_real(spec: str, load: int, every: int = 1, mix: str = "default", sky: float = 0.0):
    if spec == "builtin":
        return BuiltinReal(mix, sky)
    _need_path(spec, "--real")
    return FolderUnpaired(spec, load, every)


def _need_path(spec: str, flag: str) -> None:
    # A bag:// URI names its own missing path when it is opened.
    if not spec.startswith("bag://") and not Path(spec).exists():
        raise RainloopError(f"{flag} {spec}: no such file or folder")


def to_tensor(imgs: list[np.ndarray], device="cpu") -> torch.Tensor:
    """BGR uint8 HxWx3 images -> float RGB NCHW in [0, 1]."""
    arr = np.stack(imgs)[..., ::-1]
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().div_(255).to(device)


def to_image(t: torch.Tensor) -> np.ndarray:
    """One float RGB CHW tensor in [0, 1] -> BGR uint8 HxWx3."""
    arr = t.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr[..., ::-1])


def step_rngs(seed: int, step: int, rank: int = 0, ranks: int = 1) -> dict[str, np.random.Generator]:
    """Independent generators per use, so skipping one (no real images in stage 1)
    does not shift the others. In a run of `ranks` processes each rank draws its share
    of the batch from "syn" and "real" streams of its own; "pool" is the same on all."""
    spread = (ranks, rank) if ranks > 1 else ()  # one process keeps the streams runs have always had
    return {k: np.random.default_rng([seed, step, i, *(spread if k != "pool" else ())])
            for i, k in enumerate(("syn", "real", "pool"))}


def draw_batch(syn, real, rngs: dict, n: int, crop: int) -> dict[str, torch.Tensor]:
    """One training batch on the CPU: O_s, B_s always; O_t when a real source is given."""
    pairs = [syn.draw(rngs["syn"], crop) for _ in range(n)]
    batch = {"O_s": to_tensor([p[0] for p in pairs]), "B_s": to_tensor([p[1] for p in pairs])}
    if real is not None:
        batch["O_t"] = to_tensor([real.draw(rngs["real"], crop)[0] for _ in range(n)])
    return batch


class StepBatches(torch.utils.data.Dataset):
    """Item k is step k's batch, drawn from (seed, k) alone, so worker processes can draw
    ahead in any order and a run stays exactly reproducible whatever their number.
    `n` images: the whole batch, or in a run of `ranks` processes this rank's share."""

    def __init__(self, syn, real, seed: int, n: int, crop: int, pretrain_steps: int, rank: int = 0, ranks: int = 1):
        self.syn, self.real, self.seed, self.n, self.crop = syn, real, seed, n, crop
        self.pretrain_steps, self.rank, self.ranks = pretrain_steps, rank, ranks

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        real = self.real if stage_of(step, self.pretrain_steps) == 2 else None
        return draw_batch(self.syn, real, step_rngs(self.seed, step, self.rank, self.ranks), self.n, self.crop)


def _worker_ignores_signals(_: int) -> None:
    # Ctrl-C and `timeout` signal the whole process group. A worker that died of it would
    # leave the trainer, if it was waiting for a batch, unable to finish its step and save.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def step_batches(batches: StepBatches, steps: range, workers: int, device: torch.device):
    """Batches of `steps` in order, on `device`; `workers` processes draw them ahead (0: drawn inline)."""
    cuda = device.type == "cuda"
    loader = torch.utils.data.DataLoader(
        batches, sampler=steps, batch_size=None, num_workers=workers, pin_memory=cuda,
        prefetch_factor=4 if workers else None, worker_init_fn=_worker_ignores_signals if workers else None)
    for batch in loader:
        yield {k: v.to(device, non_blocking=cuda) for k, v in batch.items()}
