"""rainloop.engines.onnx_info: what a derainer ONNX carries, read without TensorRT."""

import pytest
from engines_toys import fp16_model, fp32_model, qdq_model, uint8_model

from rainloop.engines.onnx_info import inspect_onnx
from rainloop.errors import RainloopError


def test_fp32_model(tmp_path):
    info = inspect_onnx(fp32_model(tmp_path / "m.onnx"))
    assert (info.input_name, info.output_name) == ("rainy", "clean")
    assert (info.layout, info.io_dtype, info.precision) == ("nchw", "float32", "fp32")
    assert info.input_dims == (None, 3, None, None)
    assert info.path == str((tmp_path / "m.onnx").resolve())


def test_fp16_model_keeps_float32_io(tmp_path):
    info = inspect_onnx(fp16_model(tmp_path / "m.fp16.onnx"))
    assert (info.precision, info.io_dtype, info.layout) == ("fp16", "float32", "nchw")


def test_uint8_model_is_nhwc(tmp_path):
    info = inspect_onnx(uint8_model(tmp_path / "u.onnx"))
    assert (info.layout, info.io_dtype, info.precision) == ("nhwc", "uint8", "fp32")
    assert info.input_dims == (None, None, None, 3)


def test_qdq_model_is_int8(tmp_path):
    info = inspect_onnx(qdq_model(fp32_model(tmp_path / "m.onnx"), tmp_path / "m.int8.onnx"))
    assert info.precision == "int8"


def test_fixed_dims_are_reported(tmp_path):
    info = inspect_onnx(fp32_model(tmp_path / "m.onnx", dims=(1, 3, "H", 64)))
    assert info.input_dims == (1, 3, None, 64)


@pytest.mark.parametrize("activations,symmetric,words", [
    ("uint8", False, "uint8 zero points"),
    ("int8", False, "symmetric"),
])
def test_qdq_that_tensorrt_rejects(tmp_path, activations, symmetric, words):
    path = qdq_model(fp32_model(tmp_path / "m.onnx"), tmp_path / "q.onnx", activations, symmetric)
    with pytest.raises(RainloopError, match=words) as err:
        inspect_onnx(path)
    assert "q.onnx" in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(RainloopError, match="no such ONNX file"):
        inspect_onnx(tmp_path / "nope.onnx")


@pytest.mark.parametrize("data", [b"this is not an onnx model at all", b""])
def test_corrupt_file(tmp_path, data):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(RainloopError, match="bad.onnx"):
        inspect_onnx(path)


def test_truncated_file(tmp_path):
    good = fp32_model(tmp_path / "m.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(RainloopError, match="cut.onnx"):
        inspect_onnx(path)


def test_wrong_channel_count(tmp_path):
    path = fp32_model(tmp_path / "m.onnx")
    import onnx

    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 4
    onnx.save(model, str(path))
    with pytest.raises(RainloopError, match=r"\[\?,4,\?,\?\]"):
        inspect_onnx(path)
