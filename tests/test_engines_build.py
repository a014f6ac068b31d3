"""rainloop.engines.build: the parts that run before (or without) TensorRT."""

import importlib.util

import pytest
from engines_toys import fp32_model

from rainloop.engines import NOT_INSTALLED, available
from rainloop.engines.build import BuildOptions, build_engine, dla_report, refresh_engine
from rainloop.engines.host import is_jetson
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


def test_dla_report_says_where_the_layers_run():
    assert dla_report(0, 5, 7) == "DLA core 0 runs 5 of 7 layers; 2 fall back to the GPU"
    none = dla_report(1, 0, 7)
    assert none.startswith("warning: DLA core 1 takes none of the 7 layers") and "wholly on the GPU" in none


def test_a_jetson_is_known_by_its_l4t_release_file(tmp_path):
    release = tmp_path / "nv_tegra_release"
    assert not is_jetson(release)
    release.write_text("# R36 (release), REVISION: 4.0\n")
    assert is_jetson(release)
