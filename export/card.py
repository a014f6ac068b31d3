"""Model cards: the JSON file beside every exported ONNX saying what it is and how good it is.

No torch here: the runtime and engine builder read cards too.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from rainloop import __version__
from rainloop.atomic import write_json
from rainloop.files import read_json, sha256_file

FORMAT = "rainloop-model-card/1"
_STAMP_KEYS = ("format", "file", "bytes", "sha256", "rainloop_version", "created")


def card_path(model_path: str | Path) -> Path:
    """The card of a model file: its last suffix replaced by `.json`.

    model.onnx -> model.json, model.fp16.onnx -> model.fp16.json,
    model.int8.onnx -> model.int8.json (so precisions never share a card).
    """
    return Path(model_path).with_suffix(".json")


def stamp(card: dict, model_path: str | Path) -> dict:
    """Fill the fields that describe the written file itself (hash, size, name, date, version)."""
    model_path = Path(model_path)
    for key in _STAMP_KEYS:  # re-added below, so they always close the card
        card.pop(key, None)
    card.update({
        "format": FORMAT,
        "file": model_path.name,
        "bytes": model_path.stat().st_size,
        "sha256": sha256_file(model_path),
        "rainloop_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    return card


def write_card(model_path: str | Path, card: dict) -> Path:
    """Stamp `card` for the file at `model_path` and write it atomically beside it."""
    dest = card_path(model_path)
    write_json(dest, stamp(card, model_path))
    return dest


def read_card(model_path: str | Path) -> dict:
    """The card of `model_path` (an .onnx or its .json); RainloopError if missing or not a card."""
    return read_json(card_path(model_path), "model card", FORMAT)
