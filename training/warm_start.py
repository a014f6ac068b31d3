"""`rainloop train --init`: a new run that starts from trained weights, in stage 2.

Two sources:
- a run folder that reached stage 2: every network (G1..G4, the critics) from
  its newest checkpoint; the optimizers, pools and step start afresh;
- a derainer (`g3.safetensors`, or `default`, the bundled one): G1 = G3 = it,
  translators and critics from scratch. This is how a user fine-tunes the
  shipped model on their own camera's rain without re-running stage 1.

A derainer trained without the rain gate, the frame tone, the veil gain or the
dark channel input (networks.EdgeUNet) may be loaded into one with them: the gate
starts open, the tone and the veil gain at zero, and the first conv's weights for
the dark channel at zero, so the network starts out as trained.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rainloop.errors import RainloopError
from rainloop.training.checkpoint import load_latest
from rainloop.training.derainer_io import load_derainer
from rainloop.training.jrgr import JRGR
from rainloop.training.networks import HEADS
from rainloop.training.presets import PRESETS
from rainloop.training.runs import CONFIG, init_path, read_config


def warm_start(model: JRGR, source: str) -> dict:
    """Load the weights; returns the source's lineage (steps, seed, training time) for the card."""
    path = init_path(source)
    lineage = _from_run(model, path) if (path / CONFIG).is_file() else _from_derainer(model, path)
    model.begin_stage2(copy_g1=False)
    return {"source": source, **lineage}


def _from_run(model: JRGR, run: Path) -> dict:
    cfg = read_config(run)
    for key in ("g1", "g2", "d"):
        if _body(cfg[key]) != _body(model.cfg[key]):
            raise RainloopError(f"--init {run}: its networks differ from this run's ({key}: {cfg[key]}); "
                                f"use --preset {_preset_for(cfg['g1'], cfg['preset'])} and the same sizes and switches")
    ckpt = load_latest(run / "checkpoints")
    if ckpt is None or not ckpt[1]["g3_ready"]:
        raise RainloopError(f"--init {run}: has no stage-2 checkpoint (no G3 yet); resume that run instead")
    load_grown(model.nets, {k[4:]: v for k, v in ckpt[0].items() if k.startswith("net.")}, run)
    info = ckpt[1]
    return {"step": info["step"], "pretrain_steps": cfg["pretrain_steps"], "seed": cfg["seed"],
            "data": cfg["data"], "train_seconds": round(info.get("train_seconds", 0.0), 1),
            **({"init": cfg["init_from"]} if "init_from" in cfg else {})}


def _from_derainer(model: JRGR, path: Path) -> dict:
    padded, card = load_derainer(path)
    if _body(card["net"]) != _body(model.cfg["g1"]):
        raise RainloopError(f"--init {path}: a {card['net']} derainer, but this run builds {model.cfg['g1']}; "
                            f"use --preset {_preset_for(card['net'], card.get('preset', 'edge'))}")
    for net in (model.nets.g1, model.nets.g3):
        load_grown(net, padded.net.state_dict(), path)
    return {k: card[k] for k in ("step", "seed", "train_seconds", "init") if k in card}


def _body(spec: dict) -> dict:
    # The dark channel input is not a head, but a source without it loads (_add_dark_input).
    return {k: v for k, v in spec.items() if k not in HEADS and k != "dark"}


def _preset_for(spec: dict, named: str) -> str:
    """The preset whose derainer this spec's weights load into: the name a source was trained
    under may now stand for another network (edge before ShuffleUNet is edge-fullres)."""
    def shape(s):
        return {k: v for k, v in _body(s).items() if k != "base"}

    return next((name for name, p in PRESETS.items() if shape(p["g1"]) == shape(spec)), named)


def _add_dark_input(module, state: dict) -> dict:
    """A first conv trained on RGB alone, given a zero weight for the dark channel."""
    own = module.state_dict()
    for key, weight in state.items():
        if key.endswith("head.0.weight") and key in own and own[key].shape[1] == weight.shape[1] + 1:
            state = {**state, key: torch.cat([weight, weight.new_zeros(weight.shape[0], 1, *weight.shape[2:])], 1)}
    return state


def _head(key: str) -> str | None:
    return next((h for h in HEADS if f".{h}." in f".{key}"), None)


def load_grown(module, state: dict, source) -> None:
    """Strict, except that what the source lacks starts as networks.EdgeUNet starts it: a head (rain gate,
    frame tone, veil gain) keeps its initialisation, the dark channel input's first-conv weights are zero."""
    try:
        missing, unexpected = module.load_state_dict(_add_dark_input(module, state), strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise RainloopError(f"--init {source}: its weights do not fit this network "
                            f"({str(exc).splitlines()[-1].strip()})") from None
    extra = next((_head(k) for k in unexpected if _head(k)), None)
    if extra:
        raise RainloopError(f"--init {source}: a derainer with a {HEADS[extra]} cannot start one without; "
                            f"use --{extra} on")
    missing = [k for k in missing if not _head(k)]
    if missing or unexpected:
        raise RainloopError(f"--init {source}: its weights do not match this network "
                            f"({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing or unexpected)[0]})")
