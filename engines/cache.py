"""Engine cache: a JSON record beside each engine says what it was built from and for.

An engine runs only on the TensorRT version, GPU and platform (OS and CPU
architecture) that built it, and only means something for the ONNX,
precision and shapes it was built from. The
record (`model.int8.engine.json` beside `model.int8.engine`; the suffix is
appended so it never clashes with the `model.int8.json` card that export
writes beside `model.int8.onnx`) holds the cache key plus the engine's own
hash, so a stale or half-written engine is rebuilt, never silently loaded.

The rainloop version and the workspace size are recorded but not compared:
neither changes what a built engine computes. A field that an older record
lacks (`platform` before it was added) never matches, so such an engine is
rebuilt once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from rainloop.atomic import write_bytes, write_json
from rainloop.files import sha256_file
from rainloop.engines.host import this_platform
from rainloop.engines.plan import BuildPlan

FORMAT = "rainloop-engine/1"


def record_path(engine_path: str | Path) -> Path:
    return Path(f"{engine_path}.json")


def default_engine_path(onnx_path: str | Path, precision: str) -> Path:
    """`model.onnx` -> `model.fp16.engine`; `model.int8.onnx` -> `model.int8.engine`."""
    onnx_path = Path(onnx_path)
    stem = onnx_path.stem.removesuffix(f".{precision}")
    return onnx_path.with_name(f"{stem}.{precision}.engine")


def default_timing_cache(trt_version: str, device: dict) -> Path:
    """Timing caches only combine within one TensorRT version and GPU, so both name the file."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rainloop"
    sm = device["compute_capability"].replace(".", "")
    return base / f"timing-trt{trt_version}-sm{sm}.cache"


def cache_key(onnx_path: str | Path, plan: BuildPlan, trt_version: str, device: dict,
              host: str | None = None) -> dict:
    """Everything that decides whether an existing engine may be reused (`host`: this platform by default)."""
    return {
        "format": FORMAT,
        "onnx_sha256": sha256_file(onnx_path),
        "precision": plan.precision,
        "strongly_typed": plan.strongly_typed,
        "io": {"input": plan.input_name, "output": plan.output_name,
               "layout": plan.layout, "dtype": plan.io_dtype},
        "shapes": plan.profile.as_dict(),
        "flags": sorted(plan.flags),
        "dla_core": plan.dla_core,
        "hardware_compat": plan.hardware_compat,
        "tensorrt": trt_version,
        "gpu": {"name": device["name"], "compute_capability": device["compute_capability"]},
        "platform": host or this_platform(),
    }


def read_record(engine_path: str | Path) -> dict | None:
    try:
        record = json.loads(record_path(engine_path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def store(engine_path: str | Path, engine: bytes, record: dict) -> None:
    """Write the engine, then its record, each atomically.

    A crash between the two leaves an engine whose hash the old record does
    not match, which `is_current` reports as stale.
    """
    write_bytes(engine_path, engine)
    write_json(record_path(engine_path), {**record, "engine_sha256": hashlib.sha256(engine).hexdigest()})


def is_current(engine_path: str | Path, key: dict) -> tuple[bool, str]:
    """(True, "matches") if `engine_path` was built for `key`, else (False, why not)."""
    engine_path = Path(engine_path)
    if not engine_path.is_file():
        return False, f"{engine_path.name} does not exist"
    record = read_record(engine_path)
    if record is None:
        return False, f"its record {record_path(engine_path).name} is missing or unreadable"
    ok, reason = compare(record, key)
    if ok and sha256_file(engine_path) != record.get("engine_sha256"):
        return False, "the engine file changed after its record was written"
    return ok, reason


def compare(record: dict, key: dict) -> tuple[bool, str]:
    """Compare the fields of `key` (all or some) with a stored record."""
    for field, want in key.items():
        have = record.get(field)
        if have == want or _portable(record, field, have, want):
            continue
        return False, _reason(field, have, want)
    return True, "matches"


def _portable(record: dict, field: str, have, want) -> bool:
    """Version- and hardware-compatible engines may run where they were not built."""
    if field == "tensorrt" and "VERSION_COMPATIBLE" in record.get("flags", ()) and have:
        # Same major and newer, or a 10.x engine on an 11.x runtime (TensorRT's support matrix).
        built, now = _version(have), _version(want)
        return now >= built and now[0] - built[0] <= 1
    if field == "gpu" and record.get("hardware_compat") == "ampere+" and want:
        return _version(want["compute_capability"]) >= (8, 0)
    return False


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def _reason(field: str, have, want) -> str:
    if field == "onnx_sha256":
        return "the ONNX file changed since the engine was built"
    if field == "tensorrt":
        return f"built with TensorRT {have}, this is TensorRT {want}"
    if field == "gpu":
        return f"built for {_gpu(have)}, this GPU is {_gpu(want)}"
    if field == "platform":
        return (f"built on {have}, this is {want}" if have else
                f"its record names no platform (an older rainloop wrote it), this is {want}")
    if field == "shapes" and isinstance(have, dict):
        return f"built for shapes {_shapes(have)}, {_shapes(want)} requested"
    if field == "format":
        return f"record format {have!r} is not {want!r}"
    return f"{field} differs (built: {have}, wanted: {want})"


def _gpu(d) -> str:
    return f"{d['name']} (compute {d['compute_capability']})" if isinstance(d, dict) else str(d)


def _shapes(d: dict) -> str:
    return ":".join("x".join(map(str, d[k])) for k in ("min", "opt", "max"))
