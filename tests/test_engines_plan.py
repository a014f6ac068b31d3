"""rainloop.engines.plan: precision and flag decisions, made without TensorRT."""

import pytest
from engines_toys import fp16_model, fp32_model, qdq_model, uint8_model

from rainloop.engines.onnx_info import inspect_onnx
from rainloop.engines.plan import check_device, make_plan
from rainloop.engines.shapes import parse_shapes
from rainloop.errors import RainloopError


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    fp32 = fp32_model(d / "m.onnx")
    return {"fp32": inspect_onnx(fp32), "fp16": inspect_onnx(fp16_model(d / "m.fp16.onnx")),
            "int8": inspect_onnx(qdq_model(fp32, d / "m.int8.onnx")),
            "uint8": inspect_onnx(uint8_model(d / "u.onnx")),
            "fp16-static": inspect_onnx(fp16_model(d / "s.fp16.onnx", dims=(1, 3, 360, 640)))}


def plan(info, precision, trt="10.3.0", shapes=None, **kw):
    return make_plan(info, precision, parse_shapes(shapes, info.layout, info.input_dims), trt, **kw)


@pytest.mark.parametrize("kind", ["fp32", "fp16", "int8"])
@pytest.mark.parametrize("trt", ["10.3.0", "11.4.1"])
def test_best_builds_what_the_onnx_carries_strongly_typed(models, kind, trt):
    p = plan(models[kind], "best", trt)
    assert (p.precision, p.strongly_typed, p.flags, p.notes) == (kind, True, (), ())


@pytest.mark.parametrize("kind", ["fp32", "fp16", "int8"])
def test_asking_for_what_the_onnx_carries(models, kind):
    p = plan(models[kind], kind)
    assert p.precision == kind and p.strongly_typed and p.flags == ()


def test_int8_without_qdq_says_run_quantize(models):
    with pytest.raises(RainloopError, match=r"no QuantizeLinear/DequantizeLinear.*rainloop quantize m.onnx"):
        plan(models["fp32"], "int8")


def test_fp16_from_fp32_on_trt10_uses_the_deprecated_flag(models):
    p = plan(models["fp32"], "fp16", "10.3.0")
    assert (p.precision, p.strongly_typed, p.flags) == ("fp16", False, ("FP16",))
    assert len(p.notes) == 1 and "deprecated" in p.notes[0]


def test_fp16_from_fp32_on_trt11_says_export_fp16(models):
    with pytest.raises(RainloopError, match=r"TensorRT 11.x has no FP16 builder flag.*--precision fp16"):
        plan(models["fp32"], "fp16", "11.0.0")


@pytest.mark.parametrize("have,want", [("fp16", "fp32"), ("int8", "fp32"), ("int8", "fp16")])
def test_precision_the_onnx_cannot_give(models, have, want):
    with pytest.raises(RainloopError, match=f"carries {have.upper()}.*--precision {have}"):
        plan(models[have], want)


def test_plan_carries_io_and_profile(models):
    p = plan(models["uint8"], "best", workspace_gb=1.5)
    assert (p.input_name, p.output_name, p.layout, p.io_dtype) == ("rainy", "clean", "nhwc", "uint8")
    assert p.profile.max == (1, 1080, 1920, 3)
    assert p.workspace_bytes == int(1.5 * 2**30)
    d = p.to_dict()
    assert d["profile"]["opt"] == [1, 720, 1280, 3] and d["flags"] == []


@pytest.mark.parametrize("kind", ["fp16", "int8"])
def test_dla_adds_gpu_fallback(models, kind):
    p = plan(models[kind], "best", shapes="1280x720", dla_core=0)
    assert p.dla_core == 0 and p.flags == ("GPU_FALLBACK",)


@pytest.mark.parametrize("shapes", [None, "640x360:1280x720:1280x720", "1x3x720x1280:1x3x720x1280:2x3x720x1280"])
def test_dla_needs_one_fixed_shape(models, shapes):
    # With GPU fallback a range would build, and every layer would quietly run on the GPU.
    with pytest.raises(RainloopError, match="--dla 0: DLA runs one fixed input shape"):
        plan(models["int8"], "best", shapes=shapes, dla_core=0)


def test_dla_takes_a_static_export_as_it_is(models):
    p = plan(models["fp16-static"], "best", dla_core=0)
    assert p.profile.min == p.profile.max == (1, 3, 360, 640) and p.flags == ("GPU_FALLBACK",)


def test_dla_needs_fp16_or_int8(models):
    with pytest.raises(RainloopError, match="DLA runs only FP16 or INT8"):
        plan(models["fp32"], "best", dla_core=0)


def test_dla_with_fp16_flag_on_trt10(models):
    p = plan(models["fp32"], "fp16", "10.3.0", shapes="640x360", dla_core=1)
    assert p.flags == ("FP16", "GPU_FALLBACK")


def test_dla_and_hardware_compat_do_not_mix(models):
    with pytest.raises(RainloopError, match="cannot be combined with --dla"):
        plan(models["int8"], "best", dla_core=0, hardware_compat="ampere+")


def test_portability_options_are_off_by_default_and_on_when_asked(models):
    assert plan(models["fp16"], "best").hardware_compat is None
    p = plan(models["fp16"], "best", version_compatible=True, hardware_compat="ampere+")
    assert p.flags == ("VERSION_COMPATIBLE",) and p.hardware_compat == "ampere+"


@pytest.mark.parametrize("kw,words", [
    ({"workspace_gb": 0}, "positive number of GB"),
    ({"dla_core": -1}, "numbered from 0"),
    ({"hardware_compat": "turing+"}, "only level is ampere"),
])
def test_bad_options(models, kw, words):
    with pytest.raises(RainloopError, match=words):
        plan(models["int8"], "best", **kw)


def test_hardware_compat_is_refused_on_a_jetson(models):
    assert plan(models["fp16"], "best", hardware_compat="ampere+").hardware_compat == "ampere+"
    with pytest.raises(RainloopError, match="--hardware-compat ampere\\+: TensorRT offers it for desktop GPUs only"):
        plan(models["fp16"], "best", hardware_compat="ampere+", jetson=True)


@pytest.mark.parametrize("gpu,ok", [({"name": "NVIDIA A100", "compute_capability": "8.0"}, True),
                                    ({"name": "NVIDIA H200", "compute_capability": "9.0"}, True),
                                    ({"name": "Tesla T4", "compute_capability": "7.5"}, False),
                                    ({"name": "Tesla V100", "compute_capability": "7.0"}, False)])
def test_hardware_compat_needs_an_ampere_or_newer_gpu(models, gpu, ok):
    p = plan(models["fp16"], "best", hardware_compat="ampere+")
    if ok:
        check_device(p, gpu)
    else:
        with pytest.raises(RainloopError, match=f"{gpu['name']} \\(compute {gpu['compute_capability']}\\), predates Ampere"):
            check_device(p, gpu)
    check_device(plan(models["fp16"], "best"), gpu)  # without the option any GPU will do


def test_unknown_precision(models):
    with pytest.raises(RainloopError, match="choose one of fp32, fp16, int8, best"):
        plan(models["fp32"], "fp8")


def test_without_tensorrt_every_option_is_still_checked(models):
    assert plan(models["int8"], "best", trt=None).precision == "int8"
    with pytest.raises(RainloopError, match="rainloop quantize"):
        plan(models["fp32"], "int8", trt=None)
