"""rainloop.engines.build: the parts that run before (or without) TensorRT."""

import importlib.util

import pytest
from engines_toys import fp32_model

from rainloop.engines import NOT_INSTALLED, available
from rainloop.engines.build import BuildOptions, build_engine, refresh_engine
from rainloop.errors import RainloopError

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
no_tensorrt = pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here; this checks machines without it")


@no_tensorrt
def test_available_says_how_to_install():
    assert available() == (False, NOT_INSTALLED)


@no_tensorrt
def test_build_checks_the_model_then_reports_missing_tensorrt(tmp_path):
    onnx = fp32_model(tmp_path / "m.onnx")
    with pytest.raises(RainloopError, match="rainloop quantize"):
        build_engine(onnx, BuildOptions(precision="int8"))
    with pytest.raises(RainloopError) as err:
        build_engine(onnx, BuildOptions(shapes="640x480"))
    assert str(err.value) == NOT_INSTALLED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_refresh_missing_engine(tmp_path):
    with pytest.raises(RainloopError, match="nope.engine: no such engine file"):
        refresh_engine(tmp_path / "nope.engine", log=print)


def test_engine_without_record_is_passed_through_with_a_warning(tmp_path):
    engine = tmp_path / "trtexec.engine"
    engine.write_bytes(b"built by trtexec")
    messages = []
    assert refresh_engine(engine, log=messages.append) == engine
    assert len(messages) == 1 and "no rainloop build record" in messages[0]
