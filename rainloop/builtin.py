"""Clean photos that ship inside scikit-image's wheel: training and test data with no download.

Only images stored in the wheel itself are used (never those fetched with
pooch), so this works offline. The split is fixed so evaluation always runs
on photos the model never saw:

- train (12): astronaut, chelsea, motorcycle (left view of stereo_motorcycle),
  immunohistochemistry, retina, hubble_deep_field (colour);
  brick, grass, gravel, moon, page, coins (gray, as 3 equal channels)
- test (3): coffee, rocket (colour), camera (gray)

The right stereo view is left out on purpose: it shows the same scene as the
left one and would blur the line between splits.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from rainloop.errors import RainloopError

TRAIN = ("astronaut", "chelsea", "motorcycle", "immunohistochemistry", "retina", "hubble_deep_field",
         "brick", "grass", "gravel", "moon", "page", "coins")
TEST = ("coffee", "rocket", "camera")
SPLITS = {"train": TRAIN, "test": TEST, "all": TRAIN + TEST}

# Scale relative to the photo's native resolution: wider ranges would mostly
# give flat up-sampled texture or whole photos shrunk to thumbnails.
_SCALE_RANGE = (0.5, 1.5)


def _load(name: str) -> np.ndarray:
    import skimage.data

    if name == "motorcycle":
        rgb = skimage.data.stereo_motorcycle()[0]
    else:
        rgb = getattr(skimage.data, name)()
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        return cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2BGR))


def _names(split: str) -> tuple[str, ...]:
    try:
        return SPLITS[split]
    except KeyError:
        raise RainloopError(f"builtin photos: unknown split {split!r} (use {', '.join(SPLITS)})") from None


@functools.cache
def _photos(split: str) -> tuple[np.ndarray, ...]:
    photos = []
    for name in _names(split):
        try:
            img = _load(name)
        except Exception as exc:  # a scikit-image build without this bundled file
            raise RainloopError(f"builtin photo {name!r} is not in this scikit-image install ({exc})") from None
        img.setflags(write=False)
        photos.append(img)
    return tuple(photos)


def clean_photos(split: str = "train") -> list[np.ndarray]:
    """The split's photos as BGR uint8 (read-only arrays, loaded once per process)."""
    return list(_photos(split))


def photo_names(split: str = "train") -> tuple[str, ...]:
    """Names in the same order as clean_photos(split)."""
    return _names(split)


def crop_from(photo: np.ndarray, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random crop of `photo` at a random scale, flipped half the time; `size` is (w, h).

    The scale is drawn log-uniformly in 0.5..1.5 of the photo's native size,
    but never below the scale at which the photo just covers the crop.
    """
    w, h = size
    ph, pw = photo.shape[:2]
    cover = max(w / pw, h / ph)
    scale = max(cover, float(np.exp(rng.uniform(*np.log(_SCALE_RANGE)))))
    # Cut the source window first, then resize only that: cheap for small crops of big photos.
    sw, sh = min(pw, w / scale), min(ph, h / scale)
    x0 = rng.uniform(0, pw - sw)
    y0 = rng.uniform(0, ph - sh)
    xa, ya = int(x0), int(y0)
    xb, yb = min(pw, int(np.ceil(x0 + sw))), min(ph, int(np.ceil(y0 + sh)))
    window = photo[ya:yb, xa:xb]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = cv2.resize(window, (w, h), interpolation=interp)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def random_crop(rng: np.random.Generator, size: tuple[int, int], split: str = "train") -> np.ndarray:
    """A crop of size (w, h) from a random photo of `split` (see crop_from)."""
    photos = _photos(split)
    return crop_from(photos[rng.integers(len(photos))], rng, size)
