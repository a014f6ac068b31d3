"""rainloop.export.quantize: FP32 ONNX + rainy footage -> TensorRT-style INT8 Q/DQ ONNX."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, numpy_helper

from rainloop.errors import RainloopError
from rainloop.export.card import read_card
from rainloop.files import sha256_file
from rainloop.export.onnx_export import export_onnx
from rainloop.export.ort_model import OrtDerainer
from rainloop.export.quality import float_psnr
from rainloop.export.quantize import default_output, int8_warnings, kept_float_nodes, quantize, validation_pairs
from rainloop.export.samples import rainy_pairs
from rainloop.data import spread_frames
from rainloop.images import write_image
from rainloop.training.derainer_io import save_derainer
from rainloop.training.networks import build_derainer
from rainloop.training.presets import get_preset

SIZE = (96, 64)
SMALL_CYCLE_UNET = {"type": "cycle_unet", "levels": 7, "base": 8, "norm": "instance"}
# A uniform symmetric int8 quantizer keeps ~44 dB SNR on a full-scale tensor
# (6.02 * 7 bits + 1.76); the tiny net stacks ~12 quantized layers whose errors
# add (~10*log10(12) = 11 dB), so a sound INT8 graph stays above ~30 dB of the
# FP32 output. A wrong scale, zero point or axis lands far below (< 20 dB).
MIN_INT8_VS_FP32_DB = 30.0


def export_fp32(root, spec: dict, io: str = "float"):
    torch.manual_seed(0)
    save_derainer(build_derainer(spec), spec, root / "run" / "g3.safetensors", {"preset": "test"})
    out = root / f"model.{io}.onnx"
    export_onnx(root / "run", out, io=io, check_sizes=[(64, 40)])
    return out


def rainy_folder(folder, n: int = 6):
    for i, (rainy, _) in enumerate(rainy_pairs((160, 120), n, seed=100)):
        write_image(folder / f"{i:03d}.png", rainy)
    return folder


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    return rainy_folder(tmp_path_factory.mktemp("calib"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, calib):
    root = tmp_path_factory.mktemp("tiny")
    src = export_fp32(root, get_preset("tiny")["g1"])
    card = quantize(src, calib, n=4, size=SIZE, progress=False)
    return src, default_output(src), card


def _inits(model):
    return {i.name: i for i in model.graph.initializer}


def _producers(model):
    return {out: node for node in model.graph.node for out in node.output}


def _qdq_nodes(model):
    return [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]


def test_qdq_is_symmetric_int8(tiny):
    _, out, _ = tiny
    assert out.name == "model.float.int8.onnx"
    model = onnx.load(str(out))
    inits = _inits(model)
    nodes = _qdq_nodes(model)
    assert {n.op_type for n in nodes} == {"QuantizeLinear", "DequantizeLinear"}
    for node in nodes:
        zero = inits[node.input[2]]
        assert zero.data_type == TensorProto.INT8
        assert not numpy_helper.to_array(zero).any()
        assert (numpy_helper.to_array(inits[node.input[1]]) > 0).all()


def test_conv_weights_per_channel_int8(tiny):
    _, out, card = tiny
    model = onnx.load(str(out))
    inits, producers = _inits(model), _producers(model)
    quantized = [n for n in model.graph.node if n.op_type == "Conv" and n.input[1] in producers]
    assert quantized
    for conv in quantized:
        dq = producers[conv.input[1]]
        weight = inits[dq.input[0]]
        assert dq.op_type == "DequantizeLinear" and weight.data_type == TensorProto.INT8
        assert numpy_helper.to_array(inits[dq.input[1]]).shape == (weight.dims[0],)
        assert len(conv.input) < 3 or conv.input[2] in inits  # bias left in float
    assert card["quantization"]["weights"].startswith("int8, symmetric, per channel")


def test_first_and_last_layers_stay_float(tiny):
    _, out, card = tiny
    model = onnx.load(str(out))
    producers = _producers(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    gate = [n for n in convs if "/gate/" in n.name]
    assert gate  # the tiny preset has the rain gate
    for conv in (convs[0], convs[-1], *gate):
        assert all(producers.get(x) is None or producers[x].op_type != "DequantizeLinear" for x in conv.input)
    assert card["quantization"]["kept_float"]["nodes"] == [convs[0].name, convs[-1].name, *(n.name for n in gate)]


def test_gate_is_found_by_structure_not_node_names(tiny):
    src, _, _ = tiny
    model = onnx.load(str(src))
    index = {node.name: i for i, node in enumerate(model.graph.node)}
    named = [index[name] for name in kept_float_nodes(model, "IO")]
    for i, node in enumerate(model.graph.node):
        node.name = f"n{i}"
    assert [int(name[1:]) for name in kept_float_nodes(model, "IO")] == named
    assert len(named) == 4  # first, last, and the gate's two convs


def test_int8_close_to_fp32_on_real_images_any_size(tiny):
    src, out, card = tiny
    fp32, int8 = OrtDerainer(src), OrtDerainer(out)
    for size in [(160, 96), (97, 61)]:
        frames = np.stack([rainy for rainy, _ in rainy_pairs(size, 2, seed=21)])
        got = int8(frames)
        assert got.shape == frames.shape
        assert float_psnr(got, fp32(frames)) > MIN_INT8_VS_FP32_DB
    check = card["quality"]["int8_vs_fp32"]
    assert check["psnr_int8_vs_fp32"] > MIN_INT8_VS_FP32_DB
    assert check["int8_loss_db"] == pytest.approx(check["psnr_fp32_vs_clean"] - check["psnr_int8_vs_clean"], abs=2e-3)


def test_card_reports_dry_frames_of_both_precisions(tiny):
    src, out, card = tiny
    check = card["quality"]["int8_vs_fp32"]
    dry = [clean for _, clean in validation_pairs("builtin", SIZE)[0]]
    for key, model in (("dry_worst_fp32", OrtDerainer(src)), ("dry_worst_int8", OrtDerainer(out))):
        worst = min(float_psnr(model(img[None])[0], img / 255.0) for img in dry)
        assert check[key] == pytest.approx(worst, abs=2e-3)


def test_warnings_name_what_int8_lost():
    ok = {"int8_loss_db": 0.05, "dry_worst_fp32": 40.0, "dry_worst_int8": 39.5}
    assert int8_warnings(ok) == []
    [lossy] = int8_warnings({**ok, "int8_loss_db": 0.42})
    assert "loses 0.42 dB" in lossy and "--calib" in lossy
    [dry] = int8_warnings({**ok, "dry_worst_int8": 36.0})
    assert "dry frame" in dry and "36.0 against 40.0" in dry


def test_card(tiny, calib):
    src, out, card = tiny
    assert read_card(out) == card
    assert card["sha256"] == sha256_file(out) and card["precision"] == "int8"
    assert card["quantization"]["from"]["sha256"] == sha256_file(src)
    assert card["quantization"]["calibration"] == {"source": str(calib), "frames": 4, "size": "96x64"}
    assert "parity" not in card and card["contract"]["input"]["name"] == "rainy"


def test_uint8_model_calibrates_in_its_own_format(tmp_path, calib):
    src = export_fp32(tmp_path, get_preset("tiny")["g1"], io="uint8")
    out = tmp_path / "u8.int8.onnx"
    quantize(src, calib, out=out, n=2, size=SIZE, method="entropy", progress=False)
    frames = np.stack([rainy for rainy, _ in rainy_pairs((80, 48), 1, seed=4)])
    got = OrtDerainer(out).raw(frames)
    assert got.dtype == np.uint8
    assert float_psnr(got / 255.0, OrtDerainer(src).raw(frames) / 255.0) > MIN_INT8_VS_FP32_DB


def test_conv_transpose_and_norms_stay_float(tmp_path, calib):
    src = export_fp32(tmp_path, SMALL_CYCLE_UNET)
    out = tmp_path / "cyc.int8.onnx"
    card = quantize(src, calib, out=out, n=2, size=SIZE, method="percentile", keep_fp="none", progress=False)
    model = onnx.load(str(out))
    producers = _producers(model)
    for node in model.graph.node:
        if node.op_type in ("ConvTranspose", "InstanceNormalization"):
            assert all(producers.get(x) is None or producers[x].op_type != "DequantizeLinear" for x in node.input)
    assert any(n.op_type == "Conv" and producers[n.input[1]].op_type == "DequantizeLinear" for n in model.graph.node)
    assert card["quantization"]["kept_float"]["nodes"] == []
    assert card["quantization"]["conv_transpose"].startswith("kept float")


def test_video_calibration_spreads_over_the_clip(tmp_path, kit):
    video = kit.write_video(tmp_path / "rain.avi", [kit.indexed_frame(i, (64, 48)) for i in range(40)])
    frames = spread_frames(video, 4, (64, 48), progress=False)
    assert [kit.frame_index(f) for f in frames] == [0, 10, 20, 30]


def test_calibration_spreads_over_a_folder_of_clips(tmp_path, kit):
    kit.write_video(tmp_path / "clips" / "a.avi", [kit.indexed_frame(i, (64, 48)) for i in range(20)])
    kit.write_video(tmp_path / "clips" / "b.avi", [kit.indexed_frame(i, (64, 48)) for i in range(20, 40)])
    frames = spread_frames(tmp_path / "clips", 4, (64, 48), progress=False)
    assert [kit.frame_index(f) for f in frames] == [0, 10, 20, 30]


def test_folder_calibration_spreads_and_resizes(calib):
    frames = spread_frames(calib, 3, SIZE, progress=False)
    assert len(frames) == 3 and all(f.shape == (64, 96, 3) for f in frames)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_refuses_non_fp32_graphs(tiny, tmp_path, calib, precision):
    src, int8, _ = tiny
    bad = int8
    if precision == "fp16":
        bad = tmp_path / "m.fp16.onnx"
        export_onnx(src.parent / "run", bad, precision="fp16", check_sizes=[(64, 40)])
    with pytest.raises(RainloopError, match="quantize the FP32 export"):
        quantize(bad, calib, out=tmp_path / "x.onnx", n=1, size=SIZE, progress=False)


def test_validation_on_a_paired_folder(tiny, tmp_path, calib):
    src, _, _ = tiny
    val = tmp_path / "val"
    for i, (rainy, clean) in enumerate(rainy_pairs((120, 80), 3, seed=300)):
        write_image(val / "rainy" / f"{i}.png", rainy)
        write_image(val / "clean" / f"{i}.png", clean)
    card = quantize(src, calib, out=tmp_path / "v.onnx", n=2, size=SIZE, val=val, progress=False)
    check = card["quality"]["int8_vs_fp32"]
    assert check["pairs"] == 3 and str(val) in check["set"] and "rainloop layout" in check["set"]
    assert check["size"] == "96x64"  # 120x80 pairs scored as calibrated, at --size
    assert check["psnr_int8_vs_fp32"] > MIN_INT8_VS_FP32_DB


def test_frame_tone_stays_float_and_the_tail_is_still_the_last_float_layer(tmp_path, calib):
    src = export_fp32(tmp_path, {**get_preset("tiny")["g1"], "tone": True})
    card = quantize(src, calib, n=2, size=SIZE, progress=False)
    fp32 = onnx.load(str(src))
    model = onnx.load(str(default_output(src)))
    producers = _producers(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    heads = [n for n in convs if "/gate/" in n.name or "/tone/" in n.name]
    body = [n for n in convs if n not in heads]
    assert len(heads) == 4 and "/tail/" in body[-1].name
    # the Adds after the tail apply the tone's gain and offset to the output: float too
    fp32_producers = _producers(fp32)
    tone_adds = {n.name for n in fp32.graph.node if n.op_type == "Add"
                 and {fp32_producers[x].op_type for x in n.input} & {"Mul", "Split"}}
    applied = [n for n in model.graph.node if n.name in tone_adds]
    assert len(applied) == 2
    for node in heads + applied:
        assert all(x not in producers or producers[x].op_type != "DequantizeLinear" for x in node.input)
    kept = card["quantization"]["kept_float"]["nodes"]
    assert kept[:2] == [body[0].name, body[-1].name]
    assert sorted(kept[2:]) == sorted(n.name for n in heads + applied)


def test_veil_gain_stays_float_beside_the_tail(tmp_path, calib):
    src = export_fp32(tmp_path, {**get_preset("tiny")["g1"], "veil": True, "dark": True})
    card = quantize(src, calib, n=2, size=SIZE, progress=False)
    model = onnx.load(str(default_output(src)))
    producers = _producers(model)
    convs = {n.name: n for n in model.graph.node if n.op_type == "Conv"}
    out_layers = [name for name in convs if "/tail/" in name or "/veil/" in name]
    assert len(out_layers) == 2
    # the Add that joins the tail and the veil gain's product writes the rain layer: float too
    joins = [n for n in model.graph.node if n.op_type == "Add"
             and {producers[x].op_type for x in n.input if x in producers} >= {"Conv", "Mul"}]
    assert len(joins) == 1
    for node in [convs[name] for name in out_layers] + joins:
        assert all(x not in producers or producers[x].op_type != "DequantizeLinear" for x in node.input)
    kept = card["quantization"]["kept_float"]["nodes"]
    assert set(out_layers + [joins[0].name]) <= set(kept)
    assert sum("Conv" in name for name in kept) == 5  # first, tail, veil, and the gate's two


def test_the_edge_derainer_quantizes_within_a_tenth_of_a_db(tmp_path, calib):
    # The bundle is the edge preset's space-to-depth derainer: its pixel rearrangements
    # pass through Q/DQ, and the trained weights keep their quality in INT8.
    from rainloop.models import resolve

    src = tmp_path / "model.onnx"
    src.write_bytes(resolve("default").read_bytes())
    card = quantize(src, calib, n=4, size=SIZE, progress=False)
    ops = {n.op_type for n in onnx.load(str(default_output(src))).graph.node}
    assert {"DepthToSpace", "QuantizeLinear"} <= ops
    assert card["quality"]["int8_vs_fp32"]["int8_loss_db"] <= 0.1
