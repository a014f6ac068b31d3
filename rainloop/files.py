"""Reading the small files every stage leaves beside its artefacts: hashes and JSON cards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rainloop.errors import RainloopError


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | Path, what: str, fmt: str | None = None) -> dict:
    """A JSON object from `path`, or one RainloopError line naming the file and `what` it should be.

    With `fmt`, the object's "format" field must equal it (so a card of
    another kind is refused instead of half-read).
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise RainloopError(f"{path}: {what} not found") from None
    except (OSError, ValueError) as exc:
        raise RainloopError(f"{path}: unreadable {what} ({exc})") from None
    if not isinstance(obj, dict) or (fmt is not None and obj.get("format") != fmt):
        raise RainloopError(f"{path}: not a rainloop {what}")
    return obj
