"""What a gated derainer does on each quality set: its rain gate, and its rain layer without it.

For each model (PyTorch weights: a run folder, a g3.safetensors or `default`) and
each held-out set of benchmarks/quality.py, prints:
  gate          mean / min / max of the per-frame gate (1 = "raining"; "-" if ungated)
  PSNR gated    the model as shipped
  PSNR open     the same rain layer with the gate forced open: what a perfect gate
                could reach on rainy sets, and what dry frames lose without one
  |R| p50/p90   the rain layer's magnitude (before the gate): a model that removes
                rain, not a global tone change, has a much larger one on rain than on dry
  best scale    the rain layer times the per-frame factor a (0..4) that fits the clean
                frame best, and a's median: a yardstick, labels only a benchmark has. Above 1,
                the layer has the right shape and too little of it; near 1, the shape is the limit

`--model oracle-affine` is a yardstick, not a model: per frame and channel, the
affine map a*x + b fitted to the clean image by least squares. It measures how
much of a set's error is a frame-wide veil (contrast and offset).

    python benchmarks/gate_analysis.py --model default [--model runs/x ...] [--json out.json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from quality import SETS, measure_all
from rainloop.data import open_pairs
from rainloop.frames import from_model, to_model
from rainloop.metrics import psnr
from rainloop.models import resolve
from rainloop.training.derainer_io import load_derainer


ORACLE = "oracle-affine"
MOST_SCALE = 4.0


def affine_fit(rainy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per channel, the least-squares a * rainy + b against clean, as uint8."""
    x, y = rainy.reshape(-1, 3).astype(np.float64), clean.reshape(-1, 3).astype(np.float64)
    out = np.empty_like(x)
    for c in range(3):
        a, b = np.polyfit(x[:, c], y[:, c], 1)
        out[:, c] = a * x[:, c] + b
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(rainy.shape)


def best_scale(x: np.ndarray, layer: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """The factor a in [0, MOST_SCALE] for which x - a * layer (NCHW floats) is nearest the clean frame in
    squared error, and the PSNR it reaches."""
    target = to_model(clean[None], "float")
    a = float(np.clip(np.sum((x - target) * layer) / max(float(np.sum(layer * layer)), 1e-12), 0, MOST_SCALE))
    return a, psnr(from_model(np.clip(x - a * layer, 0, 1), "float")[0], clean)


def summarise(rows: list[dict], gated: bool) -> dict:
    r = np.concatenate([row.pop("r") for row in rows])
    gates = [row["gate"] for row in rows]
    return {
        "gated": gated,
        "gate_mean": float(np.mean(gates)), "gate_min": float(np.min(gates)), "gate_max": float(np.max(gates)),
        **{k: float(np.mean([row[k] for row in rows])) for k in ("input_psnr", "psnr_gated", "psnr_open",
                                                                  "psnr_scaled")},
        "scale_p50": float(np.median([row["scale"] for row in rows])),
        "r_p50": float(np.percentile(r, 50)), "r_p90": float(np.percentile(r, 90)),
    }


def oracle(sets: dict[str, list[Path]]) -> dict:
    out = {}
    for name, folders in sets.items():
        rows = []
        for sample in (s for f in folders for s in open_pairs(f)):
            fitted = affine_fit(sample.rainy, sample.clean)
            score = psnr(fitted, sample.clean)
            rows.append({"gate": 1.0, "psnr_gated": score, "psnr_open": score, "psnr_scaled": score, "scale": 1.0,
                         "input_psnr": psnr(sample.rainy, sample.clean),
                         "r": np.abs(sample.rainy.astype(np.float32) - fitted).ravel() / 255})
        out[name] = summarise(rows, gated=False)
    return out


@torch.no_grad()
def analyse(model: str, sets: dict[str, list[Path]]) -> dict:
    if model == ORACLE:
        return oracle(sets)
    padded, _ = load_derainer(resolve(model, want="weights"))
    net, seen = padded.net, []
    gate = net.gate
    if gate is not None:  # the gate as the shipped forward computes it (on the padded frame)
        gate.register_forward_hook(lambda _m, _i, logit: seen.append(float(torch.sigmoid(logit))))
    out = {}
    for name, folders in sets.items():
        rows = []
        for sample in (s for f in folders for s in open_pairs(f)):
            x = torch.from_numpy(to_model(sample.rainy[None], "float"))
            shipped = padded(x)
            net.gate = None  # the ungated forward: x - R
            open_ = padded(x)
            net.gate = gate
            layer = (x - open_).numpy()
            scale, scaled = best_scale(x.numpy(), layer, sample.clean)
            rows.append({
                "gate": seen.pop() if gate is not None else 1.0,
                "psnr_gated": psnr(from_model(shipped.numpy(), "float")[0], sample.clean),
                "psnr_open": psnr(from_model(open_.numpy(), "float")[0], sample.clean),
                "psnr_scaled": scaled, "scale": scale,
                "input_psnr": psnr(sample.rainy, sample.clean),
                "r": np.abs(layer).ravel(),
            })
        out[name] = summarise(rows, gate is not None)
    return out


def main(argv=None) -> int:
    results = measure_all(__doc__, f"run folder, .safetensors, default, {ORACLE}", analyse, argv)
    print(f"{'model':<28} {'set':<17} {'gate mean/min/max':>18} {'input':>6} {'gated':>6} {'open':>6} {'|R| p50/p90':>12} {'best scale':>11}")
    for model, res in results.items():
        for name in SETS:
            r = res[name]
            gate = f"{r['gate_mean']:.2f}/{r['gate_min']:.2f}/{r['gate_max']:.2f}" if r["gated"] else "-"
            print(f"{model:<28} {name:<17} {gate:>18} {r['input_psnr']:>6.2f} {r['psnr_gated']:>6.2f} "
                  f"{r['psnr_open']:>6.2f} {r['r_p50']:>6.3f}/{r['r_p90']:.3f} "
                  f"{r['psnr_scaled']:>5.2f} x{r['scale_p50']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
