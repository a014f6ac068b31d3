"""rainloop.engines.trt: real TensorRT builds and runs (skipped without TensorRT or a CUDA GPU).

Every expected output comes from ONNX Runtime on the same ONNX file.
"""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from engines_toys import fp16_model, fp32_model, qdq_model, uint8_model

trt_module = pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip install 'rainloop[trt]')")
cuda = pytest.importorskip("pycuda.driver", reason="pycuda is not installed (pip install pycuda)")


def _gpu_count() -> int:
    try:
        cuda.init()
        return cuda.Device.count()
    except cuda.Error:
        return 0


pytestmark = pytest.mark.skipif(_gpu_count() == 0, reason="TensorRT imports but there is no CUDA GPU")

from rainloop.cli import main  # noqa: E402
from rainloop.engines.build import BuildOptions, build_engine, open_engine, refresh_engine  # noqa: E402
from rainloop.engines.cache import read_record, record_path  # noqa: E402
from rainloop.engines.trt import TensorRTRunner  # noqa: E402
from rainloop.errors import RainloopError  # noqa: E402
from rainloop.images import write_image  # noqa: E402

SHAPES = "32x32:64x48:128x96"  # small: quick builds


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def ort_run(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"rainy": x})[0]


def build(onnx_path, log=None, **kw):
    messages = [] if log is None else log
    return build_engine(onnx_path, BuildOptions(shapes=SHAPES, **kw.pop("options", {})), log=messages.append, **kw)


def frames_nchw(h=48, w=64, n=1):
    return np.random.default_rng(0).random((n, 3, h, w), dtype=np.float32)


def test_fp32_build_runs_like_onnxruntime(tmp_path):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    result = build(onnx_path)
    assert result.built and result.engine == tmp_path / "m.fp32.engine"
    x = frames_nchw()
    with TensorRTRunner(result.engine) as runner:
        assert runner.input_dtype == np.float32 and runner.layout == "nchw"
        assert runner.input_shape_range == ((1, 3, 32, 32), (1, 3, 96, 128))
        y = runner(x)
        y2 = runner(frames_nchw(96, 128))  # another size within the profile
    assert y.shape == x.shape and y2.shape == (1, 3, 96, 128)
    # TF32 convolutions are allowed, hence the tolerance.
    np.testing.assert_allclose(y, ort_run(onnx_path, x), atol=1e-2)


def test_fp16_model_builds_strongly_typed(tmp_path):
    onnx_path = fp16_model(tmp_path / "m.fp16.onnx")
    result = build(onnx_path)
    record = read_record(result.engine)
    assert record["precision"] == "fp16" and record["strongly_typed"] and record["flags"] == []
    x = frames_nchw()
    with TensorRTRunner(result.engine) as runner:
        np.testing.assert_allclose(runner(x), ort_run(onnx_path, x), atol=2e-2)


def test_int8_qdq_model(tmp_path):
    fp32 = fp32_model(tmp_path / "m.onnx")
    onnx_path = qdq_model(fp32, tmp_path / "m.int8.onnx")
    result = build(onnx_path, options={"precision": "int8"})
    assert result.engine == tmp_path / "m.int8.engine"
    x = frames_nchw()
    with TensorRTRunner(result.engine) as runner:
        y = runner(x)
    scales = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(onnx_path)).graph.initializer}
    # Both quantize the output to the same int8 grid; kernels may round a few steps apart.
    np.testing.assert_allclose(y, ort_run(onnx_path, x), atol=3 * float(scales["clean_scale"]))


def test_uint8_nhwc_model(tmp_path):
    onnx_path = uint8_model(tmp_path / "u.onnx")
    result = build(onnx_path)
    x = np.random.default_rng(0).integers(0, 256, (1, 48, 64, 3), dtype=np.uint8)
    with TensorRTRunner(result.engine) as runner:
        assert runner.input_dtype == np.uint8 and runner.layout == "nhwc"
        assert runner.input_shape_range == ((1, 32, 32, 3), (1, 96, 128, 3))
        y = runner(x)
    assert y.dtype == np.uint8
    assert np.abs(y.astype(int) - ort_run(onnx_path, x).astype(int)).max() <= 1


def test_runner_rejects_inputs_outside_the_profile(tmp_path):
    result = build(fp32_model(tmp_path / "m.onnx"))
    with TensorRTRunner(result.engine) as runner:
        with pytest.raises(RainloopError, match="outside the engine's profile"):
            runner(frames_nchw(200, 200))
        with pytest.raises(TypeError, match="float32"):
            runner(frames_nchw().astype(np.float64))


def test_matching_engine_is_reused_and_a_stale_one_rebuilt(tmp_path):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    first = build(onnx_path)
    assert not build(onnx_path).built
    assert build(onnx_path, force=True).reason == "--force"
    record = json.loads(record_path(first.engine).read_text())
    record["tensorrt"] = "10.0.0"
    record_path(first.engine).write_text(json.dumps(record))
    again = build(onnx_path)
    assert again.built and again.reason.startswith("built with TensorRT 10.0.0")
    changed = build(onnx_path, options={"shapes": "64x64"})
    assert changed.built and "shapes" in changed.reason


def test_timing_cache_is_written_and_reused(tmp_path):
    cache = tmp_path / "timing.cache"
    onnx_path = fp32_model(tmp_path / "m.onnx")
    build(onnx_path, options={"timing_cache": str(cache)})
    assert cache.stat().st_size > 0
    messages = []
    build(onnx_path, messages, force=True, options={"timing_cache": str(cache)})
    assert not any("timing cache was made by another" in m for m in messages)


def test_open_and_refresh(tmp_path):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    engine = build(onnx_path).engine
    messages = []
    runner = open_engine(engine, log=messages.append)  # checked against its record, then loaded
    try:
        assert runner(frames_nchw()).shape == (1, 3, 48, 64)
    finally:
        runner.close()
    assert messages and messages[0].startswith("reusing")
    onnx_path.unlink()
    assert refresh_engine(engine, log=messages.append) == engine  # still fits this machine
    record = json.loads(record_path(engine).read_text())
    record["gpu"]["compute_capability"] = "5.0"
    record_path(engine).write_text(json.dumps(record))
    with pytest.raises(RainloopError, match="is gone"):
        refresh_engine(engine, log=messages.append)


def test_cli_build_and_verify(tmp_path, capsys):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(tmp_path / "pairs" / "rainy" / f"{i}.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        write_image(tmp_path / "pairs" / "clean" / f"{i}.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    code = main(["build", str(onnx_path), "--shapes", SHAPES, "--verify", str(tmp_path / "pairs")])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "TRT~ORT" in out[0] and out[1].startswith("0.png") and out[-1].endswith("m.fp32.engine")
    trt_vs_ort = float(out[1].split()[2])
    assert trt_vs_ort > 40  # TF32 rounding only


def test_parser_error_is_one_line(tmp_path, capsys):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    model = onnx.load(str(onnx_path))
    model.graph.node[1].op_type = "NoSuchOp"
    onnx.save(model, str(onnx_path))
    code = main(["build", str(onnx_path), "--shapes", SHAPES])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("rainloop build: error: ") and "TensorRT cannot parse" in err[-1]
