import numpy as np
import pytest

from rainloop import builtin
from rainloop.errors import RainloopError


def test_every_listed_photo_loads_offline_as_bgr():
    photos = builtin.clean_photos("all")
    assert len(photos) == len(builtin.TRAIN) + len(builtin.TEST)
    for img in photos:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert min(img.shape[:2]) >= 100


def test_test_split_is_held_out_from_training():
    assert not set(builtin.TRAIN) & set(builtin.TEST)
    train = {p.tobytes()[:4096] for p in builtin.clean_photos("train")}
    assert not any(p.tobytes()[:4096] in train for p in builtin.clean_photos("test"))


def test_photos_are_bgr_not_rgb():
    import skimage.data

    rgb = skimage.data.coffee()
    coffee = builtin.clean_photos("test")[builtin.TEST.index("coffee")]
    np.testing.assert_array_equal(coffee[..., ::-1], rgb)


def test_random_crop_size_and_determinism():
    a = builtin.random_crop(np.random.default_rng(3), (96, 64))
    b = builtin.random_crop(np.random.default_rng(3), (96, 64))
    c = builtin.random_crop(np.random.default_rng(4), (96, 64))
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_crop_larger_than_photo_upscales():
    crop = builtin.random_crop(np.random.default_rng(0), (1280, 720), split="test")
    assert crop.shape == (720, 1280, 3)


def test_unknown_split_is_a_user_error():
    with pytest.raises(RainloopError, match="unknown split 'val'"):
        builtin.clean_photos("val")
