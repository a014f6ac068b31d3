import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from rainloop import builtin, metrics, rain


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    clean = builtin.random_crop(rng, (150, 110), split="test")
    return clean, rain.render(clean, rng, "physics", 0.6)


def _sk_ssim(a, b, **kw):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, **kw)


def _sk_luma(bgr):
    return np.round(rgb2ycbcr(bgr[..., ::-1])[..., 0])


def test_rgb_metrics_match_scikit_image(pair):
    clean, rainy = pair
    assert metrics.psnr(rainy, clean) == pytest.approx(peak_signal_noise_ratio(clean, rainy, data_range=255), abs=1e-6)
    assert metrics.ssim(rainy, clean) == pytest.approx(_sk_ssim(clean, rainy, channel_axis=2), abs=1e-4)


def test_y_metrics_match_scikit_image(pair):
    clean, rainy = pair
    yc, yr = _sk_luma(clean), _sk_luma(rainy)
    assert yc.min() >= 16 and yc.max() <= 235
    np.testing.assert_array_equal(metrics.luma(clean), yc)
    expected = peak_signal_noise_ratio(yc, yr, data_range=255)
    assert metrics.psnr(rainy, clean, y=True) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(rainy, clean, y=True) == pytest.approx(_sk_ssim(yc, yr), abs=1e-4)
    assert metrics.psnr(rainy, clean, y=True) != pytest.approx(metrics.psnr(rainy, clean), abs=1e-3)


def test_identical_images(pair):
    clean, _ = pair
    assert metrics.psnr(clean, clean) == metrics.PSNR_CAP
    assert metrics.ssim(clean, clean) == pytest.approx(1.0)


def test_more_rain_scores_lower(pair):
    clean, rainy = pair
    heavy = rain.render(clean, np.random.default_rng(1), "physics", 1.0)
    assert metrics.psnr(heavy, clean) < metrics.psnr(rainy, clean)
    assert metrics.ssim(heavy, clean) < metrics.ssim(rainy, clean)


def test_shape_mismatch_is_rejected(pair):
    clean, _ = pair
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(clean, clean[:-1])


def test_temporal_median_keeps_the_scene_and_drops_falling_rain(pair):
    clean, _ = pair
    frames = list(rain.render_sequence(clean, 15, np.random.default_rng(2), "streak", 0.6))
    median = metrics.temporal_median(frames)
    np.testing.assert_array_equal(median, np.median(np.stack(frames), axis=0).astype(np.uint8))
    assert metrics.psnr(median, clean) > max(metrics.psnr(f, clean) for f in frames) + 6
    # An even count averages the middle two, halves rounding up.
    even = np.floor(np.median(np.stack(frames[:4]), axis=0) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(metrics.temporal_median(frames[:4]), even)


def test_tone_shift_sees_a_darkened_frame_not_thin_streaks(pair):
    clean, _ = pair
    streaks = rain.render(clean, np.random.default_rng(1), "streak", 0.2)
    darker = np.clip(clean.astype(np.int16) - 10, 0, 255).astype(np.uint8)
    assert metrics.tone_shift(clean, clean) == 0
    assert metrics.tone_shift(darker, clean) == pytest.approx(10, abs=0.5)
    # The streaks change the frame more than the darkening does, yet leave its tone.
    assert metrics.psnr(streaks, clean) < metrics.psnr(darker, clean)
    assert metrics.tone_shift(streaks, clean) < 4


def test_bright_detail_grows_with_streaks_not_with_tone(pair):
    clean, _ = pair
    streaks = rain.render(clean, np.random.default_rng(1), "streak", 0.5)
    darker = np.clip(clean.astype(np.int16) - 10, 0, 255).astype(np.uint8)
    assert metrics.bright_detail(streaks) > 5 * metrics.bright_detail(clean)
    assert metrics.bright_detail(darker) == pytest.approx(metrics.bright_detail(clean), rel=0.1)


def test_bright_detail_counts_thin_lines_not_wide_bands():
    grey = np.full((60, 80, 3), 100, np.uint8)
    line, band = grey.copy(), grey.copy()
    line[:, 40:42] = 200
    band[:, 30:50] = 200
    assert metrics.bright_detail(grey) == 0
    assert metrics.bright_detail(band) == 0
    # Only the two line columns exceed their median, by the luma step of +100 grey levels.
    step = metrics.luma(line)[0, 40] - metrics.luma(grey)[0, 40]
    assert metrics.bright_detail(line) == pytest.approx(step ** 2 * 2 / 80)


def test_real_rain_measures_reject_bad_input(pair):
    clean, _ = pair
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.tone_shift(clean, clean[:-1])
    with pytest.raises(ValueError, match="odd"):
        metrics.tone_shift(clean, clean, window=20)
    with pytest.raises(ValueError, match="uint8"):
        metrics.bright_detail(clean.astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        metrics.temporal_median([clean.astype(np.float32)] * 3)
