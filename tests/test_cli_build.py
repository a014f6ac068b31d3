"""`rainloop build` from the command line: bad input exits 2 with one line, on any machine."""

import importlib.util

import pytest
from engines_toys import fp16_model, fp32_model, qdq_model, uint8_model

from rainloop.cli import main
from rainloop.engines.host import is_jetson

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
needs_no_tensorrt = pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed: this would build (test_engines_trt.py)")


def run_build(capsys, *args):
    code = main(["build", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rainloop build: error: ")
    return lines[0]


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here; this checks machines without it")
def test_without_tensorrt_exits_2_saying_how_to_install(tmp_path, capsys):
    code, out, err = run_build(capsys, fp32_model(tmp_path / "m.onnx"))
    line = one_line_error(err)
    assert code == 2 and out == ""
    assert "TensorRT is not installed" in line and 'pip install "rainloop[trt]"' in line and "JetPack" in line
    assert not list(tmp_path.glob("*.engine"))


def test_missing_onnx(tmp_path, capsys):
    code, _, err = run_build(capsys, tmp_path / "nope.onnx")
    assert code == 2 and "nope.onnx: no such ONNX file" in one_line_error(err)


def test_corrupt_onnx(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff\xff")
    code, _, err = run_build(capsys, bad)
    assert code == 2 and "bad.onnx: not a readable ONNX model" in one_line_error(err)


def test_int8_without_qdq_says_run_quantize(tmp_path, capsys):
    code, _, err = run_build(capsys, fp32_model(tmp_path / "m.onnx"), "--precision", "int8")
    line = one_line_error(err)
    assert code == 2 and "QuantizeLinear/DequantizeLinear" in line and "rainloop quantize m.onnx" in line


def test_nchw_shapes_for_a_uint8_model(tmp_path, capsys):
    code, _, err = run_build(capsys, uint8_model(tmp_path / "u.onnx"),
                             "--shapes", "1x3x240x320:1x3x720x1280:1x3x1080x1920")
    assert code == 2 and "NHWC with 3 channels" in one_line_error(err)


def test_bad_shapes(tmp_path, capsys):
    code, _, err = run_build(capsys, fp32_model(tmp_path / "m.onnx"), "--shapes", "1920x1080:1280x720:640x480")
    assert code == 2 and "min <= opt <= max" in one_line_error(err)


def test_dla_needs_reduced_precision(tmp_path, capsys):
    code, _, err = run_build(capsys, fp32_model(tmp_path / "m.onnx"), "--dla", "0")
    assert code == 2 and "DLA runs only FP16 or INT8" in one_line_error(err)


@needs_no_tensorrt
def test_int8_model_with_dla_passes_every_check_before_tensorrt(tmp_path, capsys):
    onnx = qdq_model(fp32_model(tmp_path / "m.onnx"), tmp_path / "m.int8.onnx")
    code, _, err = run_build(capsys, onnx, "--precision", "int8", "--dla", "0", "--shapes", "640x480")
    assert code == 2 and "TensorRT is not installed" in one_line_error(err)


def test_dla_with_a_range_of_shapes(tmp_path, capsys):
    code, _, err = run_build(capsys, fp16_model(tmp_path / "m.fp16.onnx"), "--dla", "0")
    line = one_line_error(err)
    assert code == 2 and "--dla 0: DLA runs one fixed input shape" in line and "1x3x240x320:" in line


@needs_no_tensorrt
def test_dla_with_a_static_export_needs_no_shapes(tmp_path, capsys):
    code, _, err = run_build(capsys, fp16_model(tmp_path / "s.fp16.onnx", dims=(1, 3, 360, 640)), "--dla", "0")
    assert code == 2 and "TensorRT is not installed" in one_line_error(err)


def test_hardware_compat_with_dla(tmp_path, capsys):
    code, _, err = run_build(capsys, fp16_model(tmp_path / "m.fp16.onnx"), "--shapes", "640x360",
                             "--dla", "0", "--hardware-compat", "ampere+")
    assert code == 2 and "cannot be combined with --dla" in one_line_error(err)


@needs_no_tensorrt
@pytest.mark.skipif(is_jetson(), reason="on a Jetson --hardware-compat is refused (test_engines_plan.py)")
def test_hardware_compat_passes_every_check_before_tensorrt_off_a_jetson(tmp_path, capsys):
    code, _, err = run_build(capsys, fp16_model(tmp_path / "m.fp16.onnx"), "--hardware-compat", "ampere+")
    assert code == 2 and "TensorRT is not installed" in one_line_error(err)


def test_precision_the_graph_does_not_carry(tmp_path, capsys):
    code, _, err = run_build(capsys, fp16_model(tmp_path / "m.fp16.onnx"), "--precision", "fp32")
    assert code == 2 and "carries FP16 precision" in one_line_error(err)


def test_unknown_precision_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build", str(tmp_path / "m.onnx"), "--precision", "fp8"])
    assert exc.value.code == 2
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
