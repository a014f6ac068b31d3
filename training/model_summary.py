"""Parameters and FLOPs of each network of a preset (`rainloop train --print-model`).

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode (a multiply-add
counts 2) on meta tensors, so even the paper nets at 720p cost no compute.
Derainers are measured as deployed: padded to their multiple inside.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from rainloop.training.networks import PaddedDerainer, build_derainer, build_discriminator, build_translator

SIZES = ((256, 256), (1280, 720))


def gflops(net: torch.nn.Module, size: tuple[int, int], inputs: int = 1) -> float:
    w, h = size
    net = net.to("meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(*(torch.zeros(1, 3, h, w, device="meta") for _ in range(inputs)))
    return counter.get_total_flops() / 1e9


def summarize(cfg: dict, sizes=SIZES) -> list[dict]:
    """One row per network kind: name, role, parameters, GFLOPs per frame at each size."""
    # The translators take (rain layer, background).
    nets = [("G1/G3", "derainer (G3 is deployed)", PaddedDerainer(build_derainer(cfg["g1"])), 1),
            ("G2/G4", "rain-layer translator", build_translator(cfg["g2"]), 2),
            ("D_t/D_s/D_B", "PatchGAN discriminator", build_discriminator(cfg["d"]), 1)]
    rows = []
    for name, role, net, inputs in nets:
        params = sum(p.numel() for p in net.parameters())
        rows.append({"name": name, "role": role, "params": params,
                     "gflops": {f"{w}x{h}": gflops(net, (w, h), inputs) for w, h in sizes}})
    return rows


def format_table(preset: str, rows: list[dict]) -> str:
    sizes = list(rows[0]["gflops"])
    head = f"{'network':<12} {'params (M)':>10}  " + "  ".join(f"{'GFLOP@' + s:>16}" for s in sizes) + "  role"
    lines = [f"preset {preset}", head]
    for r in rows:
        flops = "  ".join(f"{r['gflops'][s]:>16.2f}" for s in sizes)
        lines.append(f"{r['name']:<12} {r['params'] / 1e6:>10.3f}  {flops}  {r['role']}")
    return "\n".join(lines)
