"""Procedural skies: smooth above a horizon, the scene untouched below it, and free when off."""

import numpy as np

from rainloop import builtin, rain
from rainloop.skies import add_sky
from rainloop.training.batches import RAIN_MIXES, draw_intensity, open_real, open_synthetic


def test_sky_is_smooth_above_the_horizon_and_leaves_the_scene_below():
    crop = builtin.random_crop(np.random.default_rng(0), (160, 120), split="train")
    for seed in range(8):
        out = add_sky(crop, np.random.default_rng(seed))
        assert out.shape == crop.shape and out.dtype == np.uint8
        assert np.array_equal(out, add_sky(crop, np.random.default_rng(seed)))
        h = crop.shape[0]
        # The horizon lies between 20% and 65% of the height (plus a soft edge of a few rows).
        assert np.array_equal(out[int(0.65 * h) + 8:], crop[int(0.65 * h) + 8:])
        sky = out[: int(0.2 * h) - 8].astype(float)
        assert not np.array_equal(sky, crop[: int(0.2 * h) - 8])
        # Smooth: neighbouring pixels differ by about a grey level, far less than in the photo.
        assert np.abs(np.diff(sky, axis=1)).mean() < 1.5


def test_no_sky_spends_no_draws_so_older_runs_see_the_same_crops():
    syn, real = open_synthetic("builtin", 40, style="streak", sky=0.0), open_real("builtin", 40, sky=0.0)
    for seed in range(5):
        twin = np.random.default_rng(seed)
        clean = builtin.random_crop(twin, (32, 32), split="train")
        rainy = rain.render(clean, twin, "streak", draw_intensity(twin, RAIN_MIXES["default"]))
        assert all(np.array_equal(a, b) for a, b in zip(syn.draw(np.random.default_rng(seed), 32), (rainy, clean)))
    skies = open_synthetic("builtin", 40, style="streak", sky=1.0)  # broad would re-expose the clean side
    assert "100% with a procedural sky" in skies.description and "procedural sky" not in real.description
    for seed in range(5):  # with sky=1 every crop gets one: the same crop, a new top
        clean = skies.draw(np.random.default_rng(seed), 64)[1]
        plain = builtin.random_crop(np.random.default_rng(seed), (64, 64), split="train")
        assert not np.array_equal(clean[:8], plain[:8]) and np.array_equal(clean[56:], plain[56:])
