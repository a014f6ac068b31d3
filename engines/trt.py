"""Every `tensorrt` and `pycuda` call in rainloop: build an engine from a BuildPlan, run one.

Import this module only after `rainloop.engines.available()` says yes; all
decisions (precision, flags, shapes, cache) are made in plain Python before.

Written against TensorRT's documented Python API for 10.3 (JetPack 6) and
11.x: explicit batch is implicit (no EXPLICIT_BATCH), `build_serialized_network`,
tensors addressed by name, `execute_async_v3`; weak-typing flags (FP16/INT8)
are used only when the plan asks and only if this TensorRT still has them.

CUDA context: `pycuda.autoinit` is not used. It creates a private context and
makes it current on the importing thread only, while the runtime calls the
engine from a worker thread, and TensorRT itself (CUDA runtime API) works in
the device's primary context. The runner retains that primary context and
pushes it around each call, so TensorRT and pycuda share one context and any
thread may call the runner (one call at a time). Only closing is tied to a
thread: pycuda releases a retained context solely from the thread that
retained it (from another it skips the release and the context leaks), so
`close()` must come from the thread that opened the runner, and refuses
otherwise. NVIDIA's current samples use cuda-python (`cuda.bindings`) for the
same job; it would be the replacement if pycuda ever becomes unavailable on a
platform.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pycuda.driver as cuda
import tensorrt as trt

from rainloop.engines.cache import read_record
from rainloop.engines.plan import BuildPlan
from rainloop.errors import RainloopError

_LOGGER = trt.Logger(trt.Logger.WARNING)


def version() -> str:
    return trt.__version__


def device_info(index: int = 0) -> dict:
    """Name and compute capability of CUDA device `index` (part of the cache key)."""
    try:
        cuda.init()
        dev = cuda.Device(index)
        major, minor = dev.compute_capability()
        return {"name": dev.name(), "compute_capability": f"{major}.{minor}"}
    except cuda.Error as exc:
        raise RainloopError(f"no usable CUDA GPU {index} for TensorRT ({exc})") from None


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    engine: bytes
    timing_cache: bytes  # the updated cache, to save for the next build
    dla_layers: tuple[int, int] | None  # DLA builds: (layers on the DLA, all layers)


def build_serialized(plan: BuildPlan, timing_cache: bytes | None, log: Callable[[str], None]) -> Built:
    """Build the engine `plan` describes."""
    builder = trt.Builder(_LOGGER)
    network = builder.create_network(_network_flags(plan))
    parser = trt.OnnxParser(network, _LOGGER)
    if not parser.parse_from_file(plan.onnx):
        raise RainloopError(f"{plan.onnx}: TensorRT cannot parse it: {_first_parser_error(parser)}")
    config = builder.create_builder_config()
    _configure(builder, config, plan)
    dla_layers = _dla_layers(network, config) if plan.dla_core is not None else None
    _use_timing_cache(config, timing_cache, log)
    monitor = _progress_monitor(log)
    if monitor is not None:
        config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RainloopError(f"{plan.onnx}: TensorRT could not build an engine (its messages above say why)")
    return Built(bytes(serialized), bytes(config.get_timing_cache().serialize()), dla_layers)


def _network_flags(plan: BuildPlan) -> int:
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    # Required on 10.x for strong typing; accepted and ignored on 11.x, which
    # types every network strongly and may drop the name in a later release.
    return 1 << int(flag) if plan.strongly_typed and flag is not None else 0


def _first_parser_error(parser) -> str:
    if parser.num_errors == 0:
        return "no error reported"
    err = parser.get_error(0)
    where = [getattr(err, attr)() for attr in ("node_name", "node_operator") if hasattr(err, attr)]
    where = " ".join(w for w in where if w)
    lines = (err.desc() or "").strip().splitlines()
    return (lines[0] if lines else "no description") + (f" (node {where})" if where else "")


def _configure(builder, config, plan: BuildPlan) -> None:
    if plan.workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    for name in plan.flags:
        flag = getattr(trt.BuilderFlag, name, None)
        if flag is None:
            raise RainloopError(f"TensorRT {trt.__version__} has no builder flag {name}")
        config.set_flag(flag)
    if plan.hardware_compat == "ampere+":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    if plan.dla_core is not None:
        if plan.dla_core >= builder.num_DLA_cores:
            raise RainloopError(f"--dla {plan.dla_core}: this device has {builder.num_DLA_cores} DLA cores "
                                "(Jetson AGX Orin and Orin NX have them; desktop GPUs and the Orin Nano do not)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    profile = builder.create_optimization_profile()
    profile.set_shape(plan.input_name, plan.profile.min, plan.profile.opt, plan.profile.max)
    config.add_optimization_profile(profile)


def _dla_layers(network, config) -> tuple[int, int]:
    """With the DLA as the default device, TensorRT places there every layer it can run on it."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    return sum(bool(config.can_run_on_DLA(layer)) for layer in layers), len(layers)


def _use_timing_cache(config, blob: bytes | None, log: Callable[[str], None]) -> None:
    cache = config.create_timing_cache(blob or b"")
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        return
    log("the timing cache was made by another TensorRT or GPU; starting an empty one")
    config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


if hasattr(trt, "IProgressMonitor"):
    class _Progress(trt.IProgressMonitor):
        """Logs the builder's top-level phases; TensorRT calls it from its own threads."""

        def __init__(self, log: Callable[[str], None]):
            trt.IProgressMonitor.__init__(self)
            self._log = log
            self._started: dict[str, float] = {}
            self._lock = threading.Lock()

        def phase_start(self, phase_name, parent_phase, num_steps):
            if parent_phase is None:
                with self._lock:
                    self._started[phase_name] = time.perf_counter()
                self._log(f"  {phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name, step):
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            with self._lock:
                t0 = self._started.pop(phase_name, None)
            if t0 is not None:
                self._log(f"  {phase_name} done in {time.perf_counter() - t0:.1f} s")


def _progress_monitor(log: Callable[[str], None]):
    return _Progress(log) if hasattr(trt, "IProgressMonitor") else None


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


class TensorRTRunner:
    """One engine, one execution context, one stream; buffers sized for the profile's max.

    `runner(x)` takes a batch in the engine's own input layout and dtype
    (`input_dtype`, NCHW float or NHWC uint8) and returns the output batch.
    Not for concurrent calls: one call at a time, from any thread; `close()`
    from the thread that created it (see the module's notes on the CUDA context).
    """

    def __init__(self, engine_path: str | Path, device: int = 0):
        engine_path = Path(engine_path)
        if not engine_path.is_file():
            raise RainloopError(f"{engine_path}: no such engine file")
        self.path = engine_path
        device_info(device)  # one-line error when there is no GPU
        self._owner = threading.get_ident()
        self._ctx = cuda.Device(device).retain_primary_context()
        self._ctx.push()
        try:
            self._load(engine_path)
        except BaseException:
            self._release()
            self._ctx.pop()
            self._ctx.detach()
            self._ctx = None
            raise
        self._ctx.pop()

    def _load(self, engine_path: Path) -> None:
        self._runtime = trt.Runtime(_LOGGER)  # kept: it must outlive its engine
        record = read_record(engine_path) or {}
        if "VERSION_COMPATIBLE" in record.get("flags", ()):
            # Version-compatible plans carry their own lean runtime (host code);
            # allowed only for engines rainloop built itself.
            self._runtime.engine_host_code_allowed = True
        core = record.get("dla_core")
        if core is not None:
            # The core is the runtime's choice at load time, not the engine's.
            if core >= self._runtime.num_DLA_cores:
                raise RainloopError(f"{engine_path}: built for DLA core {core} and this device has "
                                    f"{self._runtime.num_DLA_cores} DLA cores; rebuild it with rainloop build")
            self._runtime.DLA_core = core
        self._engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise RainloopError(f"{engine_path}: TensorRT {trt.__version__} cannot load this engine "
                                "(built by another TensorRT version or GPU?); rebuild it with rainloop build")
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        ins = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(ins) != 1 or len(outs) != 1:
            raise RainloopError(f"{engine_path}: expected one input and one output, "
                                f"found {len(ins)} and {len(outs)}")
        self.input_name, self.output_name = ins[0], outs[0]
        self.input_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(self.input_name)))
        self.output_dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(self.output_name)))
        lo, _, hi = (tuple(int(d) for d in s)
                     for s in self._engine.get_tensor_profile_shape(self.input_name, 0))
        self.input_shape_range = (lo, hi)
        self.layout = "nhwc" if self.input_dtype == np.uint8 else "nchw"
        self._context = self._engine.create_execution_context()
        self._set_shape(hi)
        out_max = tuple(self._context.get_tensor_shape(self.output_name))
        if min(out_max) < 0:
            raise RainloopError(f"{engine_path}: output {self.output_name!r} has a data-dependent shape")
        self._h_in = cuda.pagelocked_empty(int(np.prod(hi)), self.input_dtype)
        self._h_out = cuda.pagelocked_empty(int(np.prod(out_max)), self.output_dtype)
        self._d_in = cuda.mem_alloc(self._h_in.nbytes)
        self._d_out = cuda.mem_alloc(self._h_out.nbytes)
        # The buffers never move, so their addresses are bound once.
        self._context.set_tensor_address(self.input_name, int(self._d_in))
        self._context.set_tensor_address(self.output_name, int(self._d_out))
        self._stream = cuda.Stream()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._ctx is None:
            raise RuntimeError("TensorRTRunner is closed")
        if x.dtype != self.input_dtype:
            raise TypeError(f"engine input {self.input_name!r} is {self.input_dtype}, got {x.dtype}")
        lo, hi = self.input_shape_range
        if x.ndim != 4 or not all(a <= s <= b for s, a, b in zip(x.shape, lo, hi)):
            raise RainloopError(f"input shape {x.shape} is outside the engine's profile {lo}..{hi}; "
                                "rebuild it with rainloop build --shapes")
        self._ctx.push()
        try:
            return self._run(x)
        finally:
            self._ctx.pop()

    def _set_shape(self, shape: tuple[int, ...]) -> None:
        if not self._context.set_input_shape(self.input_name, tuple(shape)):
            raise RainloopError(f"{self.path}: TensorRT refused input shape {tuple(shape)} "
                                "(its message above says why)")

    def _run(self, x: np.ndarray) -> np.ndarray:
        self._set_shape(x.shape)
        out_shape = tuple(self._context.get_tensor_shape(self.output_name))
        h_in = self._h_in[:x.size]
        np.copyto(h_in.reshape(x.shape), x)
        cuda.memcpy_htod_async(self._d_in, h_in, self._stream)
        if not self._context.execute_async_v3(self._stream.handle):
            raise RuntimeError("TensorRT execute_async_v3 failed (see its messages above)")
        h_out = self._h_out[:int(np.prod(out_shape))]
        cuda.memcpy_dtoh_async(h_out, self._d_out, self._stream)
        self._stream.synchronize()
        return h_out.reshape(out_shape).copy()  # the pinned buffer is reused next call

    def close(self) -> None:
        if self._ctx is None:
            return
        if threading.get_ident() != self._owner:
            raise RuntimeError("close a TensorRTRunner from the thread that opened it: pycuda releases "
                               "its CUDA context only there")
        self._ctx.push()
        try:
            self._release()
        finally:
            self._ctx.pop()
            self._ctx.detach()
            self._ctx = None

    def _release(self) -> None:
        # Context before engine; device and pinned memory while our context is current.
        for name in ("_context", "_engine", "_runtime", "_stream", "_h_in", "_h_out"):
            setattr(self, name, None)
        for name in ("_d_in", "_d_out"):
            buf = getattr(self, name, None)
            if buf is not None:
                buf.free()
            setattr(self, name, None)

    def __enter__(self) -> "TensorRTRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
