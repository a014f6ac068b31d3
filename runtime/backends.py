"""`Derainer`: BGR uint8 frames in, derained BGR uint8 frames out, whatever runs the model.

The model file picks the backend: `.onnx` -> ONNX Runtime, `.engine` ->
TensorRT (rainloop.engines), a run folder / `.safetensors` -> PyTorch,
`default` -> the bundled ONNX. Each backend states the layout its model
takes (`io`): "float" (NCHW RGB in [0, 1]) or "uint8" (NHWC BGR, OpenCV's own
layout, so no per-pixel work happens in Python at all).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from rainloop import models
from rainloop.errors import RainloopError
from rainloop.frames import from_model, resize_to, to_model
from rainloop.sizes import static_size

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_PROVIDER_ALIASES = {"tensorrt": "TensorrtExecutionProvider", "trt": "TensorrtExecutionProvider",
                     "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
_PROVIDER_LABELS = {"TensorrtExecutionProvider": "TensorRT", "CUDAExecutionProvider": "CUDA",
                    "CPUExecutionProvider": "CPU"}
_ONNX_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------


def resolve_providers(requested: str | Sequence[str] | None) -> list[str]:
    """Execution providers to use, best first. None: TensorRT, CUDA, CPU, those installed.
    Names may be short (trt, cuda, cpu) or ONNX Runtime's own."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested is None:
        return [p for p in DEFAULT_PROVIDERS if p in available]
    names = requested.split(",") if isinstance(requested, str) else list(requested)
    chosen = []
    for name in (n.strip() for n in names if n.strip()):
        full = _PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available:
            raise RainloopError(f"ONNX Runtime provider {name!r} is not available here (available: {', '.join(available)})")
        chosen.append(full)
    if not chosen:
        raise RainloopError(f"providers {requested!r}: name at least one, e.g. cuda,cpu")
    return chosen


def tensorrt_provider_options(path: Path):
    """ONNX Runtime's TensorRT provider options for a derainer -> (options, the profile or None).

    The builder must be allowed the graph's own precision (a Q/DQ graph fails to
    build without INT8, onnxruntime issue 13381), and a dynamic input gets the
    profile `rainloop build` uses by default: without one, every frame size the
    provider has not seen rebuilds its engine mid-stream.
    """
    from rainloop.engines.onnx_info import inspect_onnx
    from rainloop.engines.shapes import parse_shapes

    info = inspect_onnx(path)
    # Building TensorRT engines takes minutes on a Jetson; build once, reuse across runs.
    cache = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "rainloop" / "ort-tensorrt"
    cache.mkdir(parents=True, exist_ok=True)
    options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache),
               "trt_timing_cache_enable": True,
               "trt_fp16_enable": info.precision == "fp16", "trt_int8_enable": info.precision == "int8"}
    if None not in info.input_dims:
        return options, None
    profile = parse_shapes(None, info.layout, info.input_dims)
    for bound, shape in zip(("min", "opt", "max"), (profile.min, profile.opt, profile.max)):
        options[f"trt_profile_{bound}_shapes"] = f"{info.input_name}:{'x'.join(map(str, shape))}"
    return options, profile


def _graph_precision(path: Path) -> str:
    import onnx

    from rainloop.engines.onnx_info import graph_precision

    return graph_precision(onnx.load(str(path), load_external_data=False).graph)


class OnnxBackend:
    def __init__(self, path: Path, providers=None):
        import onnxruntime as ort

        chosen = resolve_providers(providers)
        trt_options, trt_profile = (tensorrt_provider_options(path) if "TensorrtExecutionProvider" in chosen
                                    else (None, None))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # provider fallbacks are reported through `backend`, not log spam
        try:
            self.session = ort.InferenceSession(
                str(path), options,
                providers=[(p, trt_options) if p == "TensorrtExecutionProvider" else p for p in chosen])
        except Exception as exc:  # ORT raises several pybind types for unreadable models
            raise RainloopError(f"{path}: not a loadable ONNX model ({_first_line(exc)})") from None
        kind = self.session.get_modelmeta().custom_metadata_map.get("rainloop.kind", "derainer")
        if kind != "derainer":
            raise RainloopError(f"{path}: a rainloop {kind} model, not a derainer")
        self._input, self.dtype, self.io = self._check_io(path)
        self.static_size = static_size(self.session.get_inputs()[0].shape, channels_last=self.io == "uint8")
        self._output = self.session.get_outputs()[0].name
        self.precision = _graph_precision(path)
        used = self.session.get_providers()[0]
        self.name = f"onnxruntime/{_PROVIDER_LABELS.get(used, used.replace('ExecutionProvider', ''))}"
        batch = self.session.get_inputs()[0].shape[0]
        self.max_batch = batch if isinstance(batch, int) and batch > 0 else None
        if self.max_batch is None and used == "TensorrtExecutionProvider" and trt_profile is not None:
            self.max_batch = trt_profile.max[0]  # a larger batch would rebuild the engine

    def _check_io(self, path: Path):
        inputs = self.session.get_inputs()
        expected = "one input: float NCHW RGB or uint8 NHWC BGR"
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type not in _ONNX_INPUT_TYPES:
            raise RainloopError(f"{path}: not a derainer ONNX (expected {expected})")
        dtype = np.dtype(_ONNX_INPUT_TYPES[inputs[0].type])
        io = "uint8" if dtype == np.uint8 else "float"
        channels = inputs[0].shape[3 if io == "uint8" else 1]
        if isinstance(channels, int) and channels != 3:
            raise RainloopError(f"{path}: not a derainer ONNX (expected {expected}, got shape {inputs[0].shape})")
        return inputs[0].name, dtype, io

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self._output], {self._input: batch})[0]

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------
# TensorRT and PyTorch (imported only when such a model is given)
# --------------------------------------------------------------------------


def _engine_precision(path: Path) -> str:
    """From the build record rainloop writes beside an engine, else the model.<precision>.engine name."""
    from rainloop.engines.cache import read_record

    value = ((read_record(path) or {}).get("plan") or {}).get("precision")
    if value in PRECISIONS:
        return value
    tokens = [t for t in path.name.split(".")[:-1] if t in PRECISIONS]
    return tokens[-1] if tokens else "unknown"


class TensorRTBackend:
    name = "tensorrt"
    static_size = None  # the runner refuses frames outside the engine's profile itself

    def __init__(self, path: Path):
        from rainloop.engines import available

        ok, reason = available()
        if not ok:
            raise RainloopError(f"{path}: cannot run a TensorRT engine here: {reason}")
        from rainloop.engines.build import open_engine

        # open_engine checks the engine still fits this TensorRT and GPU (rebuilding it if its ONNX is there).
        self.runner = open_engine(path)
        self.max_batch = self.runner.input_shape_range[1][0]
        self.dtype = np.dtype(self.runner.input_dtype)
        self.io = "uint8" if self.dtype == np.uint8 else "float"
        self.precision = _engine_precision(path)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.runner(batch)

    def close(self) -> None:
        self.runner.close()


class TorchBackend:
    io = "float"
    dtype = np.dtype(np.float32)
    precision = "fp32"
    static_size = None
    max_batch = None

    def __init__(self, path: Path):
        if importlib.util.find_spec("torch") is None:
            raise RainloopError(f"{path}: a PyTorch derainer needs torch (pip install 'rainloop[train]'); "
                                "or export it to ONNX with `rainloop export`")
        import torch

        from rainloop.training.derainer_io import load_derainer

        self._torch = torch
        module, _card = load_derainer(path)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.module = module.to(self.device)
        self.name = f"pytorch/{self.device.upper()}"

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            out = self.module(self._torch.from_numpy(batch).to(self.device))
        return out.float().cpu().numpy()

    def close(self) -> None:
        pass


def open_backend(path: Path, providers=None):
    """The backend for a model file, chosen by what the file is."""
    suffix = path.suffix.lower()
    if providers is not None and suffix != ".onnx":
        raise RainloopError(f"{path}: --providers applies to .onnx models only")
    if suffix == ".onnx":
        return OnnxBackend(path, providers)
    if suffix == ".engine":
        return TensorRTBackend(path)
    if path.is_dir() or suffix in (".safetensors", ".json"):
        return TorchBackend(path)
    raise RainloopError(f"{path}: unknown model kind {suffix or 'file'!r} "
                        "(expected .onnx, .engine, .safetensors or a run folder)")


def _precision_variant(path: Path, precision: str | None) -> Path:
    """model.onnx + fp16 -> model.fp16.onnx where that sibling exists (the export's naming)."""
    if precision is None or path.is_dir() or path.suffix.lower() not in (".onnx", ".engine"):
        return path
    parts = path.name.split(".")
    base = [p for p in parts[:-1] if p not in PRECISIONS]
    names = [".".join(base + [precision, parts[-1]])]
    if precision == "fp32":
        names.append(".".join(base + [parts[-1]]))
    for name in names:
        if path.with_name(name).exists():
            return path.with_name(name)
    return path


# --------------------------------------------------------------------------
# Frame conversion: numpy views, one copy each way
# --------------------------------------------------------------------------


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Accept what cameras hand out (BGR, gray, BGRA uint8); anything else is a caller bug."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 BGR frame, got {type(frame).__name__} {getattr(frame, 'dtype', '')}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR frame, got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def remove_scaled(frame: np.ndarray, small: np.ndarray, derained: np.ndarray) -> np.ndarray:
    """`frame` minus what the model removed from `small` (its resized copy), resized to the frame.

    Resizing the derained output back instead would replace the frame with a blurred copy of
    itself: at half size, every dry frame falls below 38 dB (benchmarks/RESULTS.md)."""
    removed = cv2.subtract(small, derained, dtype=cv2.CV_16S)  # signed: a model may also brighten
    return cv2.subtract(frame, resize_to(removed, (frame.shape[1], frame.shape[0])), dtype=cv2.CV_8U)


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    return frames[0][None] if len(frames) == 1 else np.stack(frames)  # one frame: a view, no copy


class Derainer:
    """Derain BGR uint8 frames with any rainloop model.

        d = Derainer("model.onnx")        # or "default", "model.fp16.engine", "runs/x/"
        clean = d(frame)                  # same size, BGR uint8

    size=(w, h): infer at that size (fixed-shape engines, speed) and take what
    the model removed there, scaled to the frame, off the frame itself: the
    frame keeps its own detail, and a dry frame comes back as it went in. An
    ONNX exported with --static infers at its own size. precision: pick the
    model.<precision>.onnx/.engine sibling and insist on it. providers: ONNX
    Runtime providers, e.g. "cuda,cpu".
    """

    def __init__(self, model: str | os.PathLike = "default", size: tuple[int, int] | None = None,
                 precision: str | None = None, providers: str | Sequence[str] | None = None):
        if precision is not None and precision not in PRECISIONS:
            raise RainloopError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.model_path = _precision_variant(models.resolve(model), precision)
        self._backend = open_backend(self.model_path, providers)
        self.backend = self._backend.name
        self.precision = self._backend.precision
        self.io = self._backend.io
        self.static_size = static = self._backend.static_size
        self.size = tuple(size) if size else static
        if static and self.size != static:
            self.close()
            raise RainloopError(f"{self.model_path}: a static {static[0]}x{static[1]} graph cannot infer at "
                                f"{self.size[0]}x{self.size[1]}; leave --size out or export it again")
        if precision is not None and self.precision != precision:
            self.close()
            raise RainloopError(f"{self.model_path}: is a {self.precision} model, not {precision} "
                                f"(no {precision} variant beside it)")

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.derain_batch([frame])[0]

    def derain_batch(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Derain several frames; same-shaped inputs go through the model together, as many at a
        time as it takes (one at a time through a graph or engine fixed to batch 1)."""
        frames = [as_bgr(f) for f in frames]
        inputs = [resize_to(f, self.size) if self.size else f for f in frames]
        step = (self._backend.max_batch or len(inputs)) if len({f.shape for f in inputs}) == 1 else 1
        outputs = [y for i in range(0, len(inputs), step) for y in self._infer(_stack(inputs[i:i + step]))]
        return [out if inp is f else remove_scaled(f, inp, out) for f, inp, out in zip(frames, inputs, outputs)]

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        y = self._backend.run(to_model(batch, self.io, self._backend.dtype))
        return from_model(y, self.io)

    def close(self) -> None:
        self._backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Derainer({str(self.model_path)!r}, backend={self.backend!r}, precision={self.precision!r}, size={self.size})"
