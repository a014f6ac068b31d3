"""Can the real rain's veil be learned without labels, and does a derainer trained on it lift physics rain?

Rain seen across a distance is a veil (Koschmieder): O = T * B + (1 - T) * A, one
airlight colour A per frame and a smooth transmission T that follows depth. A small
generator V(B, z) -> (A, T on a 3x3 grid) learns it from unpaired real frames
(`--real builtin`, the physics stand-in): a critic compares them with veiled clean
crops at 16x16, where a scene's low frequencies and its veil remain and thin
streaks have averaged out. An averaged copy of V is kept, since the game oscillates.

    python benchmarks/learned_veil.py fit --out runs/veil.safetensors [--steps 4000]

prints the veil V draws beside the one the physics renderer draws (airlight mean
and spread, transmission mean, top and bottom row). Then

    python benchmarks/learned_veil.py train --pairs PAIRS --veil runs/veil.safetensors -- RAINLOOP_TRAIN_ARGS

runs `rainloop train` with the built-in synthetic pairs made another way (stage 1
is all that changes):
  learned          streak rain in front of V's veil
  learned-bare     the same, but a third of the rainy pairs show V's veil without streaks
  learned-any      learned-bare with each veil thinned by a uniform factor (T -> 1 - u (1 - T),
                   u in [0, 1]): veils of any thickness up to the one V draws, drizzle's too
  exact            streak rain in front of the physics renderer's own veil (no V)
  learned-physics  the physics renderer with its veil swapped for V's: real rain's
                   streaks, noise and JPEG, and a learned veil
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from rainloop import rain
from rainloop.atomic import atomic_path
from rainloop.training import batches, losses
from rainloop.training.batches import RAIN_MIXES, REAL_MIXES, BuiltinReal, draw_intensity

CROP = 128
POOL = 3000
CRITIC_SIZE = 16  # the critic's view: veil and scene layout survive, streaks do not
GRID = 3  # the transmission's control points per side: a depth ramp with some relief
NOISE = 8
EMA = 0.002


class VeilGenerator(nn.Module):
    """Clean RGB in [0, 1] (N x 3 x H x W) -> (airlight N x 3, transmission N x 1 x H x W)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.LeakyReLU(0.2),
                                      nn.Conv2d(16, 32, 3, 2, 1), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(2 * 32 + 3 + NOISE, 64), nn.LeakyReLU(0.2),
                                  nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 3 + GRID * GRID))
        # Start from one thin, even veil; the critic tells it which way to go.
        nn.init.zeros_(self.head[-1].weight)
        nn.init.constant_(self.head[-1].bias, 1.5)

    def forward(self, clean: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(F.adaptive_avg_pool2d(clean, 32))
        h = self.head(torch.cat([f.mean((2, 3)), f.std((2, 3)), clean.mean((2, 3)), z], 1))
        t = torch.sigmoid(h[:, 3:]).view(-1, 1, GRID, GRID)
        t = F.interpolate(t, size=clean.shape[2:], mode="bilinear", align_corners=True).clamp(0.02, 1)
        return torch.sigmoid(h[:, :3]), t


def veiled(gen: VeilGenerator, clean: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    airlight, t = gen(clean, z)
    return t * clean + (1 - t) * airlight[:, :, None, None]


def critic() -> nn.Module:
    sn = nn.utils.spectral_norm  # keeps a critic this small from winning outright
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(CRITIC_SIZE),
        sn(nn.Conv2d(3, 32, 3, 2, 1)), nn.LeakyReLU(0.2), sn(nn.Conv2d(32, 64, 3, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(64, 128, 3, 2, 1)), nn.LeakyReLU(0.2), nn.Flatten(),
        sn(nn.Linear(128 * (CRITIC_SIZE // 8) ** 2, 1)))


def rgb(imgs: list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 crops -> RGB uint8 NCHW: batches.to_tensor, but a pool of thousands stays small as bytes."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(imgs)[..., ::-1])).permute(0, 3, 1, 2).contiguous()


def fit(steps: int, seed: int, sky: float, batch: int = 32) -> VeilGenerator:
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    real = BuiltinReal("default", sky)
    reals = rgb([real.draw(rng, CROP)[0] for _ in range(POOL)])
    cleans = rgb([batches._scene(rng, CROP, sky) for _ in range(POOL)])
    # The synthetic mix's dry share stays unveiled, as the real mix's dry frames are.
    wet = torch.from_numpy(rng.random(POOL) >= RAIN_MIXES["default"]["dry"]).float()[:, None, None, None]
    torch.manual_seed(seed)
    gen, judge = VeilGenerator(), critic()
    kept = copy.deepcopy(gen).requires_grad_(False)
    opt_g = torch.optim.Adam(gen.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(judge.parameters(), 2e-4, betas=(0.5, 0.999))
    for _ in tqdm(range(steps), desc="veil", unit="step"):
        i, j = torch.randint(POOL, (2, batch))
        clean = cleans[j].float() / 255
        fake = wet[j] * veiled(gen, clean, torch.randn(batch, NOISE)) + (1 - wet[j]) * clean
        loss_d = losses.lsgan_real(judge(reals[i].float() / 255)) + losses.lsgan_fake(judge(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = losses.lsgan_real(judge(fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            for k, g in zip(kept.parameters(), gen.parameters()):
                k.lerp_(g, EMA)
    return kept.eval()


def compare(gen: VeilGenerator, n: int, seed: int, sky: float) -> dict:
    """The veil gen draws and the physics renderer's, over the same wet clean crops."""
    rng = np.random.default_rng([seed, 1])
    drawn = {"learned": [], "renderer": []}
    for _ in range(n):
        clean = batches._scene(rng, CROP, sky)
        level = float(rng.uniform(*REAL_MIXES["default"]["range"]))
        fld = rain._physics_field(clean.astype(np.float32) / 255, rng, level)
        drawn["renderer"].append((fld.airlight[0, 0], fld.transmission))
        drawn["learned"].append(learned_veil(gen, clean, rng))
    out = {}
    for name, rows in drawn.items():
        a = np.stack([r[0] for r in rows])
        t = np.stack([r[1] for r in rows])
        out[name] = {"airlight_mean": float(a.mean()), "airlight_std": float(a.std()),
                     "transmission_mean": float(t.mean()), "transmission_top": float(t[:, 0].mean()),
                     "transmission_bottom": float(t[:, -1].mean())}
    return out


def save(path: str, gen: VeilGenerator) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in gen.state_dict().items()}, str(tmp))


def load(path: str) -> VeilGenerator:
    gen = VeilGenerator()
    gen.load_state_dict(load_file(path))
    return gen.eval().requires_grad_(False)


def learned_veil(gen: VeilGenerator, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(airlight BGR, transmission HxW) that gen draws for one clean BGR uint8 crop."""
    with torch.no_grad():
        a, t = gen(batches.to_tensor([clean]), torch.from_numpy(rng.standard_normal((1, NOISE)).astype(np.float32)))
    return a[0].numpy()[::-1].copy(), np.ascontiguousarray(t[0, 0].numpy())


def pair_drawer(kind: str, gen: VeilGenerator | None, crops=batches._scene, dry: float | None = None):
    """A BuiltinPairs.draw that makes its pairs the `kind` way (module docstring), from
    `crops(rng, crop, sky)`'s clean crops, a `dry` share of them dry (else the mix's)."""

    def draw(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        clean = crops(rng, crop, self.sky)
        mix = RAIN_MIXES[self.mix] if dry is None else {**RAIN_MIXES[self.mix], "dry": dry}
        level = draw_intensity(rng, mix)
        if level == 0:
            return clean.copy(), clean
        scene = clean.astype(np.float32) / 255
        if kind == "exact":
            fld = rain._physics_field(scene, rng, level)
            airlight, t = fld.airlight, fld.transmission
        else:
            airlight, t = learned_veil(gen, clean, rng)
            if kind == "learned-any":
                t = 1 - rng.random(dtype=np.float32) * (1 - t)
            airlight = np.broadcast_to(airlight.astype(np.float32), scene.shape).copy()
        if kind == "learned-physics":
            fld = rain._physics_field(scene, rng, level)
            fld.airlight, fld.transmission = airlight, t
            for layer in fld.layers:
                rain._seed_drops(layer, fld.size, rng)
            return rain._compose_physics(scene, fld, 0, [layer.opacity for layer in fld.layers], rng), clean
        behind = cv2.blendLinear(scene, airlight, t, 1 - t)
        if kind in ("learned-bare", "learned-any") and rng.random() < 1 / 3:
            return (behind * 255 + 0.5).astype(np.uint8), clean
        return rain.render((behind * 255 + 0.5).astype(np.uint8), rng, style="streak", intensity=level), clean

    return draw


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    argv, train_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["fit", "train"])
    p.add_argument("--out", help="fit: where to write the generator (.safetensors)")
    p.add_argument("--steps", type=int, default=4000, help="fit: adversarial steps")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--sky", type=float, default=0.5, help="fit: share of crops under a procedural sky")
    p.add_argument("--pairs", choices=["learned", "learned-bare", "learned-any", "exact", "learned-physics"], help="train: how pairs are made")
    p.add_argument("--veil", help="train: the generator `fit` wrote")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.what == "fit":
        started = time.perf_counter()
        gen = fit(args.steps, args.seed, args.sky)
        if args.out:
            save(args.out, gen)
        print(f"fitted in {time.perf_counter() - started:.0f} s; over 500 wet crops:")
        print(f"{'veil':<10} {'airlight':>9} {'spread':>7} {'T mean':>7} {'T top':>6} {'T bottom':>8}")
        for name, r in compare(gen, 500, args.seed, args.sky).items():
            print(f"{name:<10} {r['airlight_mean']:>9.3f} {r['airlight_std']:>7.3f} {r['transmission_mean']:>7.3f} "
                  f"{r['transmission_top']:>6.3f} {r['transmission_bottom']:>8.3f}")
        return 0
    if args.pairs is None or (args.pairs != "exact" and not args.veil):
        p.error("train needs --pairs, and --veil unless --pairs exact")
    batches.BuiltinPairs.draw = pair_drawer(args.pairs, load(args.veil) if args.veil else None)
    # Data-loader workers (--workers) must inherit that patch: forked, not spawned (Python 3.14's default
    # forkserver, like spawn, would import the unpatched class and train on plain streak pairs).
    multiprocessing.set_start_method("fork", force=True)
    from rainloop.cli import main as rainloop

    return rainloop(["train", *train_args])


if __name__ == "__main__":
    sys.exit(main())
