"""Which stage-2 loss terms pull a derainer's rain layer down, and which hold it up.

From a run's checkpoint, for a few training batches drawn as the run draws them,
takes the gradient of each weighted generator term with respect to G3 and
compares it with the gradient of M, the mean |O_t - G3(O_t)| on the batch's real
frames (the rain layer G3 removes from real rain):
  <g, gM>       first order, a plain gradient step on the term changes M by -lr * this
  <sign g, gM>  the same for a step of the sign of g, closer to what Adam does
Positive: descending the term shrinks the real rain layer (toward the identity).
The cycle term is split into its four L1 parts.

    python benchmarks/loss_forces.py runs/x [--checkpoint 450] [--g3-from-g1] [--detach-real-loop]
        [--batches 6] [--json out.json]

--g3-from-g1 puts G1's weights into G3 first: in a fine-tune (--init) G1 is the
starting derainer, frozen, so this asks what the run's trained translators and
critics would do to that derainer at its start.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rainloop.training import losses
from rainloop.training.batches import draw_batch, open_real, open_synthetic, step_rngs
from rainloop.training.checkpoint import load_latest
from rainloop.training.jrgr import JRGR, forward_loops
from rainloop.training.runs import read_config


def load(run: Path, step: int | None) -> JRGR:
    model = JRGR(read_config(run))
    ckpt = load_latest(run / "checkpoints", step)
    if ckpt is None:
        raise SystemExit(f"{run}: no checkpoint{'' if step is None else f' at step {step}'}")
    model.load_state(*ckpt)
    return model


def terms(model: JRGR, batch: dict, detach_real: bool) -> dict[str, torch.Tensor]:
    """generator_losses' weighted terms, with the cycle and adversarial terms split into their parts."""
    nets, w = model.nets, model.cfg["loss"]
    out = forward_loops(nets, batch["O_s"], batch["O_t"], detach_real)
    whole = losses.generator_losses(out, batch, nets, w)
    cyc = losses.cycle_parts(batch["O_s"], out["Os2"], batch["O_t"], out["Ot2"],
                             out["Bs1"], out["Bs2"], out["Bt1"], out["Bt2"])
    backgrounds = [out[k] for k in ("Bs1", "Bs2", "Bt1", "Bt2")]
    return {"sup": w["supervised"] * whole["sup"],
            **{k: w["cycle"] * v for k, v in cyc.items()},
            "adv D_B": w["adversarial"] * sum(losses.lsgan_real(nets.d_b(b)) for b in backgrounds),
            "adv D_t, D_s": w["adversarial"] * (losses.lsgan_real(nets.d_t(out["Ot1"]))
                                                + losses.lsgan_real(nets.d_s(out["Os1"]))),
            **{k: w[name] * whole[k] for k, name in (("idt", "identity"), ("gate", "gate")) if k in whole}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--checkpoint", type=int, help="step of the checkpoint (default: the newest)")
    p.add_argument("--g3-from-g1", action="store_true")
    p.add_argument("--detach-real-loop", action="store_true", help="as `rainloop train --detach-real-loop on`")
    p.add_argument("--batches", type=int, default=6)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.set_num_threads(2)
    model = load(args.run, args.checkpoint)
    g3 = model.nets.g3
    if args.g3_from_g1:
        g3.load_state_dict(model.nets.g1.state_dict())
    params = list(g3.parameters())
    for q in params:
        q.requires_grad_(True)
    cfg, data = model.cfg, model.cfg["data"]
    syn = open_synthetic(data["syn"], cfg["load"], data["rain_mix"], data["syn_style"], data["sky"])
    real = open_real(data["real"], cfg["load"], data["every"], data["real_mix"], data["sky"])

    def flat(grads):
        return torch.cat([(g if g is not None else torch.zeros_like(q)).flatten() for g, q in zip(grads, params)])

    rows: dict[str, list] = {}
    for step in range(model.step, model.step + args.batches):
        batch = draw_batch(syn, real, step_rngs(cfg["seed"], step), cfg["batch"], cfg["crop"])
        found = terms(model, batch, args.detach_real_loop)
        g_m = flat(torch.autograd.grad((batch["O_t"] - g3(batch["O_t"])).abs().mean(), params))
        total = torch.zeros_like(g_m)
        for name, value in found.items():
            g = flat(torch.autograd.grad(value, params, retain_graph=True, allow_unused=True))
            total += g
            rows.setdefault(name, []).append((value.item(), (g @ g_m).item(), (torch.sign(g) @ g_m).item()))
        rows.setdefault("all", []).append((float("nan"), (total @ g_m).item(), (torch.sign(total) @ g_m).item()))
    table = {k: dict(zip(("value", "dot", "sign_dot"), np.mean(v, 0).round(4).tolist())) for k, v in rows.items()}
    print(f"{'term':14s} {'value':>8s} {'<g, gM>':>9s} {'<sign g, gM>':>13s}   (+: shrinks the real rain layer)")
    for k, r in table.items():
        print(f"{k:14s} {r['value']:8.3f} {r['dot']:9.2f} {r['sign_dot']:13.2f}")
    if args.json:
        args.json.write_text(json.dumps({"run": str(args.run), "step": model.step, "g3_from_g1": args.g3_from_g1,
                                         "detach_real_loop": args.detach_real_loop, "batches": args.batches,
                                         "terms": table}, indent=2) + "\n")


if __name__ == "__main__":
    main()
