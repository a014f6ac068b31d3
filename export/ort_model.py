"""An exported derainer under ONNX Runtime, fed and read as BGR uint8 frames (no torch).

The graph's input dtype tells its contract: float32 -> NCHW RGB [0,1];
uint8 -> NHWC BGR frames as OpenCV gives them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from rainloop.errors import RainloopError
from rainloop.frames import to_float_frames, to_model


def _user_session(path: Path, opts: ort.SessionOptions) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for bad files
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise RainloopError(f"{path}: ONNX Runtime cannot load it ({first})") from None


class OrtDerainer:
    """One ONNX Runtime session on the CPU; `model` is a path or serialized bytes."""

    def __init__(self, model: str | Path | bytes):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if isinstance(model, bytes):  # a graph we just built: failing to load it is our bug
            self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        else:
            self.session = _user_session(Path(model), opts)
        inp = self.session.get_inputs()
        if len(inp) != 1 or inp[0].type not in ("tensor(float)", "tensor(uint8)"):
            raise RainloopError(f"{model}: not a rainloop derainer (expects one float32 or uint8 input)")
        self.input_name = inp[0].name
        self.io = "uint8" if inp[0].type == "tensor(uint8)" else "float"

    def feed(self, frames: np.ndarray) -> dict:
        """The input dict for (N,H,W,3) BGR uint8 frames, in the graph's own format."""
        x = to_model(frames, self.io)
        return {self.input_name: x}

    def raw(self, frames: np.ndarray) -> np.ndarray:
        return self.session.run(None, self.feed(frames))[0]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(N,H,W,3) BGR uint8 -> (N,H,W,3) BGR float32 in [0,1]."""
        return to_float_frames(self.raw(frames), self.io)
