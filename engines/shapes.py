"""Optimization profiles: the input shapes an engine accepts (min, opt, max).

`--shapes` takes three shapes `MIN:OPT:MAX` (or one, for a fixed size), each
either a full 4-d shape in the model's own layout (`1x3x240x320` for NCHW
float models, `1x240x320x3` for NHWC uint8 models) or a camera size
`WIDTHxHEIGHT` (`320x240`), which means batch 1, 3 channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from rainloop.errors import RainloopError
from rainloop.sizes import parse_size

# Typical cameras: QVGA up to 1080p, tuned for 720p.
DEFAULT_SHAPES = "320x240:1280x720:1920x1080"

# Exported graphs pad inside (replicate today; reflect pads need side > pad),
# so tiny sides are never meaningful; no camera delivers less than this.
MIN_SIDE = 32

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class Profile:
    min: Shape
    opt: Shape
    max: Shape

    def as_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    def __str__(self) -> str:
        return ":".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))


def parse_shapes(text: str | None, layout: str, fixed: tuple[int | None, ...] = (None,) * 4) -> Profile:
    """Parse and validate `--shapes` for a model with `layout` ("nchw" | "nhwc").

    `fixed` holds the ONNX input's static sizes (None where dynamic); the
    profile must agree with them, and the default profile adopts them.
    """
    if text is None:
        shapes = [_with_fixed(_parse_one(p, layout), fixed) for p in DEFAULT_SHAPES.split(":")]
    else:
        parts = text.strip().split(":")
        if len(parts) not in (1, 3):
            raise RainloopError(f"--shapes {text!r}: expected MIN:OPT:MAX (or one shape), "
                                f"e.g. {DEFAULT_SHAPES}")
        shapes = [_parse_one(p, layout) for p in parts] * (3 if len(parts) == 1 else 1)
    profile = Profile(*shapes)
    _validate(profile, layout, fixed, text or DEFAULT_SHAPES)
    return profile


def _parse_one(part: str, layout: str) -> Shape:
    numbers = part.strip().lower().split("x")
    if len(numbers) == 2:
        w, h = parse_size(part.strip())
        return (1, h, w, 3) if layout == "nhwc" else (1, 3, h, w)
    try:
        dims = tuple(int(n) for n in numbers)
    except ValueError:
        dims = ()
    if len(dims) != 4:
        example = "1x240x320x3" if layout == "nhwc" else "1x3x240x320"
        raise RainloopError(f"--shapes: {part!r} is neither WIDTHxHEIGHT (320x240) "
                            f"nor a 4-d {layout.upper()} shape ({example})")
    return dims


def _with_fixed(shape: Shape, fixed: tuple[int | None, ...]) -> Shape:
    return tuple(f if f is not None else s for s, f in zip(shape, fixed))


def _validate(p: Profile, layout: str, fixed: tuple[int | None, ...], text: str) -> None:
    names = "NHWC" if layout == "nhwc" else "NCHW"
    c, sides = (3, (1, 2)) if layout == "nhwc" else (1, (2, 3))
    for shape in (p.min, p.opt, p.max):
        shown = "x".join(map(str, shape))
        if shape[c] != 3:
            example = "1x240x320x3" if layout == "nhwc" else "1x3x240x320"
            raise RainloopError(f"--shapes {text!r}: {shown} has {shape[c]} channels; this model takes "
                                f"{names} with 3 channels, e.g. {example} (or WIDTHxHEIGHT)")
        if shape[0] < 1:
            raise RainloopError(f"--shapes {text!r}: batch must be at least 1 in {shown}")
        if min(shape[i] for i in sides) < MIN_SIDE:
            raise RainloopError(f"--shapes {text!r}: {shown} has a side under {MIN_SIDE} pixels")
    for i, name in enumerate(names):
        if not p.min[i] <= p.opt[i] <= p.max[i]:
            raise RainloopError(f"--shapes {text!r}: need min <= opt <= max for {name} "
                                f"(got {p.min[i]}, {p.opt[i]}, {p.max[i]})")
        if fixed[i] is not None and {p.min[i], p.opt[i], p.max[i]} != {fixed[i]}:
            raise RainloopError(f"--shapes {text!r}: the model fixes {name} to {fixed[i]}; "
                                f"the profile must use {fixed[i]} there")
