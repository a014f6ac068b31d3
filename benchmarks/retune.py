"""Two changes to a trained gated derainer that need no JRGR run: is either a cheap lift on real rain?

    python benchmarks/retune.py gate MODEL --out DIR [--steps 300]
        trains only the rain gate, the rest frozen: the stand-in's rainy frames (the real
        domain, always raining: what a camera's rain footage is) as wet, clean crops of the
        built-in train photos (half under a sky) as dry. The gate otherwise only ever saw
        synthetic labels, so it may shut on real rain the derainer could remove.
    python benchmarks/retune.py scale MODEL K --out DIR
        multiplies the rain layer by K (its last linear layers: the tail, the veil gain and the
        frame tone), for a derainer that removes too little of it: gate_analysis.py's `best scale`.

Either writes DIR/g3.safetensors with the card's gate setting kept as it was, so next
`rainloop gate DIR --dry-db 38 --out DIR-g38` sets the gate anew for it and
`python benchmarks/quality.py --model DIR-g38` scores it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rainloop.models import resolve
from rainloop.training import batches
from rainloop.training.derainer_io import FORMAT_KEYS, load_derainer, save_derainer
from rainloop.training.gate_calibration import shift_gate

CROP = 128
BATCH = 8  # wet and as many dry


def train_gate(net, steps: int, seed: int, sky: float = 0.5) -> None:
    """Adam on the gate's BCE, wet = the stand-in's rainy crops, dry = clean crops; only the gate moves."""
    net.requires_grad_(False)
    net.gate.requires_grad_(True)
    opt = torch.optim.Adam(net.gate.parameters(), 1e-3)
    real = batches.BuiltinReal(mix="rain", sky=sky)
    rng = np.random.default_rng(seed)
    labels = torch.cat([torch.ones(BATCH), torch.zeros(BATCH)])
    for step in range(steps):
        wet = [real.draw(rng, CROP)[0] for _ in range(BATCH)]
        dry = [batches._scene(rng, CROP, sky) for _ in range(BATCH)]
        logit = net.rain_logit(batches.to_tensor(wet + dry))
        loss = F.binary_cross_entropy_with_logits(logit, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            p = torch.sigmoid(logit.detach())
            print(f"step {step}: loss {loss.item():.3f}, gate on wet {p[:BATCH].mean():.2f}, on dry "
                  f"{p[BATCH:].mean():.2f}", flush=True)


@torch.no_grad()
def scale_layer(net, k: float) -> None:
    """The rain layer is linear in these layers' outputs, so scaling their weights scales it exactly."""
    for m in [net.tail, net.tone[-1] if net.tone is not None else None, net.veil]:
        if m is not None:
            m.weight *= k
            m.bias *= k


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["gate", "scale"])
    p.add_argument("model", help="run folder, g3.safetensors or default")
    p.add_argument("k", nargs="?", type=float, help="scale: the rain layer's factor")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=300, help="gate: training steps")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.what == "scale" and args.k is None:
        p.error("scale needs K")
    torch.set_num_threads(args.threads)
    padded, card = load_derainer(resolve(args.model, want="weights"))
    net = padded.net
    meta = {k: v for k, v in card.items() if k not in FORMAT_KEYS}
    if args.what == "gate":
        # Train the gate as it was trained, not as a camera's setting shifted it; the card then has no setting.
        if meta.pop("gate_calibration", None):
            shift_gate(net, -card["gate_calibration"]["logit_shift"])
        train_gate(net, args.steps, args.seed)
        meta["gate_retrained"] = {"steps": args.steps, "seed": args.seed}
    else:
        scale_layer(net, args.k)
        meta["rain_layer_scaled"] = args.k
    save_derainer(net, card["net"], Path(args.out) / "g3.safetensors", meta)
    print(f"wrote {args.out}/g3.safetensors; next: rainloop gate {args.out} --dry-db 38 --out {args.out}-g38")
    return 0


if __name__ == "__main__":
    sys.exit(main())
