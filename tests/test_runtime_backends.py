"""Derainer on real ONNX Runtime sessions (toy models whose output the test derives)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from engines_toys import fp32_model

from rainloop import models
from rainloop.errors import RainloopError
from rainloop.runtime import Derainer
from rainloop.runtime.backends import tensorrt_provider_options
from rainloop.frames import from_model, resize_to, to_model


def _frame(rng, w=53, h=37):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _close(a, b, tol=1):
    return a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= tol


@pytest.mark.parametrize("io", ["float", "uint8"])
def test_derainer_runs_the_model_in_bgr_uint8(toy_onnx, io):
    toy = toy_onnx(io=io)
    d = Derainer(toy.path)
    assert (d.backend, d.precision, d.io, d.model_path) == ("onnxruntime/CPU", "fp32", io, toy.path)
    frame = _frame(np.random.default_rng(0))
    out = d(frame)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    assert _close(out, toy.expected(frame))
    # Channel order matters: the toy model treats R, G, B differently.
    assert not _close(out, toy.expected(frame[..., ::-1].copy())[..., ::-1])


@pytest.mark.parametrize("io", ["float", "uint8"])
def test_batch_matches_single_frames_and_mixed_sizes(toy_onnx, io):
    d = Derainer(toy_onnx(io=io).path)
    rng = np.random.default_rng(1)
    frames = [_frame(rng) for _ in range(3)] + [_frame(rng, 20, 16)]
    outs = d.derain_batch(frames)
    assert len(outs) == 4
    for frame, out in zip(frames, outs):
        assert np.array_equal(out, d(frame))
    assert d.derain_batch([]) == []


def test_a_graph_fixed_to_batch_one_derains_a_batch_frame_by_frame(tmp_path):
    import onnxruntime as ort

    path = fp32_model(tmp_path / "b1.onnx", dims=(1, 3, "H", "W"))
    d = Derainer(path)
    assert d._backend.max_batch == 1
    rng = np.random.default_rng(6)
    frames = [_frame(rng, 40, 30) for _ in range(3)]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)invalid dimensions"):  # the graph takes no batch of 3 ...
        session.run(None, {"rainy": to_model(np.stack(frames), "float")})
    outs = d.derain_batch(frames)  # ... so the Derainer feeds it one frame at a time
    for frame, out in zip(frames, outs):
        expected = from_model(session.run(None, {"rainy": to_model(frame[None], "float")})[0], "float")[0]
        assert np.array_equal(out, expected)


@pytest.mark.parametrize("io,precision", [("float", "fp32"), ("float", "fp16"), ("float", "int8"), ("uint8", "fp32")])
def test_tensorrt_provider_gets_the_graph_precision_and_the_build_profile(toy_onnx, tmp_path, monkeypatch, io, precision):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    options, profile = tensorrt_provider_options(toy_onnx(io=io, precision=precision).path)
    # Without INT8 allowed, the provider's builder refuses a Q/DQ graph (onnxruntime issue 13381).
    assert (options["trt_fp16_enable"], options["trt_int8_enable"]) == (precision == "fp16", precision == "int8")
    shapes = {"nchw": ("1x3x240x320", "1x3x720x1280", "1x3x1080x1920"),
              "nhwc": ("1x240x320x3", "1x720x1280x3", "1x1080x1920x3")}["nhwc" if io == "uint8" else "nchw"]
    assert [options[f"trt_profile_{b}_shapes"] for b in ("min", "opt", "max")] == [f"rainy:{s}" for s in shapes]
    assert profile.max[0] == 1
    assert options["trt_engine_cache_enable"] and (tmp_path / "cache" / "rainloop" / "ort-tensorrt").is_dir()


def test_tensorrt_provider_profile_keeps_the_graph_fixed_sizes(tmp_path, monkeypatch, identity_onnx):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    options, _ = tensorrt_provider_options(fp32_model(tmp_path / "w64.onnx", dims=(1, 3, "H", 64)))
    assert options["trt_profile_max_shapes"] == "rainy:1x3x1080x64"
    options, profile = tensorrt_provider_options(identity_onnx([1, 3, 24, 32]))
    assert profile is None and not any(k.startswith("trt_profile") for k in options)  # a static graph needs none


def test_size_infers_at_that_size_and_takes_what_it_removed_off_the_frame(toy_onnx):
    toy = toy_onnx()
    frame = _frame(np.random.default_rng(2), 64, 48)
    d = Derainer(toy.path, size=(32, 24))
    out = d(frame)
    assert out.shape == frame.shape
    small = cv2.resize(frame, (32, 24), interpolation=cv2.INTER_AREA)
    removed = small.astype(np.float32) - toy.expected(small)
    up = cv2.resize(removed, (64, 48), interpolation=cv2.INTER_LINEAR)
    assert _close(out, np.clip(np.rint(frame - up), 0, 255).astype(np.uint8), tol=1)
    # The frame's own detail survives: resizing the output back would have blurred it.
    blurred = cv2.resize(toy.expected(small), (64, 48), interpolation=cv2.INTER_LINEAR)
    assert np.abs(out.astype(int) - toy.expected(frame)).mean() < np.abs(blurred.astype(int) - toy.expected(frame)).mean()
    assert resize_to(frame, (64, 48)) is frame


def test_a_model_that_changes_nothing_hands_frames_back_at_any_size(identity_onnx):
    path = identity_onnx([None, 3, None, None])
    frame = _frame(np.random.default_rng(4), 64, 48)
    for size in [(32, 24), (100, 70)]:
        assert np.array_equal(Derainer(path, size=size)(frame), frame)


def test_a_static_graph_infers_at_its_own_size_one_frame_at_a_time(identity_onnx):
    static = identity_onnx([1, 3, 24, 32])
    d = Derainer(static)
    assert d.size == (32, 24)
    rng = np.random.default_rng(5)
    frames = [_frame(rng, 64, 48) for _ in range(2)]
    assert all(np.array_equal(out, f) for out, f in zip(d.derain_batch(frames), frames))
    with pytest.raises(RainloopError, match="static 32x24 graph cannot infer at 16x12"):
        Derainer(static, size=(16, 12))


def test_gray_and_bgra_frames_are_accepted(toy_onnx):
    toy = toy_onnx()
    d = Derainer(toy.path)
    gray = np.random.default_rng(3).integers(0, 256, (20, 30), dtype=np.uint8)
    assert _close(d(gray), toy.expected(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)))
    bgra = np.dstack([cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), gray])
    assert d(bgra).shape == (20, 30, 3)
    with pytest.raises(ValueError):
        d(np.zeros((4, 4, 3), np.float32))


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_precision_is_read_from_the_graph(toy_onnx, precision):
    toy = toy_onnx(precision=precision)
    d = Derainer(toy.path)
    assert d.precision == precision
    frame = _frame(np.random.default_rng(4))
    assert _close(d(frame), toy.expected(frame), tol=2)


def test_precision_request_picks_the_sibling_variant(toy_onnx):
    toy_onnx(name="model.onnx")
    fp16 = toy_onnx(precision="fp16", name="model.fp16.onnx")
    d = Derainer(fp16.path.with_name("model.onnx"), precision="fp16")
    assert (d.model_path, d.precision) == (fp16.path, "fp16")
    assert Derainer(fp16.path, precision="fp32").model_path == fp16.path.with_name("model.onnx")
    with pytest.raises(RainloopError, match="not int8"):
        Derainer(fp16.path, precision="int8")
    with pytest.raises(RainloopError, match="fp8"):
        Derainer(fp16.path, precision="fp8")


def test_providers(toy_onnx):
    toy = toy_onnx()
    assert Derainer(toy.path, providers="cpu").backend == "onnxruntime/CPU"
    assert Derainer(toy.path, providers=["CPUExecutionProvider"]).backend == "onnxruntime/CPU"
    with pytest.raises(RainloopError, match="'nope' is not available"):
        Derainer(toy.path, providers="nope,cpu")


def test_default_is_the_bundled_onnx(toy_onnx, monkeypatch):
    toy = toy_onnx()
    monkeypatch.setattr(models, "DEFAULT_ONNX", toy.path)
    d = Derainer()
    assert d.model_path == toy.path and d.backend == "onnxruntime/CPU"


def _assert_one_line_naming(err, name):
    text = str(err.value)
    assert name in text and "\n" not in text, text


def test_models_of_the_wrong_kind(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    corrupt = tmp_path / "broken.onnx"
    corrupt.write_bytes(np.random.default_rng(0).bytes(300))
    for path in (text, corrupt, tmp_path / "missing.onnx"):
        with pytest.raises(RainloopError) as err:
            Derainer(path)
        _assert_one_line_naming(err, path.name)


def test_onnx_that_is_not_a_derainer(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "flat",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])])
    path = tmp_path / "classifier.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(RainloopError) as err:
        Derainer(path)
    _assert_one_line_naming(err, "classifier.onnx")
    assert "not a derainer" in str(err.value)


def test_engine_without_tensorrt_is_a_one_line_error(tmp_path):
    pytest.importorskip("rainloop.engines")
    from rainloop.engines import available

    if available()[0]:
        pytest.skip("TensorRT is installed here")
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"\0" * 64)
    with pytest.raises(RainloopError) as err:
        Derainer(engine)
    _assert_one_line_naming(err, "model.fp16.engine")


def test_pytorch_checkpoint_runs_like_the_module(tmp_path):
    torch = pytest.importorskip("torch")
    from rainloop.training.derainer_io import load_derainer, save_derainer
    from rainloop.training.networks import build_derainer

    spec = {"type": "edge_unet", "levels": 2, "base": 4, "max_mult": 2, "blocks": 1}
    torch.manual_seed(0)
    save_derainer(build_derainer(spec), spec, tmp_path / "run" / "g3.safetensors")
    d = Derainer(tmp_path / "run")
    assert (d.backend, d.precision) == ("pytorch/CPU", "fp32")
    frame = _frame(np.random.default_rng(5), 30, 22)
    module, _ = load_derainer(tmp_path / "run")
    with torch.inference_mode():
        x = torch.from_numpy(frame[..., ::-1].transpose(2, 0, 1).astype(np.float32) / 255)[None]
        y = module(x)[0].clamp(0, 1).numpy().transpose(1, 2, 0)[..., ::-1]
    assert _close(d(frame), np.floor(y * 255 + 0.5).astype(np.uint8))
    with pytest.raises(RainloopError, match="--providers"):
        Derainer(tmp_path / "run", providers="cpu")


def test_runtime_never_imports_torch(toy_onnx):
    toy = toy_onnx()
    code = ("import sys, numpy as np\n"
            "from rainloop.runtime import Derainer, Pipeline, open_source, open_sink\n"
            "import rainloop.runtime.bench, rainloop.runtime.live\n"
            f"d = Derainer({str(toy.path)!r}); d(np.zeros((8, 8, 3), np.uint8))\n"
            "assert 'torch' not in sys.modules and 'rainloop.training' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
