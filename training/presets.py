"""Named training configurations: the paper's, an edge one for Jetson, a tiny one for CPU.

A preset is plain data (JSON-able) so a run folder's config.json can rebuild
every network without this file.
"""

from __future__ import annotations

import copy

from rainloop.errors import RainloopError

_LOSSES = {"supervised": 50.0, "cycle": 40.0, "adversarial": 4.0, "identity": 0.0}
# The gated derainers (edge, tiny) also learn their rain gate (losses.gate).
_GATED_LOSSES = {**_LOSSES, "gate": 1.0}

_EDGE_REST = {
    "g2": {"type": "resnet", "base": 16, "blocks": 4, "norm": "instance"},
    "d": {"type": "patch", "base": 32, "layers": 3, "norm": "instance"},
    "loss": dict(_GATED_LOSSES),
    "lr_pretrain": 1e-3, "lr": 1e-4, "beta1": 0.5, "batch": 4,
    # Real footage is scaled to a short side of `load` before cropping: 256 keeps streaks about
    # as wide as a 720p camera shows them (CycleGAN's 160/128 would shrink them 4x more).
    "load": 256, "crop": 128, "pool": 50,
}

PRESETS: dict[str, dict] = {
    # The authors' published configuration (method.md).
    "paper": {
        "g1": {"type": "cycle_unet", "levels": 7, "base": 64, "norm": "instance"},
        "g2": {"type": "resnet", "base": 64, "blocks": 9, "norm": "instance"},
        "d": {"type": "patch", "base": 64, "layers": 3, "norm": "instance"},
        "loss": dict(_LOSSES),
        "lr_pretrain": 2e-4, "lr": 1e-5, "beta1": 0.5, "batch": 1,
        "load": 286, "crop": 256, "pool": 50,
    },
    # Real time on Jetson: conv/ReLU derainer whose body runs at a quarter of the resolution
    # (10.5 GFLOP per 720p frame), lighter translators and critics.
    "edge": {
        "g1": {"type": "shuffle_unet", "shuffle": 4, "levels": 3, "base": 32, "max_mult": 4, "blocks": 1, "gate": True},
        **_EDGE_REST,
    },
    # The edge derainer before ShuffleUNet, body at full resolution (41.2 GFLOP per 720p frame).
    "edge-fullres": {
        "g1": {"type": "edge_unet", "levels": 4, "base": 16, "max_mult": 4, "blocks": 2, "gate": True},
        **_EDGE_REST,
    },
    # The smallest preset that still learns: CPU runs and tests.
    "tiny": {
        "g1": {"type": "edge_unet", "levels": 3, "base": 8, "max_mult": 4, "blocks": 1, "gate": True},
        "g2": {"type": "resnet", "base": 8, "blocks": 2, "norm": "instance"},
        "d": {"type": "patch", "base": 8, "layers": 2, "norm": "instance"},
        "loss": dict(_GATED_LOSSES),
        "lr_pretrain": 2e-3, "lr": 2e-4, "beta1": 0.5, "batch": 4,
        "load": 80, "crop": 64, "pool": 50,
    },
}


def get_preset(name: str) -> dict:
    if name not in PRESETS:
        raise RainloopError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    cfg["preset"] = name
    return cfg
