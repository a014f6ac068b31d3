"""Resumable checkpoints: tensors in safetensors, everything else in a JSON beside them.

Files are named by step (`step-00001200.safetensors` + `.json`) and the two
newest are kept. Each file is written atomically, the tensors first and the
JSON that points at them last, so a kill at any moment leaves at least one
complete checkpoint: a JSON is only ever present when its tensors are.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rainloop.atomic import atomic_path, write_json

_NAME = re.compile(r"^step-(\d{8})\.(json|safetensors)$")
KEEP = 2


def _files(ckpt_dir: Path) -> dict[int, dict[str, Path]]:
    found: dict[int, dict[str, Path]] = {}
    for p in ckpt_dir.glob("step-*"):
        m = _NAME.match(p.name)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = p
    return found


def save_checkpoint(ckpt_dir: str | Path, step: int, tensors: dict[str, torch.Tensor], info: dict,
                    keep: int = KEEP) -> Path:
    """Write step-N.safetensors then step-N.json; drop checkpoints older than the `keep` newest."""
    ckpt_dir = Path(ckpt_dir)
    stem = f"step-{step:08d}"
    weights = ckpt_dir / f"{stem}.safetensors"
    with atomic_path(weights) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    card = ckpt_dir / f"{stem}.json"
    write_json(card, {**info, "step": step, "tensors": weights.name})
    _prune(ckpt_dir, keep)
    return card


def _prune(ckpt_dir: Path, keep: int) -> None:
    files = _files(ckpt_dir)
    complete = sorted(s for s, kinds in files.items() if "json" in kinds)
    if len(complete) <= keep:
        return
    oldest_kept = complete[-keep]
    for step, kinds in files.items():
        if step < oldest_kept:
            # JSON first: a kill in between leaves a harmless orphan tensor file.
            for kind in ("json", "safetensors"):
                if kind in kinds:
                    kinds[kind].unlink(missing_ok=True)


def load_latest(ckpt_dir: str | Path, step: int | None = None) -> tuple[dict[str, torch.Tensor], dict] | None:
    """The newest checkpoint that reads back completely (only the one at `step` if given), or None."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    files = _files(ckpt_dir)
    for step in sorted(files if step is None else files.keys() & {step}, reverse=True):
        if "json" not in files[step]:
            continue
        try:
            info = json.loads(files[step]["json"].read_text())
            tensors = load_file(str(ckpt_dir / info["tensors"]))
        except Exception as exc:  # truncated or foreign files: fall back to the previous one
            warnings.warn(f"{files[step]['json']}: unusable checkpoint ({exc}); trying an older one",
                          stacklevel=2)
            continue
        return tensors, info
    return None


# --------------------------------------------------------------------------
# Flattening optimizer state into (tensors, JSON) and back
# --------------------------------------------------------------------------


def optimizer_to_files(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for key, val in state.items():
            if torch.is_tensor(val):
                tensors[f"{prefix}.{idx}.{key}"] = val
            else:
                scalars[f"{idx}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(opt: torch.optim.Optimizer, prefix: str, tensors: dict, info: dict) -> None:
    state: dict[int, dict] = {}
    for name, val in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[key] = val
    for name, val in info["scalars"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    # JSON turned tuples (Adam's betas) into lists; give them back their type.
    groups = [{k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
              for g in info["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})
