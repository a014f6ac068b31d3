"""rainloop.engines.cache: engine records, reuse and invalidation."""

import json

import onnx as onnx_lib
import pytest
from engines_toys import fp16_model, fp32_model

from rainloop.engines.cache import (FORMAT, cache_key, compare, default_engine_path, default_timing_cache,
                                    is_current, read_record, record_path, store)
from rainloop.files import sha256_file
from rainloop.engines.host import this_platform
from rainloop.engines.onnx_info import inspect_onnx
from rainloop.engines.plan import make_plan
from rainloop.engines.shapes import parse_shapes

ORIN = {"name": "Orin", "compute_capability": "8.7"}
H100 = {"name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
ENGINE = b"serialized engine bytes"


def plan_for(onnx, precision="best", shapes=None, trt="10.3.0", **kw):
    info = inspect_onnx(onnx)
    return make_plan(info, precision, parse_shapes(shapes, info.layout), trt, **kw)


@pytest.fixture
def onnx(tmp_path):
    return fp16_model(tmp_path / "m.fp16.onnx")


@pytest.fixture
def built(onnx, tmp_path):
    """An engine stored for (m.fp16.onnx, best, default shapes, TensorRT 10.3.0, Orin)."""
    engine = tmp_path / "m.fp16.engine"
    key = cache_key(onnx, plan_for(onnx), "10.3.0", ORIN)
    store(engine, ENGINE, {**key, "rainloop_version": "0.1.0"})
    return engine, key


def test_key_contents(onnx):
    key = cache_key(onnx, plan_for(onnx), "10.3.0", ORIN)
    assert key["format"] == FORMAT
    assert key["onnx_sha256"] == sha256_file(onnx) and len(key["onnx_sha256"]) == 64
    assert key["precision"] == "fp16" and key["strongly_typed"] is True
    assert key["io"] == {"input": "rainy", "output": "clean", "layout": "nchw", "dtype": "float32"}
    assert key["shapes"]["max"] == [1, 3, 1080, 1920]
    assert key["tensorrt"] == "10.3.0" and key["gpu"] == ORIN
    assert key["platform"] == this_platform() and key["platform"].count("-") >= 1
    assert key["flags"] == [] and key["dla_core"] is None and key["hardware_compat"] is None
    json.dumps(key)  # it goes into a JSON file as is


def test_same_everything_matches(built, onnx):
    engine, _ = built
    again = cache_key(onnx, plan_for(onnx), "10.3.0", ORIN)
    assert is_current(engine, again) == (True, "matches")


def test_record_sits_beside_the_engine_with_the_engine_hash(built):
    engine, key = built
    assert record_path(engine).name == "m.fp16.engine.json"
    record = read_record(engine)
    assert {k: record[k] for k in key} == key
    assert record["engine_sha256"] == sha256_file(engine)
    assert engine.read_bytes() == ENGINE


def test_changed_onnx_bytes(built, onnx):
    engine, _ = built
    model = onnx_lib.load(str(onnx))
    model.doc_string = "retrained"  # same graph and IO, different bytes
    onnx_lib.save(model, str(onnx))
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx), "10.3.0", ORIN))
    assert not ok and "ONNX file changed" in reason


def test_changed_precision(tmp_path):
    onnx = fp32_model(tmp_path / "m.onnx")
    engine = tmp_path / "m.engine"
    store(engine, ENGINE, cache_key(onnx, plan_for(onnx, "fp32"), "10.3.0", ORIN))
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx, "fp16"), "10.3.0", ORIN))
    assert not ok and "precision" in reason


def test_changed_shapes(built, onnx):
    engine, _ = built
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx, shapes="640x480"), "10.3.0", ORIN))
    assert not ok
    assert reason == ("built for shapes 1x3x240x320:1x3x720x1280:1x3x1080x1920, "
                      "1x3x480x640:1x3x480x640:1x3x480x640 requested")


def test_changed_tensorrt_version(built, onnx):
    engine, _ = built
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx), "10.3.1", ORIN))
    assert (ok, reason) == (False, "built with TensorRT 10.3.0, this is TensorRT 10.3.1")


def test_changed_gpu(built, onnx):
    engine, _ = built
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx), "10.3.0", H100))
    assert not ok and reason == "built for Orin (compute 8.7), this GPU is NVIDIA H100 80GB HBM3 (compute 9.0)"


def test_changed_flags(built, onnx):
    engine, _ = built
    ok, reason = is_current(engine, cache_key(onnx, plan_for(onnx, version_compatible=True), "10.3.0", ORIN))
    assert not ok and "flags" in reason


def test_changed_platform(onnx, tmp_path):
    """An engine from an x86_64 desktop never matches on an aarch64 Jetson, version-compatible or not."""
    engine = tmp_path / "vc.engine"
    plan = plan_for(onnx, version_compatible=True)
    store(engine, ENGINE, cache_key(onnx, plan, "10.3.0", ORIN, host="Linux-x86_64"))
    ok, reason = is_current(engine, cache_key(onnx, plan, "10.3.0", ORIN, host="Linux-aarch64"))
    assert (ok, reason) == (False, "built on Linux-x86_64, this is Linux-aarch64")
    assert not compare(read_record(engine), {"tensorrt": "10.7.0", "platform": "Linux-aarch64"})[0]
    assert compare(read_record(engine), {"tensorrt": "10.7.0", "platform": "Linux-x86_64"})[0]


def test_record_from_before_the_platform_field_is_read_and_does_not_match(built, onnx):
    engine, key = built
    record = read_record(engine)
    del record["platform"]
    record_path(engine).write_text(json.dumps(record))
    assert read_record(engine)["onnx_sha256"] == key["onnx_sha256"]
    ok, reason = is_current(engine, key)
    assert not ok and reason == f"its record names no platform (an older rainloop wrote it), this is {this_platform()}"


def test_missing_engine_or_record(built, onnx):
    engine, key = built
    record_path(engine).unlink()
    assert is_current(engine, key) == (False, "its record m.fp16.engine.json is missing or unreadable")
    engine.unlink()
    assert is_current(engine, key) == (False, "m.fp16.engine does not exist")


def test_unreadable_record(built):
    engine, key = built
    record_path(engine).write_text("{not json")
    assert not is_current(engine, key)[0]


def test_engine_replaced_after_its_record(built):
    """What a crash between writing the engine and its record leaves behind."""
    engine, key = built
    engine.write_bytes(b"another engine")
    assert is_current(engine, key) == (False, "the engine file changed after its record was written")


def test_store_is_atomic_and_leaves_no_temp_files(built, tmp_path):
    engine, key = built
    store(engine, b"new engine", key)
    assert is_current(engine, key)[0] and engine.read_bytes() == b"new engine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fp16.engine", "m.fp16.engine.json", "m.fp16.onnx"]


def test_failed_record_write_leaves_the_engine_stale(built, tmp_path):
    engine, key = built
    with pytest.raises(TypeError):
        store(engine, b"new engine", {**key, "unserializable": object()})
    assert engine.read_bytes() == b"new engine"  # the engine went first ...
    assert not is_current(engine, key)[0]  # ... so the old record no longer vouches for it
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_version_compatible_engine_runs_on_newer_tensorrt(tmp_path):
    onnx = fp16_model(tmp_path / "m.fp16.onnx")
    engine = tmp_path / "vc.engine"
    store(engine, ENGINE, cache_key(onnx, plan_for(onnx, version_compatible=True), "10.3.0", ORIN))
    record = read_record(engine)
    assert compare(record, {"tensorrt": "10.7.0"}) == (True, "matches")
    assert compare(record, {"tensorrt": "11.2.0"}) == (True, "matches")
    assert not compare(record, {"tensorrt": "10.2.0"})[0]
    assert not compare(record, {"tensorrt": "12.0.0"})[0]


def test_hardware_compatible_engine_runs_on_ampere_and_newer(tmp_path):
    onnx = fp16_model(tmp_path / "m.fp16.onnx")
    engine = tmp_path / "hc.engine"
    a100 = {"name": "NVIDIA A100", "compute_capability": "8.0"}
    store(engine, ENGINE, cache_key(onnx, plan_for(onnx, hardware_compat="ampere+"), "10.3.0", a100))
    record = read_record(engine)
    assert compare(record, {"gpu": H100})[0]
    assert not compare(record, {"gpu": {"name": "T4", "compute_capability": "7.5"}})[0]


@pytest.mark.parametrize("onnx_name,precision,engine_name", [
    ("model.onnx", "fp32", "model.fp32.engine"),
    ("model.onnx", "fp16", "model.fp16.engine"),
    ("model.int8.onnx", "int8", "model.int8.engine"),
    ("model.fp16.onnx", "fp16", "model.fp16.engine"),
    ("model.fp16.onnx", "int8", "model.fp16.int8.engine"),
])
def test_default_engine_name(tmp_path, onnx_name, precision, engine_name):
    assert default_engine_path(tmp_path / onnx_name, precision) == tmp_path / engine_name


def test_default_timing_cache_names_version_and_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_timing_cache("10.3.0", ORIN) == tmp_path / "rainloop" / "timing-trt10.3.0-sm87.cache"
