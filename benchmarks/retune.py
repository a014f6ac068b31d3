"""Changes to a trained gated derainer that need no JRGR run: is any a cheap lift on real rain?

    python benchmarks/retune.py gate MODEL --out DIR [--steps 300]
        trains only the rain gate, the rest frozen: the stand-in's rainy frames (the real
        domain, always raining: what a camera's rain footage is) as wet, clean crops of the
        built-in train photos (half under a sky) as dry. The gate otherwise only ever saw
        synthetic labels, so it may shut on real rain the derainer could remove.
    python benchmarks/retune.py scale MODEL K --out DIR
        multiplies the rain layer by K (its last linear layers: the tail, the veil gain and the
        frame tone), for a derainer that removes too little of it: gate_analysis.py's `best scale`.
    python benchmarks/retune.py pairs MODEL --veil VEIL --out DIR [--pairs learned-bare|learned-any]
                                     [--steps 1000] [--identity W] [--identity-open W] [--add dark,veil]
                                     [--jitter] [--dry SHARE]
        trains the whole derainer on learned_veil.py's pairs (`learned-bare` by default) with stage 1's loss (the
        MSE plus the gate term, as `rainloop train` weighs them), plus W times the identity term
        (stage 2's, relative to the supervised weight) and W times the rain layer's L1 on clean
        frames before the gate (which the gated identity term leaves to the gate): supervised
        only, no loops. --add gives the derainer the dark channel input and/or the veil gain
        first, starting at zero (as `rainloop train --init` does). --jitter draws half the scenes
        as other cameras would give them, --dry sets the share of dry pairs. --hold-out
        a,b,c leaves those built-in train photos out of it, for `margin`.
    python benchmarks/retune.py margin MODEL --hold-out a,b,c [--dry-db 38]
        for a derainer trained without those photos: the dry-db at which a gate set on the other train
        photos' crops (as `rainloop gate` sets it) is as shut as one set on the left-out photos'
        crops at --dry-db. Scenes a derainer trained on pass more easily than new ones; this says
        by how much, without looking at the test photos.

All but margin write DIR/g3.safetensors (gate and pairs train from the gate as trained, undoing
the card's setting; scale keeps it), so next `rainloop gate DIR --dry-db 38 --out DIR-g38` sets
the gate for the changed derainer and `python benchmarks/quality.py --model DIR-g38` scores it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rainloop import builtin
from rainloop.models import resolve
from rainloop.training import batches, losses
from rainloop.training.derainer_io import FORMAT_KEYS, load_derainer, save_derainer
from rainloop.training.gate_calibration import calibrate, dry_crops, shift_gate
from rainloop.training.networks import build_derainer
from rainloop.training.presets import get_preset
from rainloop.training.warm_start import load_grown

CROP = 128
BATCH = 8  # pairs a step; gate: wet crops a step, and as many dry
# Stage 1 weighs the gate term against the MSE as stage 2 weighs it against the supervised term.
_WEIGHTS = get_preset("edge")["loss"]
MSE_OVER_GATE = _WEIGHTS["supervised"] / _WEIGHTS["gate"]


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


def jittered_scene(rng: np.random.Generator, crop: int, sky: float) -> np.ndarray:
    """A clean crop as another camera might give it, half the time: exposure (gamma), white
    balance, saturation, a fifth of those in monochrome. Twelve photos are few scenes."""
    img = batches._scene(rng, crop, sky)
    if rng.random() < 0.5:
        return img
    x = (img.astype(np.float32) / 255) ** np.exp(rng.uniform(-0.5, 0.5))
    x = x * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    grey = x.mean(2, keepdims=True)
    x = grey + (0.0 if rng.random() < 0.2 else rng.uniform(0.4, 1.4)) * (x - grey)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def train_on_pairs(net, pairs: str, veil: str, steps: int, identity: float, open_identity: float,
                   jitter: bool = False, dry: float | None = None, sky: float = 0.5) -> None:
    """Stage 1's step (Adam, betas as `rainloop train`'s), on pairs drawn as learned_veil.py draws them."""
    import learned_veil

    draw = learned_veil.pair_drawer(pairs, learned_veil.load(veil), jittered_scene if jitter else batches._scene, dry)
    source = batches.BuiltinPairs(sky=sky)
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), 1e-4, betas=(0.5, 0.999))
    net.train()
    for step in range(steps):
        rng = np.random.default_rng([7, step])
        rainy, clean = zip(*(draw(source, rng, CROP) for _ in range(BATCH)))
        batch = {"O_s": batches.to_tensor(list(rainy)), "B_s": batches.to_tensor(list(clean))}
        out, logit = net.derain_with_logit(batch["O_s"])
        terms = {"mse": losses.mse(out, batch["B_s"]), "gate": losses.gate(net, batch, O_s_logit=logit)}
        total = terms["mse"] + terms["gate"] / MSE_OVER_GATE
        if identity:
            terms["idt"] = losses.identity(net, batch["B_s"])
            total = total + identity * terms["idt"]
        if open_identity:  # the rain layer itself on clean frames, which the gate cannot hide
            terms["idt_open"] = net.rain_layer(batch["B_s"])[1].abs().mean()
            total = total + open_identity * terms["idt_open"]
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step}: " + ", ".join(f"{k} {v.item():.4f}" for k, v in terms.items()), flush=True)


def hold_out(names: list[str]) -> None:
    """Split the built-in train photos: `train` keeps the rest, `held` gets `names`."""
    unknown = set(names) - set(builtin.TRAIN)
    if unknown:
        raise SystemExit(f"--hold-out: not built-in train photos: {', '.join(sorted(unknown))}")
    builtin.SPLITS["train"] = tuple(n for n in builtin.TRAIN if n not in names)
    builtin.SPLITS["held"] = tuple(names)
    builtin._photos.cache_clear()


def margin(net, dry_db: float) -> float:
    """The dry-db on the kept train photos that sets the gate where `dry_db` on the held-out ones does."""
    crops = {split: dry_crops(split=split) for split in ("held", "train")}

    def shift(split: str, db: float) -> float:
        record = calibrate(net, db, (crops[split], split))
        shift_gate(net, -record["logit_shift"])  # calibrate shifted it in place
        return record["logit_shift"]

    target = shift("held", dry_db)
    print(f"gate set at {dry_db:g} dB on the held-out photos: logit shift {target:+.2f}")
    lo, hi = dry_db - 20, dry_db + 40
    for _ in range(12):  # bisection on dry-db: the shift grows with it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if shift("train", mid) < target else (lo, mid)
    return round(hi, 1)


def grown(net, spec: dict, switches: list[str], source: str):
    """The same derainer with more switches on; what it lacks starts at zero, so its output is unchanged."""
    spec = {**spec, **{k: True for k in switches}}
    bigger = build_derainer(spec)
    load_grown(bigger, net.state_dict(), source)
    return bigger, spec


@torch.no_grad()
def scale_layer(net, k: float) -> None:
    """The rain layer is linear in these layers' outputs, so scaling their weights scales it exactly."""
    for m in [net.tail, net.tone[-1] if net.tone is not None else None, net.veil]:
        if m is not None:
            m.weight *= k
            m.bias *= k


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["gate", "scale", "pairs", "margin"])
    p.add_argument("model", help="run folder, g3.safetensors or default")
    p.add_argument("k", nargs="?", type=float, help="scale: the rain layer's factor")
    p.add_argument("--out", help="where the changed derainer goes (not for margin)")
    p.add_argument("--hold-out", help="pairs, margin: built-in train photos left out, comma-separated")
    p.add_argument("--dry-db", type=float, default=38.0, help="margin: the target on the held-out photos")
    p.add_argument("--steps", type=int, help="gate, pairs: training steps (300, 1000)")
    p.add_argument("--veil", help="pairs: the generator `learned_veil.py fit` wrote")
    p.add_argument("--pairs", default="learned-bare", choices=["learned-bare", "learned-any"],
                   help="pairs: how learned_veil.py makes them")
    p.add_argument("--identity", type=float, default=0.0, help="pairs: the identity term's weight")
    p.add_argument("--identity-open", type=float, default=0.0,
                   help="pairs: weight of the rain layer's L1 on clean frames, before the gate")
    p.add_argument("--jitter", action="store_true", help="pairs: exposure, colour and monochrome jitter of the scenes")
    p.add_argument("--dry", type=float,
                   help=f"pairs: the share of dry pairs (the default mix's {batches.RAIN_MIXES['default']['dry']})")
    p.add_argument("--add", help="pairs: switches to add first, comma-separated (dark, veil)")
    p.add_argument("--seed", type=int, default=123, help="gate: its crops' draw")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.what == "scale" and args.k is None:
        p.error("scale needs K")
    if args.what == "pairs" and not args.veil:
        p.error("pairs needs --veil")
    if args.dry is not None and not 0 <= args.dry <= 1:
        p.error("--dry is a share of the pairs, 0 to 1")
    if args.add and set(args.add.split(",")) - {"dark", "veil"}:
        p.error("--add takes dark and/or veil")
    if args.what == "margin" and not args.hold_out:
        p.error("margin needs --hold-out")
    if args.what != "margin" and not args.out:
        p.error(f"{args.what} needs --out")
    if args.hold_out:
        hold_out(args.hold_out.split(","))
    torch.set_num_threads(args.threads)
    padded, card = load_derainer(resolve(args.model, want="weights"))
    net = padded.net
    meta = {k: v for k, v in card.items() if k not in FORMAT_KEYS}
    if args.what == "margin":
        print(f"the same gate on the other train photos: --dry-db {margin(net, args.dry_db)}")
        return 0
    if args.what in ("gate", "pairs"):
        # Train the gate as it was trained, not as a camera's setting shifted it; the card then has no setting.
        if meta.pop("gate_calibration", None):
            shift_gate(net, -card["gate_calibration"]["logit_shift"])
    if args.what == "gate":
        args.steps = args.steps or 300
        train_gate(net, args.steps, args.seed)
        meta["gate_retrained"] = {"steps": args.steps, "seed": args.seed}
    elif args.what == "pairs":
        args.steps = args.steps or 1000
        if args.add:
            net, card["net"] = grown(net, card["net"], args.add.split(","), args.model)
        train_on_pairs(net, args.pairs, args.veil, args.steps, args.identity, args.identity_open,
                       args.jitter, args.dry)
        meta["trained_on_pairs"] = {"pairs": args.pairs, "veil": args.veil, "steps": args.steps,
                                    "identity": args.identity, "identity_open": args.identity_open,
                                    "held_out": args.hold_out, "added": args.add, "jitter": args.jitter,
                                    "dry": args.dry}
    else:
        scale_layer(net, args.k)
        meta["rain_layer_scaled"] = args.k
    save_derainer(net, card["net"], Path(args.out) / "g3.safetensors", meta)
    print(f"wrote {args.out}/g3.safetensors; next: rainloop gate {args.out} --dry-db 38 --out {args.out}-g38")
    return 0


if __name__ == "__main__":
    sys.exit(main())
