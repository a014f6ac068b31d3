"""The deployable derainer on disk: `g3.safetensors` (weights) + `g3.json` (how to rebuild it).

This is the contract between training and everything downstream (export,
the PyTorch backend of the runtime): small, no optimizer state, loadable
without the training loop.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rainloop import __version__
from rainloop.atomic import atomic_path, write_json
from rainloop.errors import RainloopError
from rainloop.files import read_json
from rainloop.training.networks import PaddedDerainer, build_derainer

FORMAT = "rainloop-derainer/1"
# Keys save_derainer writes itself: they describe the file, not the training run.
FORMAT_KEYS = ("format", "net", "multiple", "rainloop_version")


def save_derainer(net: torch.nn.Module, spec: dict, dest_weights: str | Path, meta: dict | None = None) -> None:
    """Write weights and card atomically; `spec` is the build_derainer spec."""
    dest_weights = Path(dest_weights)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(dest_weights) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT})
    card = {"format": FORMAT, "net": spec, "multiple": int(net.multiple),
            "rainloop_version": __version__, **(meta or {})}
    write_json(dest_weights.with_suffix(".json"), card)


def resolve_weights(path: str | Path) -> Path:
    """A run folder, its g3.safetensors or g3.json -> the weights file."""
    path = Path(path)
    if path.is_dir():
        path = path / "g3.safetensors"
    elif path.suffix == ".json":
        card, path = path, path.with_suffix(".safetensors")
        described = [p for p in (card.with_suffix(".onnx"), card.with_suffix(".engine")) if p.exists()]
        if described and not path.exists():
            raise RainloopError(f"{card}: a model card; pass the model it describes, {described[0]}")
    if path.suffix != ".safetensors":
        raise RainloopError(f"{path}: expected a run folder, a .safetensors derainer or its .json card")
    if not path.exists():
        raise RainloopError(f"{path}: no such derainer weights file")
    if not path.with_suffix(".json").exists():
        raise RainloopError(f"{path}: its card {path.with_suffix('.json').name} is missing")
    return path


def read_card(weights: Path) -> dict:
    card = read_json(weights.with_suffix(".json"), "derainer card", FORMAT)
    if "net" not in card:
        raise RainloopError(f"{weights.with_suffix('.json')}: derainer card without a network spec")
    return card


def load_derainer(path: str | Path) -> tuple[PaddedDerainer, dict]:
    """Load the derainer for inference: any-size [0,1] RGB in, same out. Returns (module, card)."""
    weights = resolve_weights(path)
    card = read_card(weights)
    net = build_derainer(card["net"])
    try:
        state = load_file(str(weights))
        net.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise RainloopError(f"{weights}: cannot load derainer weights ({str(exc).splitlines()[0]})") from None
    return PaddedDerainer(net).eval(), card
