"""rainloop.engines: TensorRT engines from rainloop's ONNX files, and a runner for them.

Importing this package never imports TensorRT. The plain-Python parts
(`onnx_info`, `shapes`, `plan`, `cache`, `build`, `verify`) decide and record
everything; `rainloop.engines.trt` holds every `tensorrt`/`pycuda` call and
is imported only when `available()` says yes.

Entry points: `build.build_engine(onnx, BuildOptions(...))` (what
`rainloop build` does) and `build.open_engine(path)` (an engine ready to run,
rebuilt first if it no longer matches; what the runtime uses).
"""

from __future__ import annotations

NOT_INSTALLED = ('TensorRT is not installed: pip install "rainloop[trt]" on a desktop with CUDA; '
                 "on a Jetson it comes with JetPack (plus pip install pycuda)")


def available() -> tuple[bool, str]:
    """(True, "TensorRT <version>") when tensorrt and pycuda import, else (False, how to get them)."""
    try:
        import tensorrt
    except (ImportError, OSError):  # OSError: the wheel is there but libnvinfer is not
        return False, NOT_INSTALLED
    try:
        import pycuda.driver  # noqa: F401
    except (ImportError, OSError):
        return False, 'pycuda is not installed (rainloop runs TensorRT through it): pip install pycuda'
    return True, f"TensorRT {tensorrt.__version__}"
