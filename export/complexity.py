"""How big and how costly a derainer is: parameters and FLOPs at a frame size."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from rainloop.training.networks import PaddedDerainer, build_derainer

REFERENCE_SIZE = (1280, 720)


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def gflops(spec: dict, size: tuple[int, int] = REFERENCE_SIZE) -> float:
    """GFLOPs (multiply and add counted separately) for one frame of `size`, padding included.

    Counted on the meta device: shapes only, no memory, no arithmetic.
    """
    w, h = size
    with torch.device("meta"):
        net = PaddedDerainer(build_derainer(spec)).eval()
        x = torch.empty(1, 3, h, w)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return round(counter.get_total_flops() / 1e9, 3)
