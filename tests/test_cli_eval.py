import json
import math

import numpy as np
import pytest

from rainloop import builtin, metrics
from rainloop.cli import main
from rainloop.data import open_pairs
from rainloop.images import write_image
from rainloop.synth import synth_pairs


@pytest.fixture(scope="module")
def rainy_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("set")
    crop = lambda rng, size: builtin.random_crop(rng, size, "test")  # noqa: E731
    synth_pairs(root, 4, crop, (64, 48), seed=3, style="physics", intensity=0.5)
    return root


def _eval(capsys, *args):
    code = main(["eval", *map(str, args)])
    return code, capsys.readouterr()


def test_identity_json(rainy_set, tmp_path, capsys):
    out = tmp_path / "scores.json"
    code, io = _eval(capsys, "--data", rainy_set, "--json", out)
    assert code == 0
    report = json.loads(out.read_text())
    assert {"n", "psnr", "ssim", "input_psnr", "input_ssim", "gain_db", "model", "per_image"} <= report.keys()
    assert report["n"] == 4 and report["model"] == "identity" and report["gain_db"] == 0
    assert math.isfinite(report["input_psnr"]) and 10 < report["input_psnr"] < metrics.PSNR_CAP
    first = open_pairs(rainy_set)[0]
    row = report["per_image"][0]
    assert row["name"] == first.name == "00000.png"
    assert row["input_psnr"] == pytest.approx(metrics.psnr(first.rainy, first.clean))
    assert row["input_ssim"] == pytest.approx(metrics.ssim(first.rainy, first.clean))
    assert report["input_psnr"] == pytest.approx(np.mean([r["input_psnr"] for r in report["per_image"]]))
    assert "00003.png" in io.out and "gain +0.00" in io.out


def test_limit_and_y(rainy_set, tmp_path, capsys):
    _eval(capsys, "--data", rainy_set, "--limit", "2", "--json", tmp_path / "rgb.json")
    _eval(capsys, "--data", rainy_set, "--limit", "2", "--y", "--json", tmp_path / "y.json")
    rgb, y = (json.loads((tmp_path / f).read_text()) for f in ("rgb.json", "y.json"))
    assert rgb["n"] == y["n"] == 2 and y["y"] is True
    sample = open_pairs(rainy_set)[1]
    assert y["per_image"][1]["input_psnr"] == pytest.approx(metrics.psnr(sample.rainy, sample.clean, y=True))
    assert y["input_psnr"] != pytest.approx(rgb["input_psnr"])


def _derainer_class():
    runtime = pytest.importorskip("rainloop.runtime")
    if not hasattr(runtime, "Derainer"):
        pytest.skip("rainloop.runtime has no Derainer yet")
    return runtime.Derainer


def _scale_model(path, factor):
    """A real ONNX derainer graph: clean = factor * rainy."""
    import onnx
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"]) for n in ("rainy", "clean")]
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph([helper.make_node("Mul", ["rainy", "k"], ["clean"])], "scale", [io[0]], [io[1]], [k])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_with_an_onnx_model(rainy_set, tmp_path, capsys):
    _derainer_class()
    _scale_model(tmp_path / "dim.onnx", 0.8)
    code, _ = _eval(capsys, "--data", rainy_set, "--model", tmp_path / "dim.onnx", "--json", tmp_path / "s.json")
    assert code == 0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["model"].endswith("dim.onnx")
    sample = open_pairs(rainy_set)[0]
    dimmed = np.clip(sample.rainy * 0.8 + 0.5, 0, 255).astype(np.uint8)
    assert report["per_image"][0]["psnr"] == pytest.approx(metrics.psnr(dimmed, sample.clean), abs=0.05)
    assert report["gain_db"] != 0


def test_size_scores_the_model_as_run_at_that_size(rainy_set, tmp_path, capsys):
    from rainloop.runtime import Derainer

    _derainer_class()
    _scale_model(tmp_path / "dim.onnx", 0.8)
    code, _ = _eval(capsys, "--data", rainy_set, "--model", tmp_path / "dim.onnx", "--size", "32x24",
                    "--json", tmp_path / "s.json")
    assert code == 0
    report = json.loads((tmp_path / "s.json").read_text())
    at_size = Derainer(tmp_path / "dim.onnx", size=(32, 24))
    sample = open_pairs(rainy_set)[0]
    assert report["per_image"][0]["psnr"] == pytest.approx(metrics.psnr(at_size(sample.rainy), sample.clean))
    full = np.clip(sample.rainy * 0.8 + 0.5, 0, 255).astype(np.uint8)  # the model at the pairs' own size
    assert report["per_image"][0]["psnr"] != pytest.approx(metrics.psnr(full, sample.clean), abs=1e-3)
    code, io = _eval(capsys, "--data", rainy_set, "--size", "32x24")
    assert code == 2 and "give --model" in io.err


def test_missing_model_file(rainy_set, tmp_path, capsys):
    _derainer_class()
    code, io = _eval(capsys, "--data", rainy_set, "--model", tmp_path / "nope.onnx")
    assert code == 2
    assert io.err.strip() == f"rainloop eval: error: {tmp_path / 'nope.onnx'}: no such model file or folder"


def test_missing_and_unknown_data(tmp_path, capsys):
    code, io = _eval(capsys, "--data", tmp_path / "absent")
    assert code == 2 and io.err.strip() == f"rainloop eval: error: {tmp_path / 'absent'}: no such folder"
    write_image(tmp_path / "x.png", np.zeros((20, 20, 3), np.uint8))
    code, io = _eval(capsys, "--data", tmp_path)
    assert code == 2 and "no known dataset layout" in io.err and io.err.count("\n") == 1


def test_bad_limit(rainy_set, capsys):
    code, io = _eval(capsys, "--data", rainy_set, "--limit", "0")
    assert code == 2 and "--limit 0: must be 1 or more" in io.err


def test_dry_footage_scores_how_far_each_frame_moves_from_itself(tmp_path, capsys):
    from rainloop.video import write_video

    rng = np.random.default_rng(2)
    frames = [builtin.random_crop(rng, (96, 64), "test") for _ in range(6)]
    write_video(tmp_path / "dry.mp4", frames, fps=10)
    out = tmp_path / "dry.json"
    code, io = _eval(capsys, "--dry", tmp_path / "dry.mp4", "--model", "default", "--limit", "3", "--json", out)
    assert code == 0
    report = json.loads(out.read_text())
    rows = report["per_image"]
    assert report["n"] == len(rows) == 3 and report["layout"] == "dry footage"
    assert all(r["input_psnr"] == metrics.PSNR_CAP for r in rows)  # each frame is its own reference
    assert report["share_38"] == sum(r["psnr"] >= 38 for r in rows) / 3
    assert f"{report['share_38']:.0%} of frames at 38 dB or more" in io.out
    code, io = _eval(capsys, "--dry", tmp_path / "dry.mp4", "--limit", "3")
    assert code == 0 and "100.00 dB on average" in io.out and "100% of frames" in io.out
