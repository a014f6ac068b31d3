"""Build or reuse an engine: ONNX -> plan -> cache check -> TensorRT build -> engine + record.

Everything here is plain Python; `rainloop.engines.trt` is imported only
after the ONNX and the options have been checked and TensorRT is known to
be importable, so user mistakes get their one-line error on any machine.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rainloop import __version__
from rainloop.atomic import write_bytes
from rainloop.engines import available
from rainloop.engines.cache import (cache_key, compare, default_engine_path, default_timing_cache,
                                    is_current, read_record, store)
from rainloop.engines.host import is_jetson, this_platform
from rainloop.engines.onnx_info import inspect_onnx
from rainloop.engines.plan import BuildPlan, check_device, make_plan
from rainloop.engines.shapes import parse_shapes
from rainloop.errors import RainloopError

Log = Callable[[str], None]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked for (`rainloop build` flags); stored in the record to rebuild alike."""

    precision: str = "best"
    shapes: str | None = None
    workspace_gb: float | None = None
    dla_core: int | None = None
    version_compatible: bool = False
    hardware_compat: str | None = None
    timing_cache: str | None = None


@dataclass(frozen=True)
class BuildResult:
    engine: Path
    built: bool  # False when an existing engine matched
    reason: str  # why it was built, or "matches"
    seconds: float


def require_tensorrt() -> None:
    ok, reason = available()
    if not ok:
        raise RainloopError(reason)


def build_engine(onnx_path: str | Path, options: BuildOptions = BuildOptions(), *,
                 out: str | Path | None = None, force: bool = False, log: Log = _say) -> BuildResult:
    """Build `onnx_path` into an engine, or reuse the one at `out` if it matches."""
    plan = _plan(onnx_path, options)
    from rainloop.engines import trt

    version, device = trt.version(), trt.device_info()
    check_device(plan, device)
    engine_path = Path(out) if out else default_engine_path(onnx_path, plan.precision)
    key = cache_key(onnx_path, plan, version, device)
    current, reason = is_current(engine_path, key)
    if current and not force:
        log(f"reusing {engine_path}: it matches this ONNX, {plan.precision}, shapes {plan.profile}, "
            f"TensorRT {version} and {device['name']}")
        return BuildResult(engine_path, False, reason, 0.0)
    reason = "--force" if force else reason
    for note in plan.notes:
        log(f"warning: {note}")
    log(f"building {engine_path} ({reason}): {_describe(plan)}, "
        f"TensorRT {version} on {device['name']} (compute {device['compute_capability']})")
    timing_path = Path(options.timing_cache) if options.timing_cache else default_timing_cache(version, device)
    t0 = time.perf_counter()
    built = trt.build_serialized(plan, _read_if_present(timing_path), log)
    seconds = time.perf_counter() - t0
    _write(timing_path, lambda: write_bytes(timing_path, built.timing_cache))
    record = {**key, "onnx": plan.onnx, "options": asdict(options), "plan": plan.to_dict(),
              "rainloop_version": __version__, "build_seconds": round(seconds, 1),
              "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if built.dla_layers is not None:
        record["dla_layers"] = dict(zip(("dla", "all"), built.dla_layers))
        log(dla_report(plan.dla_core, *built.dla_layers))
    _write(engine_path, lambda: store(engine_path, built.engine, record))
    log(f"built {engine_path} in {seconds:.1f} s ({len(built.engine) / 1e6:.1f} MB)")
    return BuildResult(engine_path, True, reason, seconds)


def _plan(onnx_path: str | Path, options: BuildOptions) -> BuildPlan:
    """Check the model and every option, then that TensorRT is here, in that order.

    So a wrong model or option is reported on any machine, not hidden behind
    "TensorRT is not installed". Only the rules of a TensorRT version (11.x has
    no FP16 builder flag) wait for TensorRT itself.
    """
    info = inspect_onnx(onnx_path)
    profile = parse_shapes(options.shapes, info.layout, info.input_dims)
    settings = {"workspace_gb": options.workspace_gb, "dla_core": options.dla_core,
                "version_compatible": options.version_compatible,
                "hardware_compat": options.hardware_compat, "jetson": is_jetson()}
    make_plan(info, options.precision, profile, None, **settings)
    require_tensorrt()
    from rainloop.engines import trt

    return make_plan(info, options.precision, profile, trt.version(), **settings)


def dla_report(core: int, on_dla: int, total: int) -> str:
    """What a DLA build placed where (TensorRT puts every layer the DLA can run there)."""
    if on_dla == 0:
        return (f"warning: DLA core {core} takes none of the {total} layers; the engine runs wholly on the GPU "
                "(see which layers DLA supports in TensorRT's DLA guide)")
    return f"DLA core {core} runs {on_dla} of {total} layers; {total - on_dla} fall back to the GPU"


def refresh_engine(engine_path: str | Path, *, log: Log = _say) -> Path:
    """Make sure an existing engine fits this machine: reuse it, or rebuild it from its ONNX.

    Engines without a record (e.g. from trtexec) are passed through: TensorRT
    itself refuses to deserialize one from another version or GPU.
    """
    engine_path = Path(engine_path)
    if not engine_path.is_file():
        raise RainloopError(f"{engine_path}: no such engine file")
    record = read_record(engine_path)
    if record is None:
        log(f"warning: {engine_path} has no rainloop build record; cannot check it matches this machine")
        return engine_path
    onnx = record.get("onnx")
    if onnx and Path(onnx).is_file():
        return build_engine(onnx, _options_from(record), out=engine_path, log=log).engine
    require_tensorrt()
    from rainloop.engines import trt

    ok, reason = compare(record, {"tensorrt": trt.version(), "gpu": trt.device_info(), "platform": this_platform()})
    if not ok:
        raise RainloopError(f"{engine_path}: {reason}, and its ONNX ({onnx}) is gone to rebuild it from; "
                            "run rainloop build on the ONNX here")
    return engine_path


def open_engine(path: str | Path, *, log: Log = _say):
    """A TensorRTRunner for an .engine (checked, rebuilt if stale) or an .onnx (built as `best`)."""
    path = Path(path)
    engine = build_engine(path, log=log).engine if path.suffix == ".onnx" else refresh_engine(path, log=log)
    require_tensorrt()
    from rainloop.engines.trt import TensorRTRunner

    return TensorRTRunner(engine)


def _describe(plan: BuildPlan) -> str:
    typing = "strongly typed" if plan.strongly_typed else "weakly typed"
    extra = "".join(f", {f}" for f in plan.flags)
    dla = f", DLA core {plan.dla_core}" if plan.dla_core is not None else ""
    return f"{plan.precision} {typing}{extra}{dla}, shapes {plan.profile}"


def _options_from(record: dict) -> BuildOptions:
    known = {f.name for f in fields(BuildOptions)}
    return BuildOptions(**{k: v for k, v in (record.get("options") or {}).items() if k in known})


def _read_if_present(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RainloopError(f"{path}: cannot read the timing cache ({exc.strerror or exc})") from None


def _write(path: Path, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as exc:
        raise RainloopError(f"{path}: cannot write ({exc.strerror or exc})") from None
