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
from rainloop.engines.host import is_jetson, this_platform  # noqa: E402
from rainloop.engines.trt import TensorRTRunner, device_info  # noqa: E402
from rainloop.errors import RainloopError  # noqa: E402
from rainloop.images import write_image  # noqa: E402
from rainloop.runtime import Derainer  # noqa: E402

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
    assert read_record(changed.engine)["platform"] == this_platform()
    record = json.loads(record_path(changed.engine).read_text())
    del record["platform"]  # what a record from before the field looks like
    record_path(changed.engine).write_text(json.dumps(record))
    again = build(onnx_path, options={"shapes": "64x64"})
    assert again.built and again.reason.startswith("its record names no platform")


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


def test_derainer_on_a_batch_one_engine_takes_a_batch_frame_by_frame(tmp_path):
    engine = build(fp32_model(tmp_path / "m.onnx")).engine
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    with Derainer(engine) as d:
        assert d._backend.max_batch == 1
        outs = d.derain_batch(frames)
        assert all(np.array_equal(out, d(f)) for out, f in zip(outs, frames))


def test_runner_closes_only_from_the_thread_that_opened_it(tmp_path):
    import threading

    runner = TensorRTRunner(build(fp32_model(tmp_path / "m.onnx")).engine)
    errors = []

    def close_elsewhere():
        try:
            runner.close()
        except RuntimeError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=close_elsewhere)
    worker.start()
    worker.join()
    assert errors and "thread that opened it" in errors[0]
    assert runner(frames_nchw()).shape == (1, 3, 48, 64)  # still open
    runner.close()


def test_hardware_compat_needs_an_ampere_or_newer_gpu(tmp_path, capsys):
    onnx_path = fp32_model(tmp_path / "m.onnx")
    cc = tuple(int(p) for p in device_info()["compute_capability"].split("."))
    code = main(["build", str(onnx_path), "--shapes", SHAPES, "--hardware-compat", "ampere+"])
    err = capsys.readouterr().err.strip().splitlines()
    if is_jetson() or cc < (8, 0):
        assert code == 2 and "--hardware-compat ampere+" in err[-1]
    else:
        assert code == 0 and read_record(tmp_path / "m.fp32.engine")["hardware_compat"] == "ampere+"


@pytest.mark.skipif(is_jetson(), reason="a Jetson may have DLA cores")
def test_dla_on_a_desktop_gpu_is_one_line(tmp_path, capsys):
    onnx_path = fp16_model(tmp_path / "m.fp16.onnx")
    code = main(["build", str(onnx_path), "--shapes", "64x48", "--dla", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "this device has 0 DLA cores" in err[-1]


@pytest.mark.skipif(is_jetson(), reason="a Jetson may have DLA cores")
def test_runner_sets_the_recorded_dla_core_before_loading(tmp_path):
    engine = build(fp32_model(tmp_path / "m.onnx")).engine
    record = json.loads(record_path(engine).read_text())
    record["dla_core"] = 0  # what a DLA build records
    record_path(engine).write_text(json.dumps(record))
    with pytest.raises(RainloopError, match="built for DLA core 0 and this device has 0 DLA cores"):
        TensorRTRunner(engine)
