"""The JRGR model: seven networks, their optimizers and image pools, and one training step.

Stage 1 trains G1 alone on synthetic pairs. Stage 2 starts by copying G1
into G3 and freezing G1, then trains G2, G3, G4 (one Adam) against D_t, D_s,
D_B (another Adam) through the two loops of `forward_loops`.

Each optimizer step's loss is a module (SupervisedLoss, GeneratorLoss,
CriticLoss), so that in a run of several processes one DistributedDataParallel
wrapper sees every use of the networks it trains within that step.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from rainloop.errors import RainloopError
from rainloop.training import losses
from rainloop.training.checkpoint import optimizer_from_files, optimizer_to_files
from rainloop.training.distributed import World, gathered, own_share, replicate
from rainloop.training.networks import CycleUNet, build_derainer, build_discriminator, build_translator
from rainloop.training.pool import ImagePool

# Generated images the discriminators see, each through its own history pool.
FAKES = ("Ot1", "Os1", "Bs1", "Bs2", "Bt1", "Bt2")


class Nets(nn.Module):
    """G1, G3 derainers; G2 (synthetic->real) and G4 (real->synthetic) rain translators; D_t, D_s, D_B."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.g1, self.g3 = build_derainer(cfg["g1"]), build_derainer(cfg["g1"])
        self.g2, self.g4 = build_translator(cfg["g2"]), build_translator(cfg["g2"])
        self.d_t, self.d_s, self.d_b = (build_discriminator(cfg["d"]) for _ in range(3))
        for net in (self.g2, self.g4, self.d_t, self.d_s, self.d_b):
            init_normal(net)
        for net in (self.g1, self.g3):
            if isinstance(net, CycleUNet):
                init_normal(net)

    def generators(self):
        return itertools.chain(self.g2.parameters(), self.g3.parameters(), self.g4.parameters())

    def discriminators(self):
        return [self.d_t, self.d_s, self.d_b]


def init_normal(net: nn.Module, std: float = 0.02) -> None:
    """CycleGAN's initialisation for the normalised (paper) networks: N(0, 0.02) weights, zero bias.

    The edge/tiny derainer has no normalisation layers, so it keeps PyTorch's
    fan-in scaled default, which a plain conv stack needs to pass signal.
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def forward_loops(nets: Nets, O_s: torch.Tensor, O_t: torch.Tensor) -> dict[str, torch.Tensor]:
    """Both loops of method.md; primed names (Rt1', ...) belong to the real -> synthetic -> real loop.

    G1 is frozen in stage 2, so Bs1 is computed without a graph; Bt2 = G1(Os1)
    still carries gradients back through G1 to G3 and G4.
    """
    g1_trains = any(p.requires_grad for p in nets.g1.parameters())
    with torch.set_grad_enabled(g1_trains and torch.is_grad_enabled()):
        Bs1 = nets.g1(O_s)
    out = {"Bs1": Bs1, "Rs1": O_s - Bs1}
    out["Rt1"] = nets.g2(out["Rs1"], Bs1)
    out["Ot1"] = Bs1 + out["Rt1"]
    out["Bs2"] = nets.g3(out["Ot1"])
    out["Rt2"] = out["Ot1"] - out["Bs2"]
    out["Rs2"] = nets.g4(out["Rt2"], out["Bs2"])
    out["Os2"] = out["Bs2"] + out["Rs2"]

    out["Bt1"] = nets.g3(O_t)
    out["Rt1'"] = O_t - out["Bt1"]
    out["Rs1'"] = nets.g4(out["Rt1'"], out["Bt1"])
    out["Os1"] = out["Bt1"] + out["Rs1'"]
    out["Bt2"] = nets.g1(out["Os1"])
    out["Rs2'"] = out["Os1"] - out["Bt2"]
    out["Rt2'"] = nets.g2(out["Rs2'"], out["Bt2"])
    out["Ot2"] = out["Bt2"] + out["Rt2'"]
    return out


def stage_of(step: int, pretrain_steps: int) -> int:
    """1 while G1 pre-trains alone on synthetic pairs, then 2 (the joint loops)."""
    return 1 if step < pretrain_steps else 2


def set_requires_grad(modules, flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


class SupervisedLoss(nn.Module):
    """Stage 1: G1's terms on synthetic pairs, with "total", the sum it trains on."""

    def __init__(self, g1: nn.Module, cfg: dict):
        super().__init__()
        self.g1, self.cfg = g1, cfg

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        g1, weights = self.g1, self.cfg["loss"]
        if self.cfg.get("stage1_gate") and getattr(g1, "gate", None) is not None:
            # Weighed against the MSE as stage 2 weighs it against the supervised term. Without
            # it the MSE alone can shut the gate for good early on (a 32-wide derainer did).
            out, logit = g1.derain_with_logit(batch["O_s"])
            terms = {"mse": losses.mse(out, batch["B_s"]), "gate": losses.gate(g1, batch, O_s_logit=logit)}
            return {**terms, "total": terms["mse"] + weights["gate"] / weights["supervised"] * terms["gate"]}
        terms = {"mse": losses.mse(g1(batch["O_s"]), batch["B_s"])}
        return {**terms, "total": terms["mse"]}


class GeneratorLoss(nn.Module):
    """Stage 2, G2, G3, G4: both loops and the generator terms (with "total")."""

    def __init__(self, nets: Nets, cfg: dict):
        super().__init__()
        self.nets, self.cfg = nets, cfg

    def forward(self, batch: dict) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        out = forward_loops(self.nets, batch["O_s"], batch["O_t"])
        return out, losses.generator_losses(out, batch, self.nets, self.cfg["loss"])


class CriticLoss(nn.Module):
    """Stage 2, the critics: real images against pooled fakes."""

    def __init__(self, nets: Nets):
        super().__init__()
        self.d_t, self.d_s, self.d_b = nets.d_t, nets.d_s, nets.d_b

    def forward(self, batch: dict, fake: dict) -> dict[str, torch.Tensor]:
        return {"d_t": losses.discriminator(self.d_t, batch["O_t"], [fake["Ot1"]]),
                "d_s": losses.discriminator(self.d_s, batch["O_s"], [fake["Os1"]]),
                "d_b": losses.discriminator(self.d_b, batch["B_s"], [fake[k] for k in ("Bs1", "Bs2", "Bt1", "Bt2")])}


class Precision:
    """Autocast + (for fp16) loss scaling; a no-op when AMP is off."""

    def __init__(self, device: torch.device, enabled: bool):
        self.device_type = device.type
        self.enabled = enabled
        bf16 = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
        self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler(device.type, enabled=enabled and self.dtype == torch.float16)

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)


class JRGR:
    """Networks + optimizers + pools + step counter: everything a checkpoint holds.

    In a run of several processes (`world`) each rank steps on its share of the
    global batch; gradients, the image pools and the logged terms then come out
    as one process would get them from the whole batch.
    """

    def __init__(self, cfg: dict, device: str = "cpu", amp: bool = False, world: World = World()):
        self.cfg = cfg
        self.device = torch.device(device)
        self.world = world
        torch.manual_seed(cfg["seed"])
        self.nets = Nets(cfg).to(self.device)
        betas = (cfg["beta1"], 0.999)
        self.opt_pre = torch.optim.Adam(self.nets.g1.parameters(), lr=cfg["lr_pretrain"], betas=betas)
        self.opt_g = torch.optim.Adam(self.nets.generators(), lr=cfg["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(
            itertools.chain(*(d.parameters() for d in self.nets.discriminators())), lr=cfg["lr"], betas=betas)
        self.pools = {k: ImagePool(cfg["pool"]) for k in FAKES}
        self.losses = {"pre": SupervisedLoss(self.nets.g1, cfg), "g": GeneratorLoss(self.nets, cfg),
                       "d": CriticLoss(self.nets)}
        self._replicas: dict[str, nn.Module] = {}
        self.precision = Precision(self.device, amp)
        self.step = 0
        self.g3_ready = False  # G3 initialised from G1 (stage 2 has begun)
        self.train_seconds = 0.0

    # -- schedule ---------------------------------------------------------

    def stage(self, step: int) -> int:
        return stage_of(step, self.cfg["pretrain_steps"])

    def lr_factor(self, step: int) -> float:
        """Constant through the first half of stage 2, then linear decay towards 0."""
        total, start = self.cfg["steps"], self.cfg["pretrain_steps"]
        return min(1.0, (total - step) / ((total - start) / 2 + 1))

    def begin_stage2(self, copy_g1: bool = True) -> None:
        """G3 starts as G1 (method.md), unless it was already loaded (training.warm_start)."""
        if copy_g1:
            self.nets.g3.load_state_dict(self.nets.g1.state_dict())
        self.g3_ready = True
        self._freeze_g1()
        self._replicas.pop("pre", None)  # G1 trains no more

    def _freeze_g1(self) -> None:
        set_requires_grad([self.nets.g1], False)
        self.nets.g1.eval()

    def _loss(self, name: str) -> nn.Module:
        """The loss module `name`, replicated over the ranks at its first use. Exactly the networks
        it trains require gradients then (G1 is frozen in stage 2, the critics during the
        generator step), and those are the parameters its wrapper averages gradients of."""
        if name not in self._replicas:
            self._replicas[name] = replicate(self.losses[name], self.world)
        return self._replicas[name]

    def derainer(self) -> nn.Module:
        """The network a user would deploy now: G3 in stage 2, G1 before."""
        return self.nets.g3 if self.g3_ready else self.nets.g1

    # -- one step ---------------------------------------------------------

    def train_step(self, step: int, batch: dict, rng: np.random.Generator) -> dict[str, float]:
        if self.stage(step) == 2 and not self.g3_ready:
            self.begin_stage2()
        if self.stage(step) == 1:
            terms = self._step_supervised(batch)
        else:
            terms = self._step_joint(step, batch, rng)
        self.precision.scaler.update()
        self.step = step + 1
        return {k: float(v) for k, v in terms.items()}

    def _step_supervised(self, batch: dict) -> dict:
        for group in self.opt_pre.param_groups:
            group["lr"] = self.cfg["lr_pretrain"]
        with self.precision.autocast():
            terms = self._loss("pre")(batch)
        self.precision.backward_step(terms.pop("total"), self.opt_pre)
        return {k: v.detach() for k, v in terms.items()}

    def _step_joint(self, step: int, batch: dict, rng: np.random.Generator) -> dict:
        lr = self.cfg["lr"] * self.lr_factor(step)
        for group in itertools.chain(self.opt_g.param_groups, self.opt_d.param_groups):
            group["lr"] = lr
        set_requires_grad(self.nets.discriminators(), False)
        with self.precision.autocast():
            out, g = self._loss("g")(batch)
        self.precision.backward_step(g["total"], self.opt_g)
        set_requires_grad(self.nets.discriminators(), True)

        with self.precision.autocast():
            d = self._loss("d")(batch, self._pooled(out, rng))
        self.precision.backward_step(sum(d.values()), self.opt_d)
        return {**{k: v.detach() for k, v in g.items()}, **{k: v.detach() for k, v in d.items()},
                "lr": lr}

    def _pooled(self, out: dict, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """This rank's share of the fakes through the history pools. The pools see the global
        batch (all ranks' fakes, in rank order) and draw from the same generator on every
        rank, so they stay alike everywhere and as one process would hold them."""
        mine = torch.stack([out[k].detach().float() for k in FAKES], 1)
        everyone = gathered(self.world, mine)
        return {k: own_share(self.world, self.pools[k].query(everyone[:, i], rng)) for i, k in enumerate(FAKES)}

    # -- checkpoint state -------------------------------------------------

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"net.{k}": v for k, v in self.nets.state_dict().items()}
        opts = {"g": self.opt_g, "d": self.opt_d}
        if not self.g3_ready:  # G1's optimizer is dead weight once it is frozen
            opts["pre"] = self.opt_pre
        opt_info = {}
        for name, opt in opts.items():
            t, opt_info[name] = optimizer_to_files(opt, f"opt.{name}")
            tensors.update(t)
        for k, pool in self.pools.items():
            if (stacked := pool.state()) is not None:
                tensors[f"pool.{k}"] = stacked
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
        info = {"stage": self.stage(max(0, self.step - 1)), "g3_ready": self.g3_ready,
                "optimizers": opt_info, "scaler": self.precision.scaler.state_dict(),
                "train_seconds": self.train_seconds}
        return tensors, info

    def load_state(self, tensors: dict[str, torch.Tensor], info: dict, source: str = "checkpoint") -> None:
        nets = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        self._check_fits(nets, source)
        self.nets.load_state_dict(nets)
        for name, opt in (("g", self.opt_g), ("d", self.opt_d), ("pre", self.opt_pre)):
            if name in info["optimizers"]:
                optimizer_from_files(opt, f"opt.{name}", tensors, info["optimizers"][name])
        for k, pool in self.pools.items():
            pool.load(tensors.get(f"pool.{k}"), self.device)
        torch.set_rng_state(tensors["rng.torch"])
        cuda_keys = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
        cuda_states = [tensors[k] for k in cuda_keys]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
        if info.get("scaler"):
            self.precision.scaler.load_state_dict(info["scaler"])
        self.step = info["step"]
        self.train_seconds = info.get("train_seconds", 0.0)
        self.g3_ready = info["g3_ready"]
        if self.g3_ready:
            self._freeze_g1()

    def _check_fits(self, state: dict[str, torch.Tensor], source: str) -> None:
        own = self.nets.state_dict()
        missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
        reshaped = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
        if missing or unexpected or reshaped:
            raise RainloopError(f"{source}: written by a different network than this run's config builds "
                                f"({len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} of another "
                                f"shape, e.g. {(missing or unexpected or reshaped)[0]})")
