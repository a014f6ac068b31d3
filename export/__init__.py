"""rainloop.export: a G3 checkpoint -> checked ONNX (fp32/fp16, float/uint8 IO) -> INT8 Q/DQ ONNX.

    rainloop.export.export_onnx(ckpt, out, precision="fp32", io="float", opset=17,
                                static=None, simplify=True) -> card
    rainloop.export.quantize.quantize(onnx, calib, out=None, n=200, size=(640, 360),
                                      method="minmax", ...) -> card
    rainloop.export.card_path(model), read_card(model), write_card(model, card)

Names resolve lazily so `import rainloop.export` (and the torch-free card
helpers the runtime uses) never pulls in PyTorch. `quantize` is reached
through its module: a package attribute of that name would be replaced by
the submodule as soon as it is imported.
"""

from __future__ import annotations

import importlib

_API = {
    "export_onnx": "rainloop.export.onnx_export",
    "ParityError": "rainloop.export.onnx_export",
    "card_path": "rainloop.export.card",
    "read_card": "rainloop.export.card",
    "write_card": "rainloop.export.card",
}

__all__ = list(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'rainloop.export' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
