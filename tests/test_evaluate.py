import numpy as np
import pytest

from rainloop import builtin, metrics, rain
from rainloop.data import Sample
from rainloop.evaluate import evaluate


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    out = []
    for k in range(3):
        clean = builtin.random_crop(rng, (48, 40), "test")
        out.append(Sample(rain.render(clean, rng, "streak", 0.5), clean, f"s{k}"))
    return out


def test_identity_has_zero_gain(samples):
    report = evaluate(samples)
    assert report["n"] == 3 and report["gain_db"] == 0
    assert report["psnr"] == report["input_psnr"] < metrics.PSNR_CAP
    assert [r["name"] for r in report["per_image"]] == ["s0", "s1", "s2"]


def test_oracle_reaches_the_cap_and_limit_counts(samples):
    oracle = {id(s.rainy): s.clean for s in samples}
    report = evaluate(iter(samples), lambda rainy: oracle[id(rainy)], limit=2)
    assert report["n"] == 2
    assert report["psnr"] == metrics.PSNR_CAP and report["ssim"] == pytest.approx(1.0)
    assert report["gain_db"] == pytest.approx(metrics.PSNR_CAP - report["input_psnr"])


def test_worst_image_and_percentile_expose_what_the_mean_hides(samples):
    # The oracle on two images and identity on the third: the mean stays high (a perfect
    # image counts 100 dB), the worst image and the 10th percentile show the bad one.
    oracle = {id(s.rainy): s.clean for s in samples[:2]}
    report = evaluate(samples, lambda rainy: oracle.get(id(rainy), rainy))
    bad = metrics.psnr(samples[2].rainy, samples[2].clean)
    assert report["psnr"] > 60
    assert report["worst"] == {"name": "s2", "psnr": pytest.approx(bad)}
    assert bad < report["psnr_p10"] < metrics.PSNR_CAP


def test_wrong_output_shape_is_a_bug(samples):
    with pytest.raises(ValueError, match="s0: derainer returned"):
        evaluate(samples, lambda rainy: rainy[:-1])
