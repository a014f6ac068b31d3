"""Training data draws: built-in rain with dry frames, dataset folders with a bad file, a video."""

import cv2
import numpy as np
import pytest

from rainloop.images import write_image
from rainloop import builtin
from rainloop.errors import RainloopError
from rainloop.training.batches import (REAL_MIXES, draw_batch, draw_intensity, keep_tone, open_real,
                                       open_synthetic, step_rngs, to_image, to_tensor)
from rainloop.metrics import bright_detail, tone_shift


def test_builtin_pairs_mix_dry_frames_and_are_reproducible():
    syn = open_synthetic("builtin", 40)
    rng = np.random.default_rng(1)
    draws = [syn.draw(rng, 32) for _ in range(120)]
    dry = sum(np.array_equal(r, c) for r, c in draws)
    assert 5 <= dry <= 30  # ~12% of the default mix
    again = open_synthetic("builtin", 40).draw(np.random.default_rng(1), 32)
    assert all(np.array_equal(a, b) for a, b in zip(again, draws[0]))


def test_streak_fog_pairs_share_the_clean_crop_and_streaks_but_add_fog():
    plain = open_synthetic("builtin", 40, style="streak").draw(np.random.default_rng(4), 64)
    fog = open_synthetic("builtin", 40, style="streak-fog").draw(np.random.default_rng(4), 64)
    assert np.array_equal(plain[1], fog[1]) and not np.array_equal(plain[0], plain[1])  # seed 4 is wet
    assert np.abs(fog[0].astype(int) - plain[0]).mean() > 2
    with pytest.raises(RainloopError, match="--syn-style 'drizzle'"):
        open_synthetic("builtin", 40, style="drizzle")


def test_physics_pairs_are_the_stand_in_real_domains_rain_on_the_same_crop():
    rng = np.random.default_rng(4)
    rainy, clean = open_synthetic("builtin", 40, style="physics").draw(rng, 64)
    plain = open_synthetic("builtin", 40, style="streak").draw(np.random.default_rng(4), 64)
    assert np.array_equal(clean, plain[1]) and np.abs(rainy.astype(int) - clean).mean() > 2


def test_streak_targets_keep_the_rains_tone_and_lose_its_streaks():
    rainy, clean = open_synthetic("builtin", 64, style="broad").draw(np.random.default_rng(9), 96)
    streaks = open_synthetic("builtin", 64, style="broad", target="streaks").draw(np.random.default_rng(9), 96)
    assert np.array_equal(streaks[0], rainy) and not np.array_equal(rainy, clean)  # seed 9: heavy rain
    target = streaks[1]
    # The target is nearer the rainy frame's tone than the clean frame is, with the clean frame's
    # thin bright detail.
    assert tone_shift(rainy, target) < 0.6 * tone_shift(rainy, clean)
    assert abs(bright_detail(target) - bright_detail(clean)) < 0.25 * abs(bright_detail(rainy) - bright_detail(clean))
    assert np.array_equal(keep_tone(clean, clean, 6.0), clean)
    with pytest.raises(RainloopError, match="data.target 'veil'"):
        open_synthetic("builtin", 40, target="veil")


def test_builtin_real_default_mix_has_dry_frames_and_drizzle_rain_mix_never_dry():
    rng = np.random.default_rng(2)
    default = [draw_intensity(rng, REAL_MIXES["default"]) for _ in range(400)]
    rain = [draw_intensity(rng, REAL_MIXES["rain"]) for _ in range(400)]
    assert 25 <= default.count(0.0) <= 75 and min(x for x in default if x) < 0.15
    assert min(rain) >= 0.15
    # A dry draw of the stand-in real domain is the untouched crop, a rainy one is not.
    real, dry = open_real("builtin", 40), 0
    for s in range(40):
        frame = real.draw(np.random.default_rng(s), 32)[0]
        twin = np.random.default_rng(s)
        clean = builtin.random_crop(twin, (32, 32), split="train")
        is_dry = draw_intensity(twin, REAL_MIXES["default"]) == 0.0
        assert np.array_equal(frame, clean) == is_dry
        dry += is_dry
    assert dry >= 1
    with pytest.raises(RainloopError, match="data.real_mix 'fog'"):
        open_real("builtin", 40, mix="fog")


def test_batch_is_rgb_float_nchw_and_per_step_reproducible():
    syn, real = open_synthetic("builtin", 40), open_real("builtin", 40)
    a = draw_batch(syn, real, step_rngs(5, 7), 2, 32)
    b = draw_batch(syn, real, step_rngs(5, 7), 2, 32)
    assert set(a) == {"O_s", "B_s", "O_t"} and a["O_t"].shape == (2, 3, 32, 32)
    assert all(float(v.min()) >= 0 and float(v.max()) <= 1 for v in a.values())
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    # Stage 1 draws no real images and still gets the same synthetic ones.
    c = draw_batch(syn, None, step_rngs(5, 7), 2, 32)
    assert "O_t" not in c and np.array_equal(c["O_s"].numpy(), a["O_s"].numpy())


def test_tensor_round_trip_keeps_bgr_order():
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR
    t = to_tensor([img])
    assert t[0, 2].min() > 0.7 and t[0, 0].max() == 0  # blue is the last RGB channel
    assert np.array_equal(to_image(t[0]), img)


def test_folder_pairs_crop_the_same_window_and_skip_a_bad_file(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        clean = rng.integers(0, 200, (50, 70, 3), dtype=np.uint8)
        write_image(tmp_path / "clean" / f"{i}.png", clean)
        write_image(tmp_path / "rainy" / f"{i}.png", clean + 40)
    write_image(tmp_path / "clean" / "bad.png", clean)
    (tmp_path / "rainy" / "bad.png").write_bytes(b"not a png")
    syn = open_synthetic(str(tmp_path), 40)
    with pytest.warns(UserWarning, match="bad.png"):
        draws = [syn.draw(np.random.default_rng(s), 32) for s in range(12)]
    for rainy, clean in draws:
        assert rainy.shape == clean.shape == (32, 32, 3)
        # Same window (and flip) in both: the rainy crop is the clean crop + 40, up to resampling.
        assert np.abs(rainy.astype(int) - clean.astype(int) - 40).mean() < 2
    assert "4 pairs" in syn.description


def _clip(path, levels, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for level in levels:
        writer.write(np.full((size[1], size[0], 3), level, np.uint8))
    writer.release()
    return path


def test_real_from_a_video_file(tmp_path):
    real = open_real(str(_clip(tmp_path / "rain.avi", [30 * i for i in range(6)])), 40, every=2)
    assert len(real.samples) == 3 and "rain.avi" in real.description
    (frame,) = real.draw(np.random.default_rng(0), 32)
    assert frame.shape == (32, 32, 3)


def test_real_from_a_folder_of_clips(tmp_path):
    _clip(tmp_path / "a.mp4", [40] * 3)
    _clip(tmp_path / "b.avi", [160] * 2, size=(96, 72))
    real = open_real(str(tmp_path), 40)
    assert len(real.samples) == 5 and "5 images" in real.description
    levels = {round(float(real.draw(np.random.default_rng(seed), 32)[0].mean()), -1) for seed in range(20)}
    assert levels == {40, 160}  # both clips are drawn from
