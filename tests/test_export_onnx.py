"""rainloop.export.onnx_export: a G3 checkpoint -> an ONNX graph that matches PyTorch at any size."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from rainloop.export.card import card_path, read_card
from rainloop.files import sha256_file
from rainloop.export.complexity import gflops, parameter_count
from rainloop.export.onnx_export import export_onnx
from rainloop.export.ort_model import OrtDerainer
from rainloop.export.parity import torch_reference
from rainloop.export.samples import rainy_pairs
from rainloop.models import DEFAULT_ONNX, DEFAULT_WEIGHTS
from rainloop.training.derainer_io import load_derainer, save_derainer
from rainloop.training.networks import build_derainer
from rainloop.training.presets import get_preset

SMALL_CHECKS = [(131, 67), (64, 40)]


def make_g3(folder, preset: str, **meta):
    """A freshly initialised G3 of `preset` saved as a run would save it."""
    torch.manual_seed(0)
    spec = get_preset(preset)["g1"]
    save_derainer(build_derainer(spec), spec, folder / "g3.safetensors", {"preset": preset, **meta})
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    ckpt = make_g3(root / "run", "tiny", step=123, stage=2, val_psnr=21.5, data="builtin photos, physics rain")
    out = root / "model.onnx"
    return ckpt, out, export_onnx(ckpt, out)


def _dims(value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_graph_has_named_dynamic_io(tiny):
    model = onnx.load(str(tiny[1]))
    assert [i.name for i in model.graph.input] == ["rainy"]
    assert [o.name for o in model.graph.output] == ["clean"]
    assert _dims(model.graph.input[0]) == ["N", 3, "H", "W"]
    assert _dims(model.graph.output[0]) == ["N", 3, "H", "W"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.opset_import[0].version == 17


@pytest.mark.parametrize("n, w, h", [(1, 417, 301), (3, 23, 17), (2, 8, 8), (1, 1, 1)])
def test_any_size_matches_pytorch(tiny, n, w, h):
    ckpt, out, _ = tiny
    frames = np.random.default_rng(w * h).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    got = OrtDerainer(out)(frames)
    want = torch_reference(load_derainer(ckpt)[0], frames)
    assert got.shape == (n, h, w, 3)
    assert np.abs(got - want).max() <= 1e-4


def test_real_rainy_frames_match_pytorch(tiny):
    ckpt, out, card = tiny
    frames = np.stack([rainy for rainy, _ in rainy_pairs((417, 301), 2, seed=7)])
    diff = np.abs(OrtDerainer(out)(frames) - torch_reference(load_derainer(ckpt)[0], frames))
    assert diff.max() <= 1e-4
    assert card["parity"]["passed"] and card["parity"]["max_abs_error"] <= 1e-4
    assert len(card["parity"]["sizes"]) == 2


def test_card_describes_the_file(tiny):
    ckpt, out, card = tiny
    assert card_path(out) == out.with_name("model.json")
    assert card_path(out.with_name("model.fp16.onnx")).name == "model.fp16.json"
    on_disk = read_card(out)
    assert on_disk == card
    assert on_disk["sha256"] == sha256_file(out)
    assert on_disk["bytes"] == out.stat().st_size and on_disk["file"] == "model.onnx"
    derainer, g3 = load_derainer(ckpt)
    assert on_disk["parameters"] == parameter_count(derainer)
    assert on_disk["network"] == g3["net"] and on_disk["preset"] == "tiny"
    assert on_disk["training"]["step"] == 123 and on_disk["training"]["stage"] == 2
    assert on_disk["training"]["data"] == "builtin photos, physics rain"
    assert on_disk["quality"]["val_psnr"] == 21.5
    assert on_disk["gflops_1280x720"] == gflops(g3["net"], (1280, 720)) > 0
    contract = on_disk["contract"]
    assert contract["input"] == {"name": "rainy", "layout": "NCHW", "channels": "RGB",
                                 "dtype": "float32", "range": [0.0, 1.0]}
    assert contract["dynamic_dims"] == ["N", "H", "W"] and contract["pad_multiple"] == derainer.multiple
    for key in ("what", "opset", "precision", "io", "rainloop_version", "created"):
        assert key in on_disk
    assert (on_disk["precision"], on_disk["io"], on_disk["opset"]) == ("fp32", "float", 17)


def test_gflops_scale_with_pixels():
    # All-conv net, both sizes on the multiple grid: 4x the pixels is 4x the work.
    spec = get_preset("tiny")["g1"]
    assert gflops(spec, (1280, 720)) == pytest.approx(4 * gflops(spec, (640, 360)), rel=1e-3)


def test_uint8_io_equals_float_io(tiny, tmp_path):
    ckpt, float_onnx, _ = tiny
    out = tmp_path / "model.uint8.onnx"
    card = export_onnx(ckpt, out, io="uint8")
    model = onnx.load(str(out))
    assert _dims(model.graph.input[0]) == ["N", "H", "W", 3]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert card["contract"]["input"]["channels"] == "BGR" and card["io"] == "uint8"
    frames = np.stack([rainy for rainy, _ in rainy_pairs((301, 217), 2, seed=3)])
    session = OrtDerainer(out)
    raw = session.raw(frames)
    assert raw.dtype == np.uint8 and raw.shape == frames.shape
    as_float = OrtDerainer(float_onnx)(frames) * 255.0
    # Round-to-nearest of the same float result, up to the fp32 tolerance.
    assert np.abs(raw.astype(np.float32) - as_float).max() <= 0.5 + 255 * 1e-4


def test_static_size(tiny, tmp_path):
    ckpt, _, _ = tiny
    out = tmp_path / "static.onnx"
    card = export_onnx(ckpt, out, static=(64, 40))
    assert _dims(onnx.load(str(out)).graph.input[0]) == [1, 3, 40, 64]
    assert card["contract"]["dynamic_dims"] == [] and card["contract"]["static_size"] == "64x40"
    assert card["parity"]["passed"] and card["parity"]["sizes"] == ["64x40"]


def test_without_simplify_still_matches(tiny, tmp_path):
    card = export_onnx(tiny[0], tmp_path / "raw.onnx", simplify=False, opset=13)
    assert card["simplified"] is False and card["parity"]["passed"]
    assert onnx.load(str(tmp_path / "raw.onnx")).opset_import[0].version == 13


@pytest.mark.parametrize("preset", ["edge", "edge-fullres", "paper"])
def test_presets_export_with_parity(preset, tmp_path):
    # The paper net has 42M parameters: small check frames keep this quick.
    ckpt = make_g3(tmp_path / "run", preset)
    out = tmp_path / f"{preset}.onnx"
    card = export_onnx(ckpt, out, check_sizes=SMALL_CHECKS)
    assert card["parity"]["passed"] and card["parity"]["max_abs_error"] <= 1e-4
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    if preset == "paper":
        assert {"ConvTranspose", "InstanceNormalization"} <= ops
    else:
        assert "ConvTranspose" not in ops and "Resize" in ops
    if preset == "edge":  # its body runs at quarter resolution: pixels into channels and back
        assert "DepthToSpace" in ops  # PixelUnshuffle traces to Reshape/Transpose, which both runtimes run


def test_bundled_model_exports_with_parity(tmp_path):
    card = export_onnx("default", tmp_path / "default.onnx", check_sizes=SMALL_CHECKS)
    assert card["parity"]["passed"]


def test_bundled_onnx_is_the_bundled_weights():
    """The shipped model.onnx computes what the shipped g3.safetensors computes, and its card is its own."""
    frames = np.stack([rainy for rainy, _ in rainy_pairs((211, 147), 2)])
    derainer, g3_card = load_derainer(DEFAULT_WEIGHTS)
    reference = torch_reference(derainer, frames)
    shipped = OrtDerainer(DEFAULT_ONNX)(frames)
    assert np.abs(shipped - reference).max() <= 1e-4
    card = read_card(DEFAULT_ONNX)
    assert card["sha256"] == sha256_file(DEFAULT_ONNX)
    assert card["preset"] == g3_card["preset"] == "edge" and g3_card["step"] == card["training"]["step"]
