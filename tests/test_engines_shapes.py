"""rainloop.engines.shapes: --shapes parsing and validation."""

import pytest

from rainloop.engines.shapes import DEFAULT_SHAPES, MIN_SIDE, Profile, parse_shapes
from rainloop.errors import RainloopError


def test_nchw_shapes():
    p = parse_shapes("1x3x240x320:1x3x720x1280:1x3x1080x1920", "nchw")
    assert p == Profile((1, 3, 240, 320), (1, 3, 720, 1280), (1, 3, 1080, 1920))


def test_width_by_height_form_expands_to_the_layout():
    assert parse_shapes("320x240:1280x720:1920x1080", "nchw") == \
        parse_shapes("1x3x240x320:1x3x720x1280:1x3x1080x1920", "nchw")
    assert parse_shapes("320x240:1280x720:1920x1080", "nhwc") == \
        Profile((1, 240, 320, 3), (1, 720, 1280, 3), (1, 1080, 1920, 3))


def test_forms_mix_per_part():
    p = parse_shapes("320x240:1x3x720x1280:2x3x1080x1920", "nchw")
    assert p.min == (1, 3, 240, 320) and p.max == (2, 3, 1080, 1920)


def test_nhwc_full_shapes():
    p = parse_shapes("1x240x320x3:1x720x1280x3:4x1080x1920x3", "nhwc")
    assert p.opt == (1, 720, 1280, 3) and p.max[0] == 4


def test_one_shape_means_fixed():
    p = parse_shapes("640x480", "nchw")
    assert p.min == p.opt == p.max == (1, 3, 480, 640)


def test_default_is_the_camera_range():
    assert parse_shapes(None, "nchw") == parse_shapes(DEFAULT_SHAPES, "nchw")
    assert str(parse_shapes(None, "nchw")) == "1x3x240x320:1x3x720x1280:1x3x1080x1920"


def test_default_adopts_fixed_model_dims():
    p = parse_shapes(None, "nchw", (1, 3, 256, None))
    assert p.min == (1, 3, 256, 320) and p.max == (1, 3, 256, 1920)



@pytest.mark.parametrize("text,words", [
    ("1280x720:640x480:1920x1080", "min <= opt <= max for H"),
    ("320x240:1280x720:1024x1080", "min <= opt <= max for W"),
    ("1x4x240x320:1x3x720x1280:1x3x1080x1920", "4 channels"),
    ("0x3x240x320:1x3x720x1280:1x3x1080x1920", "batch must be at least 1"),
    (f"{MIN_SIDE - 1}x240:1280x720:1920x1080", f"side under {MIN_SIDE}"),
    ("320x240:1280x720", "MIN:OPT:MAX"),
    ("320x240:big:1920x1080", "neither WIDTHxHEIGHT"),
    ("1x3x240:1x3x720x1280:1x3x1080x1920", "neither WIDTHxHEIGHT"),
    ("-320x240:1280x720:1920x1080", "positive"),
    ("320x240:1280x720:1920x10800", "above 8192 px"),
])
def test_bad_shapes(text, words):
    with pytest.raises(RainloopError, match=words) as err:
        parse_shapes(text, "nchw")
    assert "\n" not in str(err.value)


def test_nchw_shape_for_an_nhwc_model_says_how_to_write_it():
    with pytest.raises(RainloopError, match=r"NHWC with 3 channels, e.g. 1x240x320x3"):
        parse_shapes("1x3x240x320:1x3x720x1280:1x3x1080x1920", "nhwc")


def test_profile_must_respect_fixed_model_dims():
    with pytest.raises(RainloopError, match="fixes N to 1"):
        parse_shapes("1x3x240x320:2x3x720x1280:4x3x1080x1920", "nchw", (1, 3, None, None))
