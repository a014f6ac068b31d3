"""FP16 export: half-precision weights and math, float32 IO, fragile ops kept in float32."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto

from rainloop.export.onnx_export import export_onnx
from rainloop.export.ort_model import OrtDerainer
from rainloop.export.parity import torch_reference
from rainloop.export.quality import float_psnr
from rainloop.export.samples import rainy_pairs
from rainloop.training.derainer_io import load_derainer, save_derainer
from rainloop.training.networks import build_derainer
from rainloop.training.presets import get_preset

# The paper's U-Net design (instance norm, ConvTranspose, tanh) at a width that exports in seconds.
SMALL_CYCLE_UNET = {"type": "cycle_unet", "levels": 7, "base": 8, "norm": "instance"}


def make_g3(folder, spec: dict):
    torch.manual_seed(0)
    net = build_derainer(spec)
    if spec.get("tone"):  # the heads start at zero, which would hide what FP16 does to them
        torch.nn.init.normal_(net.tone[-1].weight, std=0.05)
    if spec.get("veil"):
        torch.nn.init.normal_(net.veil.weight, std=0.05)
    save_derainer(net, spec, folder / "g3.safetensors", {"preset": "test"})
    return folder


SPECS = {"tiny": get_preset("tiny")["g1"],
         "tiny-tone-veil-dark": {**get_preset("tiny")["g1"], "tone": True, "veil": True, "dark": True},
         "cycle_unet": SMALL_CYCLE_UNET}


@pytest.fixture(scope="module", params=list(SPECS))
def fp16(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    spec = SPECS[request.param]
    ckpt = make_g3(root / "run", spec)
    out = root / "model.fp16.onnx"
    return ckpt, out, export_onnx(ckpt, out, precision="fp16", check_sizes=[(131, 67), (64, 40)])


def _producers(model: onnx.ModelProto) -> dict:
    return {out: node for node in model.graph.node for out in node.output}


def test_weights_are_fp16_and_io_float32(fp16):
    _, out, card = fp16
    model = onnx.load(str(out))
    weights = {i.name: i for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    heads = {h: [n for n in convs if f"/{h}/" in n.name] for h in ("gate", "tone")}
    body = [n for n in convs if n not in heads["gate"] + heads["tone"]]
    assert body and all(weights[n.input[1]].data_type == TensorProto.FLOAT16 for n in body)
    # The rain gate's and frame tone's whole-frame means would overflow FP16 at 720p: they stay FP32.
    for name, nodes in heads.items():
        assert bool(nodes) == bool(card["network"].get(name))
        assert all(weights[n.input[1]].data_type == TensorProto.FLOAT for n in nodes)
    for value in (model.graph.input[0], model.graph.output[0]):
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT
    assert card["precision"] == "fp16" and "kept_fp32" in card


def test_parity_with_pytorch_fp32(fp16):
    ckpt, out, card = fp16
    assert card["parity"]["passed"] and card["parity"]["psnr_db"] >= 45
    frames = np.stack([rainy for rainy, _ in rainy_pairs((417, 301), 2, seed=11)])
    got = OrtDerainer(out)(frames)
    assert got.dtype == np.float32
    assert float_psnr(got, torch_reference(load_derainer(ckpt)[0], frames)) >= 45


def test_instance_norm_and_clamp_run_in_float32(fp16):
    _, out, _ = fp16
    model = onnx.load(str(out))
    producers = _producers(model)
    norms = [n for n in model.graph.node if n.op_type == "InstanceNormalization"]
    for norm in norms:
        cast = producers[norm.input[0]]
        assert cast.op_type == "Cast" and cast.attribute[0].i == TensorProto.FLOAT
    clip = producers[model.graph.output[0].name]
    assert clip.op_type == "Clip"
    # The clamp's input is the float32 crop of the cast-back body output.
    upstream = producers[clip.input[0]]
    while upstream.op_type != "Cast":
        upstream = producers[upstream.input[0]]
    assert upstream.attribute[0].i == TensorProto.FLOAT


def test_uint8_io_fp16(fp16, tmp_path):
    ckpt, _, _ = fp16
    out = tmp_path / "model.fp16.uint8.onnx"
    card = export_onnx(ckpt, out, precision="fp16", io="uint8", check_sizes=[(64, 40)])
    assert card["parity"]["passed"]
    frames = np.stack([rainy for rainy, _ in rainy_pairs((97, 61), 1, seed=5)])
    raw = OrtDerainer(out).raw(frames)
    assert raw.dtype == np.uint8 and raw.shape == frames.shape
