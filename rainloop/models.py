"""Where the bundled default model lives inside the installed package."""

from __future__ import annotations

from pathlib import Path

from rainloop.errors import RainloopError

DEFAULT_DIR = Path(__file__).parent / "assets" / "default"
DEFAULT_ONNX = DEFAULT_DIR / "model.onnx"
DEFAULT_WEIGHTS = DEFAULT_DIR / "g3.safetensors"


def resolve(spec: str | Path, want: str = "onnx") -> Path:
    """Turn a user's model argument into a path; `default` means the bundled model.

    `want` picks which bundled file `default` stands for: "onnx" (runtime,
    eval) or "weights" (export, which starts from the PyTorch derainer).
    """
    if str(spec) == "default":
        path = DEFAULT_ONNX if want == "onnx" else DEFAULT_WEIGHTS
        if not path.exists():
            raise RainloopError(f"the bundled default model is missing ({path}); reinstall rainloop")
        return path
    path = Path(spec)
    if not path.exists():
        raise RainloopError(f"{path}: no such model file or folder")
    return path
