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
