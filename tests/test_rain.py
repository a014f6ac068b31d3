
import numpy as np
import pytest

from rainloop import builtin, rain
from rainloop.errors import RainloopError


@pytest.fixture(scope="module")
def clean():
    return builtin.random_crop(np.random.default_rng(0), (160, 120), split="test")


@pytest.mark.parametrize("style", rain.STYLES)
def test_intensity_zero_is_dry(clean, style):
    out = rain.render(clean, np.random.default_rng(1), style, 0.0)
    np.testing.assert_array_equal(out, clean)
    assert out is not clean


@pytest.mark.parametrize("style", rain.STYLES)
def test_render_keeps_size_and_is_seeded(clean, style):
    a = rain.render(clean, np.random.default_rng(5), style, 0.5)
    b = rain.render(clean, np.random.default_rng(5), style, 0.5)
    c = rain.render(clean, np.random.default_rng(6), style, 0.5)
    assert a.shape == clean.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, clean)


@pytest.mark.parametrize("style", rain.STYLES)
def test_heavier_rain_changes_the_image_more(clean, style):
    def damage(intensity):
        # broad draws its whole look per image: more draws to see the trend
        diffs = [np.abs(rain.render(clean, np.random.default_rng(s), style, intensity).astype(int) - clean).mean()
                 for s in range(16 if style == "broad" else 4)]
        return np.mean(diffs)

    assert damage(0.2) < damage(0.5) < damage(1.0)


def test_streak_rain_only_brightens(clean):
    out = rain.render(clean, np.random.default_rng(2), "streak", 0.7)
    assert (out.astype(int) >= clean.astype(int)).all()


def test_physics_differs_from_streak(clean):
    streak = rain.render(clean, np.random.default_rng(2), "streak", 0.6)
    physics = rain.render(clean, np.random.default_rng(2), "physics", 0.6)
    assert np.abs(streak.astype(int) - physics).mean() > 2
    # Alpha blending toward scene radiance plus veil and noise also darkens some pixels.
    assert (physics.astype(int) < clean.astype(int) - 8).any()


def test_streak_fog_is_the_same_streaks_in_front_of_depth_dependent_fog(clean):
    streak = rain.render(clean, np.random.default_rng(3), "streak", 0.8)
    fog = rain.render(clean, np.random.default_rng(3), "streak-fog", 0.8).astype(float)
    background = (streak == clean).all(2)  # no streak here (the same drops fall in both)
    assert background.mean() > 0.3
    # Fog pulls the scene toward one bright airlight: less contrast than the clean scene.
    assert fog[background].std() < 0.9 * clean.astype(float)[background].std()
    # On a flat grey scene the veil shows the depth: thicker toward the top of the frame.
    grey = np.full_like(clean, 60)
    veil = rain.render(grey, np.random.default_rng(3), "streak-fog", 0.8).astype(float) - 60
    clear = (rain.render(grey, np.random.default_rng(3), "streak", 0.8) == 60).all(2)
    quarter = len(grey) // 4
    assert veil[:quarter][clear[:quarter]].mean() > veil[-quarter:][clear[-quarter:]].mean() + 10


def test_line_kernel_follows_the_angle():
    vertical = rain.line_kernel(10, 0, 1)
    assert vertical.max() == pytest.approx(1.0)
    col = vertical.shape[1] // 2
    assert vertical[:, col].sum() == pytest.approx(vertical.sum(), rel=0.05)
    tilted = rain.line_kernel(10, 30, 1)
    ys, xs = np.nonzero(tilted > 0.5)
    slope = np.polyfit(ys, xs, 1)[0]
    assert slope == pytest.approx(np.tan(np.radians(30)), abs=0.1)


@pytest.mark.parametrize("style", rain.STYLES)
def test_sequence_frames_move_and_keep_size(clean, style):
    frames = list(rain.render_sequence(clean, 4, np.random.default_rng(9), style, 0.6))
    assert len(frames) == 4
    for a, b in zip(frames, frames[1:]):
        assert a.shape == clean.shape and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b).mean() > 0.5


def test_sequence_is_one_rain_field():
    # A flat grey scene shows only the rain; frames share the wind angle, so
    # their rain layers stay correlated once shifted back along the fall.
    flat = np.full((96, 96, 3), 60, np.uint8)
    f0, f1 = rain.render_sequence(flat, 2, np.random.default_rng(4), "streak", 0.3)
    g0 = f0[..., 0].astype(float) - 60
    g1 = f1[..., 0].astype(float) - 60
    spectrum = np.fft.ifft2(np.fft.fft2(g0) * np.conj(np.fft.fft2(g1))).real
    peak = spectrum.max() / np.sqrt((g0 ** 2).sum() * (g1 ** 2).sum())
    assert peak > 0.5


def test_bad_arguments(clean):
    rng = np.random.default_rng(0)
    with pytest.raises(RainloopError, match="rain style 'snow'"):
        rain.render(clean, rng, "snow")
    with pytest.raises(RainloopError, match="intensity 1.5"):
        rain.render(clean, rng, "streak", 1.5)
    with pytest.raises(RainloopError, match="frame count"):
        rain.render_sequence(clean, -1, rng)
    with pytest.raises(ValueError):
        rain.render(clean[..., 0], rng)


def test_a_dry_broad_pair_is_one_image_and_a_wet_one_differs_by_its_rain(clean):
    rainy, cam = rain.render_pair(clean, np.random.default_rng(3), "broad", 0.0)
    np.testing.assert_array_equal(rainy, cam)  # exposure, noise and JPEG shared: nothing to remove
    wet = [rain.render_pair(clean, np.random.default_rng(s), "broad", 0.8) for s in range(6)]
    assert all(not np.array_equal(r, c) for r, c in wet)
    # The camera changes the clean side too, but far less than the rain changes the rainy one.
    camera = np.mean([np.abs(c.astype(int) - clean).mean() for _, c in wet])
    rain_diff = np.mean([np.abs(r.astype(int) - c).mean() for r, c in wet])
    assert rain_diff > camera * 0.5 and rain_diff > 2


def test_render_pair_of_a_named_style_keeps_the_photo_as_its_clean_side(clean):
    rainy, same = rain.render_pair(clean, np.random.default_rng(1), "streak", 0.5)
    assert same is clean and not np.array_equal(rainy, clean)
