"""`rainloop train --init`: a new run that starts from trained weights, in stage 2.

Two sources:
- a run folder that reached stage 2: every network (G1..G4, the critics) from
  its newest checkpoint; the optimizers, pools and step start afresh;
- a derainer (`g3.safetensors`, or `default`, the bundled one): G1 = G3 = it,
  translators and critics from scratch. This is how a user fine-tunes the
  shipped model on their own camera's rain without re-running stage 1.

The source's weights fix the networks they load into (runs.make_config takes
its specs), so older derainers fine-tune as they were built. A head the source
lacks (the rain gate, say) may be asked for: it starts neutral, so the network
starts out as trained.
"""

from __future__ import annotations

from pathlib import Path

from rainloop.errors import RainloopError
from rainloop.training.checkpoint import load_latest
from rainloop.training.derainer_io import load_derainer
from rainloop.training.jrgr import JRGR
from rainloop.training.networks import HEADS
from rainloop.training.runs import CONFIG, init_path, read_run_config


def warm_start(model: JRGR, source: str) -> dict:
    """Load the weights; returns the source's lineage (steps, seed, training time) for the card."""
    path = init_path(source)
    lineage = _from_run(model, path) if (path / CONFIG).is_file() else _from_derainer(model, path)
    model.begin_stage2(copy_g1=False)
    return {"source": source, **lineage}


def _from_run(model: JRGR, run: Path) -> dict:
    cfg = read_run_config(run)
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
    for net in (model.nets.g1, model.nets.g3):
        load_grown(net, padded.net.state_dict(), path)
    return {k: card[k] for k in ("step", "seed", "train_seconds", "init") if k in card}


def _head(key: str) -> str | None:
    return next((h for h in HEADS if f".{h}." in f".{key}"), None)


def load_grown(module, state: dict, source) -> None:
    """Strict, except that a head the source lacks (rain gate, frame tone, veil gain) keeps the
    initialisation networks.EdgeUNet gives it."""
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise RainloopError(f"--init {source}: its weights do not fit this network "
                            f"({str(exc).splitlines()[-1].strip()})") from None
    extra = next((_head(k) for k in unexpected if _head(k)), None)
    if extra:
        raise RainloopError(f"--init {source}: a derainer with a {HEADS[extra]} cannot start one without it "
                            f"(g1.{extra} = true)")
    missing = [k for k in missing if not _head(k)]
    if missing or unexpected:
        raise RainloopError(f"--init {source}: its weights do not match this network "
                            f"({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing or unexpected)[0]})")
