"""rainloop.engines.verify: comparing two models on images (here two ONNX Runtime sessions)."""

import numpy as np
import onnxruntime as ort
import pytest
from engines_toys import fp32_model, qdq_model, uint8_model

from rainloop.data import Sample
from rainloop.engines.verify import compare_models, fit_to_profile, format_table, open_samples
from rainloop.errors import RainloopError
from rainloop.images import write_image
from rainloop.metrics import PSNR_CAP

NCHW_RANGE = ((1, 3, 32, 32), (1, 3, 64, 96))


def session(path):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: s.run(None, {"rainy": x})[0]


def images(n=3, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    fp32 = fp32_model(d / "m.onnx")
    return {"fp32": session(fp32), "int8": session(qdq_model(fp32, d / "m.int8.onnx")),
            "uint8": session(uint8_model(d / "u.onnx"))}


def test_same_model_twice_is_identical(models):
    samples = [Sample(im, None, f"{i}.png") for i, im in enumerate(images())]
    rows = compare_models(models["fp32"], models["fp32"], samples, "nchw", np.float32, NCHW_RANGE)
    assert [r.name for r in rows] == ["0.png", "1.png", "2.png"]
    assert all(r.engine_vs_reference == PSNR_CAP and r.engine_vs_clean is None for r in rows)
    assert rows[0].size == (64, 48)


def test_int8_against_fp32_differs_a_little(models):
    clean = images(3, seed=1)
    samples = [Sample(im, c, f"{i}.png") for i, (im, c) in enumerate(zip(images(), clean))]
    rows = compare_models(models["int8"], models["fp32"], samples, "nchw", np.float32, NCHW_RANGE)
    for r in rows:
        assert r.engine_vs_reference < PSNR_CAP  # quantization changed something ...
        # ... far less than the distance to unrelated "clean" images
        assert r.engine_vs_reference > max(r.engine_vs_clean, r.reference_vs_clean) + 6


def test_uint8_model(models):
    samples = [Sample(im, None, "a.png") for im in images(1)]
    rows = compare_models(models["uint8"], models["uint8"], samples, "nhwc", np.uint8,
                          ((1, 32, 32, 3), (1, 64, 96, 3)))
    assert rows[0].engine_vs_reference == PSNR_CAP


def test_min_batch_above_one_still_works(models):
    samples = [Sample(im, None, "a.png") for im in images(1)]
    rows = compare_models(models["fp32"], models["fp32"], samples, "nchw", np.float32,
                          ((2, 3, 32, 32), (4, 3, 64, 96)))
    assert rows[0].engine_vs_reference == PSNR_CAP


def test_no_samples_is_an_error(models):
    with pytest.raises(RainloopError, match="no images"):
        compare_models(models["fp32"], models["fp32"], [], "nchw", np.float32, NCHW_RANGE)


@pytest.mark.parametrize("h,w,want", [
    (48, 64, (48, 64)),  # inside: untouched
    (128, 192, (64, 96)),  # too big: shrunk, aspect kept
    (640, 96, (64, 32)),  # too tall: shrunk, then the narrow side raised to the minimum
    (16, 40, (32, 40)),  # too small: raised to the minimum
])
def test_fit_to_profile(h, w, want):
    rainy = np.zeros((h, w, 3), np.uint8)
    fitted, clean = fit_to_profile(rainy, rainy.copy(), NCHW_RANGE, "nchw")
    assert fitted.shape[:2] == want and clean.shape == fitted.shape


def test_fit_to_profile_nhwc_without_clean():
    fitted, clean = fit_to_profile(np.zeros((100, 100, 3), np.uint8), None, ((1, 32, 32, 3), (1, 50, 80, 3)), "nhwc")
    assert fitted.shape[:2] == (50, 50) and clean is None


def test_open_samples_paired_and_unpaired(tmp_path):
    for i, (r, c) in enumerate(zip(images(2), images(2, seed=1))):
        write_image(tmp_path / "pairs" / "rainy" / f"{i}.png", r)
        write_image(tmp_path / "pairs" / "clean" / f"{i}.png", c)
        write_image(tmp_path / "real" / f"{i}.png", r)
    paired = list(open_samples(tmp_path / "pairs"))
    assert len(paired) == 2 and all(s.clean is not None for s in paired)
    unpaired = list(open_samples(tmp_path / "real"))
    assert len(unpaired) == 2 and all(s.clean is None for s in unpaired)


def test_broken_pairs_are_an_error_not_unpaired(tmp_path):
    write_image(tmp_path / "rainy" / "a.png", images(1)[0])
    write_image(tmp_path / "clean" / "b.png", images(1)[0])
    with pytest.raises(RainloopError):
        list(open_samples(tmp_path))


def test_format_table(models):
    samples = [Sample(im, c, f"img{i}.png") for i, (im, c) in enumerate(zip(images(2), images(2, seed=1)))]
    rows = compare_models(models["int8"], models["fp32"], samples, "nchw", np.float32, NCHW_RANGE)
    lines = format_table(rows).splitlines()
    assert len(lines) == 4 and "TRT~ORT" in lines[0]
    assert lines[1].startswith("img0.png") and "64x48" in lines[1]
    mean = np.mean([r.engine_vs_reference for r in rows])
    assert lines[3].startswith("mean") and f"{mean:.2f}" in lines[3]
    unpaired = format_table([rows[0].__class__("x", (1, 1), 30.0, None, None)]).splitlines()
    assert unpaired[1].split()[-2:] == ["-", "-"]
