"""Rain renderers: turn a clean BGR photo (or a still scene) into rainy images or video.

Two styles, both driven by one `intensity` in [0, 1] (0 dry, ~0.2 drizzle,
~0.5 moderate, 1 downpour) and randomised from the caller's generator:

`streak` -- the classic synthetic recipe behind Rain100L/H and Rain1400:
sparse salt noise (equivalent to thresholding uniform noise) smeared by a
motion-blur line kernel at an angle, one to three layers of different
density, angle, length and width, added to the photo or screen-blended.

`streak-fog` -- the streak recipe in front of rain accumulation as fog,
O = T * B + (1 - T) * A with Koschmieder transmission T = exp(-beta * depth):
RainCityscapes' recipe (Hu et al., CVPR 2019), the kind of synthetic pairs the
JRGR authors trained on. Without depth maps, depth is a ground plane seen from
the camera (farther toward the top), the airlight grey with a slight tint.

`physics` -- a more realistic model, the stand-in for real rain:
- Garg & Nayar, "Photorealistic rendering of rain streaks" (SIGGRAPH 2006)
  and "Vision and rain" (IJCV 2007): a drop refracts light from a wide cone
  of the environment, so a streak's radiance is an average of the scene,
  brighter than what it covers, and the streak is semi-transparent because the
  drop crosses each pixel for a fraction of the exposure. Streaks are therefore
  *alpha-blended* toward a radiance map (a heavily blurred, brightened copy of
  the scene), not added.
- Hu et al., "Depth-attentional features for single-image rain removal"
  (CVPR 2019, RainCityscapes): streak appearance and fog depend on depth.
  Without a depth map we use a smooth pseudo-depth (farther toward the top of
  the frame, plus low-frequency variation) and three depth layers: far ones
  short, thin, dense and faint (hidden where the scene is nearer than them);
  near ones long, wide, defocused and sparse.
- Yang et al., "Deep joint rain detection and removal from a single image"
  (CVPR 2017) and Li et al., "Heavy rain image restoration" (CVPR 2019): rain
  accumulation scatters light like fog, O = T * (B + rain) + (1 - T) * A, with
  Koschmieder transmission T = exp(-beta * depth) and beta growing with
  intensity. Here the veil covers the far layer and the scene, while the
  near layers, a few metres from the lens, stay in front of it.
- Camera: signal-dependent sensor noise (variance a*x + b) and JPEG
  compression at a random quality.
The numeric ranges are tuned by eye; the structure follows the papers.

`broad` -- no single look: every draw picks its own mix from wide ranges,
because real rain on a user's camera can look like any of the above and more.
One to five streak layers, each with its own density (sparse drizzle to the
dense sheets of Rain100H), length (short drops to long motion-blurred
streaks), width, defocus, brightness and direction around a common wind;
sometimes splashes (short, wide, bright drops); added, screen-blended or
alpha-blended toward the scene's own light (or a lamp's, at night); a veil
only some of the time; night scenes (the clean photo darkened, streaks lit);
sensor noise and JPEG. `render_pair` applies the camera (exposure, noise,
JPEG) to both sides of a pair with one noise draw, so the only difference a
derainer learns to remove is the rain itself: never the noise, the tone or
the colour of a frame without a veil.

`render_sequence` keeps one rain field (drop positions, layers, wind angle,
veil) and moves every drop along its angle each frame, near layers faster
than far ones, with a few drops respawned and fresh noise per frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from rainloop.errors import RainloopError

STYLES = ("streak", "streak-fog", "physics", "broad")

# A drop moves this many streak lengths between frames: the exposure covers
# only part of the frame interval (e.g. 1/60 s exposure at 30 fps -> ~2).
_STEP_PER_LENGTH = (1.3, 2.5)
# Share of drops replaced each frame so the motion never looks periodic.
_RESPAWN = 0.05


@dataclass
class _Layer:
    kernel: np.ndarray          # motion-blur line, peak 1
    density: float              # drops per pixel
    opacity: float              # physics: peak alpha; streak: additive gain
    step: tuple[float, float]   # (dx, dy) pixels per frame
    defocus: float = 0.0        # Gaussian sigma of lens blur, 0 = sharp
    depth: float = 0.0          # 0 at the lens .. ~1.2 far (physics)
    visible: np.ndarray | float = 1.0  # physics: HxW, 0 where the scene is nearer than the layer
    xy: np.ndarray = None       # drop positions on the padded canvas
    value: np.ndarray = None    # per-drop brightness in (0, 1]

    @property
    def pad(self) -> int:
        return self.kernel.shape[0] // 2

    @functools.cached_property
    def taps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's non-zero taps: row and column offsets from its centre, weights."""
        ys, xs = np.nonzero(self.kernel > 1e-3)
        return ys.astype(np.int32) - self.pad, xs.astype(np.int32) - self.pad, self.kernel[ys, xs]


@dataclass
class _Field:
    size: tuple[int, int]       # (w, h)
    layers: list[_Layer]
    blend: str = "add"          # streak, broad: "add", "screen" or "alpha" (toward `radiance`)
    radiance: np.ndarray = None  # physics: HxWx3 streak radiance in [0, 1]
    transmission: np.ndarray = None  # physics: HxW veil transmission T
    airlight: np.ndarray = None      # physics: HxWx3 atmospheric light A (constant)
    noise: tuple[float, float] = (0.0, 0.0)  # variance = a * x + b
    jpeg: int = 0


def _check(clean: np.ndarray, style: str, intensity: float) -> None:
    if style not in STYLES:
        raise RainloopError(f"rain style {style!r}: use one of {', '.join(STYLES)}")
    if not 0.0 <= intensity <= 1.0:
        raise RainloopError(f"rain intensity {intensity}: must be between 0 and 1")
    if clean.dtype != np.uint8 or clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected a BGR uint8 HxWx3 image, got {clean.dtype} {clean.shape}")


def line_kernel(length: float, angle_deg: float, width: int = 1) -> np.ndarray:
    """Anti-aliased line of `length` px tilted `angle_deg` from vertical, peak 1."""
    size = int(np.ceil(length + width)) | 1
    c = (size - 1) / 2
    dx = np.sin(np.radians(angle_deg)) * length / 2
    dy = np.cos(np.radians(angle_deg)) * length / 2
    kernel = np.zeros((size, size), np.float32)
    shift = 4  # end points in 1/16 px
    p0 = (round((c - dx) * (1 << shift)), round((c - dy) * (1 << shift)))
    p1 = (round((c + dx) * (1 << shift)), round((c + dy) * (1 << shift)))
    cv2.line(kernel, p0, p1, 1.0, int(width), cv2.LINE_AA, shift)
    return kernel / max(float(kernel.max()), 1e-6)


def _fall_step(length: float, angle_deg: float, rng: np.random.Generator) -> tuple[float, float]:
    speed = length * rng.uniform(*_STEP_PER_LENGTH)
    a = np.radians(angle_deg)
    return float(np.sin(a) * speed), float(np.cos(a) * speed)


def _seed_drops(layer: _Layer, size: tuple[int, int], rng: np.random.Generator) -> None:
    w, h = size
    cw, ch = w + 2 * layer.pad, h + 2 * layer.pad
    n = rng.poisson(layer.density * cw * ch)
    layer.xy = (rng.random((n, 2)) * (cw, ch)).astype(np.float32)
    layer.value = rng.uniform(0.5, 1.0, n).astype(np.float32)


def _streak_map(layer: _Layer, size: tuple[int, int], t: int) -> np.ndarray:
    """The layer's streaks at frame t, HxW float32 with peaks near 1.

    Each drop stamps the line kernel at its position (a scatter-add), which
    equals filtering a salt-noise image with the kernel but costs drops x
    kernel taps instead of pixels x taps: rain is sparse.
    """
    w, h = size
    p = layer.pad
    # Drops wrap around a canvas padded by the kernel radius, so streaks enter from outside the frame.
    xy = np.floor(layer.xy + np.float32(t) * np.asarray(layer.step, np.float32)).astype(np.int32)
    x = xy[:, :1] % (w + 2 * p) - p + layer.taps[1]
    y = xy[:, 1:] % (h + 2 * p) - p + layer.taps[0]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    streaks = np.zeros((h, w), np.float32)
    np.add.at(streaks.reshape(-1), (y * w + x)[inside], (layer.value[:, None] * layer.taps[2])[inside])
    if layer.defocus > 0:
        streaks = cv2.GaussianBlur(streaks, (0, 0), layer.defocus)
    return streaks


def _streak_field(size, rng: np.random.Generator, intensity: float) -> _Field:
    n_layers = 1 + int(intensity > 0.4) + int(intensity > 0.75)
    base_angle = rng.uniform(-30, 30)
    layers = []
    for k in range(n_layers):
        angle = base_angle + (rng.uniform(5, 20) * rng.choice((-1, 1)) if k else 0.0)
        length = rng.uniform(10, 20 + 30 * intensity)
        width = int(rng.integers(1, 2 + round(2 * intensity)))
        density = rng.uniform(0.4, 1.0) * (0.002 + 0.012 * intensity) / width
        gain = rng.uniform(0.4, 0.7) + 0.3 * intensity
        layers.append(_Layer(line_kernel(length, angle, width), density, gain, _fall_step(length, angle, rng)))
    return _Field(size, layers, blend="screen" if rng.random() < 0.5 else "add")


# (depth, length px, width px, defocus sigma, drops per px, peak alpha) at full intensity,
# far -> near. Far: short, thin, dense, faint; near: long, wide, blurred, sparse.
_DEPTH_LAYERS = (
    (0.9, 6.0, 1, 0.0, 0.020, 0.35),
    (0.5, 14.0, 1, 0.5, 0.006, 0.55),
    (0.15, 30.0, 2, 1.2, 0.0015, 0.9),
)


def _pseudo_depth(size, rng: np.random.Generator) -> np.ndarray:
    """A smooth guess at depth on a coarse grid (1/8 of the frame; upsampled by the caller)."""
    w, h = max(2, size[0] // 8), max(2, size[1] // 8)
    ramp = np.linspace(1.2, 0.25, h, dtype=np.float32)[:, None]
    wobble = cv2.resize(rng.uniform(-0.15, 0.15, (3, 3)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    return np.clip(ramp + wobble, 0.05, 1.4)


def _upsample(coarse: np.ndarray, size) -> np.ndarray:
    return cv2.resize(coarse.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)


def _rain_radiance(scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Streak radiance: the environment averaged over a wide cone, brightened."""
    h, w = scene.shape[:2]
    small = cv2.resize(scene, (max(1, w // 32), max(1, h // 32)), interpolation=cv2.INTER_AREA)
    env = cv2.GaussianBlur(small, (0, 0), 1.0)
    white = rng.uniform(0.8, 1.0)
    return _upsample(env + (white - env) * rng.uniform(0.35, 0.7), (w, h))


def _physics_field(scene: np.ndarray, rng: np.random.Generator, intensity: float) -> _Field:
    h, w = scene.shape[:2]
    wind = float(np.clip(rng.normal(0, 5 + 20 * intensity), -40, 40))
    layers = []
    for depth, length, width, blur, density, alpha in _DEPTH_LAYERS:
        angle = wind + rng.normal(0, 2)
        # Heavier rain has bigger, faster drops: longer streaks.
        length = length * rng.uniform(0.8, 1.3) * (0.8 + 0.6 * intensity)
        width = width + int(depth < 0.3 and rng.random() < intensity)
        layers.append(_Layer(
            line_kernel(length, angle, width),
            density=density * (0.15 + 0.85 * intensity) * rng.uniform(0.7, 1.3),
            opacity=alpha * (0.6 + 0.4 * intensity) * rng.uniform(0.8, 1.2),
            step=_fall_step(length, angle, rng),
            defocus=blur * (1 + intensity),
            depth=depth,
        ))
    # Everything depth-driven is smooth: compute it coarse, then upsample.
    depth = _pseudo_depth((w, h), rng)
    for layer in layers:
        # Drops only show where the scene lies behind them (near layers: everywhere).
        visible = np.clip((depth - layer.depth) / 0.2 + 0.5, 0, 1)
        layer.visible = 1.0 if visible.min() == 1 else _upsample(visible, (w, h))
    transmission, airlight = _veil(scene, depth, beta=intensity * rng.uniform(0.4, 1.4), level=rng.uniform(0.7, 0.95))
    return _Field(
        (w, h), layers,
        radiance=_rain_radiance(scene, rng),
        transmission=transmission,
        airlight=airlight,
        noise=(rng.uniform(1e-4, 1e-3) * (0.5 + intensity), rng.uniform(0.5, 3.0) ** 2 / 255 ** 2),
        jpeg=int(rng.integers(60, 96)),
    )


def _veil(scene: np.ndarray, depth: np.ndarray, beta: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Koschmieder transmission T = exp(-beta * depth) at the scene's size (depth is coarse), and an
    airlight mostly grey at `level`, tinted by the scene's mean colour."""
    h, w = scene.shape[:2]
    airlight = 0.8 * level + 0.2 * np.asarray(cv2.mean(scene)[:3])
    return (_upsample(np.exp(-beta * depth), (w, h)),
            np.broadcast_to(airlight.astype(np.float32), scene.shape).copy())


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _broad_layer(rng: np.random.Generator, intensity: float, wind: float, first: bool) -> _Layer:
    angle = wind + rng.normal(0, 3 if first else 12)
    length = _log_uniform(rng, 3, 10 + 70 * intensity)
    width = int(rng.choice((1, 1, 1, 2, 2, 3)))
    defocus = float(rng.uniform(0.3, 2.0)) if rng.random() < 0.4 else 0.0
    # Per-pixel drop density, log-uniform: sparse drizzle to Rain100H's sheets.
    density = _log_uniform(rng, 2e-4, 2e-3 + 0.05 * intensity) / width
    opacity = rng.uniform(0.25, 0.55) + 0.45 * intensity * rng.random()
    return _Layer(line_kernel(length, angle, width), density, opacity, _fall_step(length, angle, rng), defocus)


def _splash_layer(rng: np.random.Generator, intensity: float) -> _Layer:
    width = int(rng.integers(2, 4))
    return _Layer(line_kernel(rng.uniform(1, 3), rng.uniform(0, 180), width),
                  _log_uniform(rng, 1e-4, 5e-4 + 2e-3 * intensity), rng.uniform(0.3, 0.8),
                  (rng.uniform(-1, 1), rng.uniform(-1, 1)), float(rng.uniform(0, 1)))


def _broad_field(scene: np.ndarray, rng: np.random.Generator, intensity: float, night: bool) -> _Field:
    h, w = scene.shape[:2]
    wind = rng.uniform(-30, 30) if rng.random() < 0.85 else rng.uniform(-60, 60)
    layers = [_broad_layer(rng, intensity, wind, k == 0) for k in range(int(rng.integers(1, 3 + round(2 * intensity))))]
    if rng.random() < 0.25:
        layers.append(_splash_layer(rng, intensity))
    blend = str(rng.choice(("add", "screen", "alpha")))
    if night:  # lamps light the drops: bright streaks over a dark scene
        lamp = rng.uniform(0.7, 1.0) * np.asarray([rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.0), 1.0], np.float32)
        radiance = np.broadcast_to(lamp, scene.shape).copy()
        blend = "alpha"
    else:
        radiance = _rain_radiance(scene, rng)
    fld = _Field((w, h), layers, blend=blend, radiance=radiance)
    if rng.random() < 0.35:  # a veil only some of the time: most frames must keep their tone
        depth = _pseudo_depth((w, h), rng)
        fld.transmission, fld.airlight = _veil(scene, depth, beta=intensity * rng.uniform(0.2, 1.2),
                                               level=rng.uniform(0.6, 0.95))
    return fld


def _compose_broad(scene: np.ndarray, fld: _Field, t: int, gains) -> np.ndarray:
    """Rain over the (already camera-exposed) scene, float32 in [0, 1]; noise and JPEG come after."""
    if fld.transmission is not None:
        scene = cv2.blendLinear(scene, fld.airlight, fld.transmission, 1 - fld.transmission)
    return _blend_streaks(scene, fld, t, gains)


class _Camera:
    """Exposure (night), sensor noise and JPEG, drawn once per pair or clip."""

    def __init__(self, rng: np.random.Generator):
        self.night = rng.random() < 0.15
        self.exposure = rng.uniform(0.15, 0.45) if self.night else 1.0
        self.gamma = rng.uniform(1.0, 1.6) if self.night else 1.0
        self.noise = ((rng.uniform(1e-4, 2e-3), rng.uniform(0.3, 4.0) ** 2 / 255 ** 2)
                      if rng.random() < 0.7 else (0.0, 0.0))
        self.jpeg = int(rng.integers(50, 98)) if rng.random() < 0.7 else 0

    def expose(self, scene: np.ndarray) -> np.ndarray:
        if not self.night:
            return scene
        return np.power(scene, np.float32(self.gamma)) * np.float32(self.exposure)

    def record(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """The same noise draw on every image (a pair differs by its rain alone), then JPEG."""
        a, b = self.noise
        if a or b:
            noise = _gaussian(images[0].shape, rng)
            noise *= cv2.sqrt(np.clip(images[-1], 0, 1) * a + b)
            images = [im + noise for im in images]
        out = [_to_uint8(im) for im in images]
        if self.jpeg:
            out = [cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])[1], cv2.IMREAD_COLOR)
                   for im in out]
        return out


def _fog(scene: np.ndarray, rng: np.random.Generator, intensity: float) -> np.ndarray:
    h, w = scene.shape[:2]
    depth = np.linspace(rng.uniform(0.8, 1.3), rng.uniform(0.1, 0.4), h, dtype=np.float32)[:, None]
    t = np.exp(-intensity * rng.uniform(0.2, 1.2) * depth)
    transmission = np.ascontiguousarray(np.broadcast_to(t, (h, w)))
    airlight = rng.uniform(0.75, 1.0) + rng.uniform(-0.03, 0.03, 3)
    veil = np.broadcast_to(airlight.astype(np.float32), scene.shape).copy()
    return cv2.blendLinear(scene, veil, transmission, 1 - transmission)


def _blend_streaks(scene: np.ndarray, fld: _Field, t: int, gains) -> np.ndarray:
    """Every layer's streaks at frame t over the scene, by the field's blend; float32 in [0, 1]."""
    rain = sum(g * _streak_map(layer, fld.size, t) for layer, g in zip(fld.layers, gains))
    rain = np.minimum(rain, 1.0)[..., None]
    if fld.blend == "add":
        return np.minimum(scene + rain, 1.0)
    if fld.blend == "screen":
        return 1 - (1 - scene) * (1 - rain)
    return scene + (fld.radiance - scene) * rain


def _compose_streak(scene: np.ndarray, fld: _Field, t: int, gains) -> np.ndarray:
    return _to_uint8(_blend_streaks(scene, fld, t, gains))


def _layer_alpha(fld: _Field, layer: _Layer, t: int, opacity: float) -> np.ndarray:
    alpha = _streak_map(layer, fld.size, t)
    alpha *= layer.visible * opacity if np.isscalar(layer.visible) else cv2.multiply(layer.visible, opacity)
    return np.minimum(alpha, 1.0, out=alpha)


def _compose_physics(scene: np.ndarray, fld: _Field, t: int, gains, rng: np.random.Generator) -> np.ndarray:
    # cv2 arithmetic instead of numpy: a 720p frame must render in well under 0.2 s.
    (far, far_gain), *near = zip(fld.layers, gains)
    alpha = _layer_alpha(fld, far, t, far_gain)
    out = cv2.blendLinear(fld.radiance, scene, alpha, 1 - alpha)
    out = cv2.blendLinear(out, fld.airlight, fld.transmission, 1 - fld.transmission)
    # Layers in front of the veil share one radiance, so "over" compositing them one
    # after the other equals one blend with alpha = 1 - prod(1 - alpha_i).
    clear = np.ones_like(alpha)
    for layer, gain in near:
        clear *= 1 - _layer_alpha(fld, layer, t, gain)
    out = cv2.blendLinear(fld.radiance, out, 1 - clear, clear)
    # Every term above is a convex mix of values in [0, 1], so the variance needs no clipping.
    a, b = fld.noise
    noise = _gaussian(out.shape, rng)
    noise *= cv2.sqrt(out * a + b)
    out += noise
    _, buf = cv2.imencode(".jpg", _to_uint8(out), [cv2.IMWRITE_JPEG_QUALITY, fld.jpeg])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _gaussian(shape, rng: np.random.Generator) -> np.ndarray:
    # OpenCV's generator is ~3x faster than numpy's for a 720p frame; seeding it
    # from `rng` keeps results reproducible (its state is per thread).
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))
    noise = np.empty((shape[0], int(np.prod(shape[1:]))), np.float32)
    cv2.randn(noise, 0.0, 1.0)
    return noise.reshape(shape)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    # Saturating, rounding conversion in one pass.
    return cv2.multiply(img, (255.0, 255.0, 255.0, 0.0), dtype=cv2.CV_8U)


def _frames(clean: np.ndarray, n_frames: int, rng: np.random.Generator, style: str,
            intensity: float) -> Iterator[np.ndarray]:
    if intensity == 0:
        for _ in range(n_frames):
            yield clean.copy()
        return
    scene = np.multiply(clean, np.float32(1 / 255), dtype=np.float32)
    size = (clean.shape[1], clean.shape[0])
    if style == "broad":
        yield from _broad_frames(scene, n_frames, rng, intensity)
        return
    fld = (_physics_field(scene, rng, intensity) if style == "physics"
           else _streak_field(size, rng, intensity))
    if style == "streak-fog":
        scene = _fog(scene, rng, intensity)
    for layer in fld.layers:
        _seed_drops(layer, size, rng)
    for t in range(n_frames):
        if t:
            _respawn(fld, rng)
        # Brightness flicker: drops and lighting never repeat exactly.
        gains = [layer.opacity * (rng.uniform(0.9, 1.1) if t else 1.0) for layer in fld.layers]
        if style == "physics":
            yield _compose_physics(scene, fld, t, gains, rng)
        else:
            yield _compose_streak(scene, fld, t, gains)


def _broad_frames(scene: np.ndarray, n_frames: int, rng: np.random.Generator, intensity: float,
                  pairs: bool = False) -> Iterator:
    """Rainy frames of one scene; with `pairs`, (rainy, clean as the same camera records it)."""
    cam = _Camera(rng)
    scene = cam.expose(scene)
    fld = _broad_field(scene, rng, intensity, cam.night)
    for layer in fld.layers:
        _seed_drops(layer, fld.size, rng)
    for t in range(n_frames):
        if t:
            _respawn(fld, rng)
        gains = [layer.opacity * (rng.uniform(0.9, 1.1) if t else 1.0) for layer in fld.layers]
        rainy = _compose_broad(scene, fld, t, gains) if intensity > 0 else scene
        yield tuple(cam.record([rainy, scene], rng)) if pairs else cam.record([rainy], rng)[0]


def render_pair(clean: np.ndarray, rng: np.random.Generator, style: str = "broad",
                intensity: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A training pair (rainy, clean) from a clean BGR uint8 image.

    For `broad` the clean side is the photo as the same camera records it (night exposure,
    the same noise draw, JPEG): the pair differs by its rain alone. Other styles return
    the photo itself as the clean side.
    """
    _check(clean, style, intensity)
    if style != "broad":
        return render(clean, rng, style, intensity), clean
    scene = np.multiply(clean, np.float32(1 / 255), dtype=np.float32)
    return next(_broad_frames(scene, 1, rng, intensity, pairs=True))


def _respawn(fld: _Field, rng: np.random.Generator) -> None:
    w, h = fld.size
    for layer in fld.layers:
        n = len(layer.value)
        idx = np.flatnonzero(rng.random(n) < _RESPAWN)
        span = (w + 2 * layer.pad, h + 2 * layer.pad)
        layer.xy[idx] = rng.random((len(idx), 2)) * span
        layer.value[idx] = rng.uniform(0.5, 1.0, len(idx))


def render(clean: np.ndarray, rng: np.random.Generator, style: str = "streak",
           intensity: float = 0.5) -> np.ndarray:
    """One rainy image from a clean BGR uint8 image of the same size.

    Every rain parameter (angle, density, length, width, blend, veil...) is
    drawn from `rng` within what `intensity` allows; intensity 0 returns an
    unchanged copy.
    """
    return next(render_sequence(clean, 1, rng, style, intensity))


def render_sequence(clean: np.ndarray, n_frames: int, rng: np.random.Generator,
                    style: str = "physics", intensity: float = 0.5) -> Iterator[np.ndarray]:
    """`n_frames` rainy frames of one still scene: one rain field whose drops fall.

    Each depth layer moves along its angle at its own speed (near ones
    faster, in pixels per frame); noise, JPEG and brightness flicker are fresh
    every frame. Frames are produced lazily.
    """
    if n_frames < 0:
        raise RainloopError(f"frame count {n_frames}: must not be negative")
    _check(clean, style, intensity)
    return _frames(clean, n_frames, rng, style, intensity)
