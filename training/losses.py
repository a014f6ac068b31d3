"""The JRGR loss terms (method.md), as small pure functions of the tensors they need.

Each function returns an unweighted scalar; `generator_losses` applies the
preset's weights and returns every term by name so the loop can log them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(a, b)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(a, b)


def lsgan_real(score: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN: push a score map towards 1 ("this is real")."""
    return ((score - 1) ** 2).mean()


def lsgan_fake(score: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN: push a score map towards 0 ("this is generated")."""
    return (score ** 2).mean()


def supervised(Bs1, Bs2, B_s) -> torch.Tensor:
    """Both synthetic-loop backgrounds must match the known clean image."""
    return mse(Bs1, B_s) + mse(Bs2, B_s)


def cycle(O_s, Os2, O_t, Ot2, Bs1, Bs2, Bt1, Bt2) -> torch.Tensor:
    """Each loop returns to its input image, and keeps its background through the loop."""
    return sum(cycle_parts(O_s, Os2, O_t, Ot2, Bs1, Bs2, Bt1, Bt2).values())


def cycle_parts(O_s, Os2, O_t, Ot2, Bs1, Bs2, Bt1, Bt2) -> dict[str, torch.Tensor]:
    """The cycle term's four L1 distances by name."""
    return {"cyc O_s": l1(O_s, Os2), "cyc O_t": l1(O_t, Ot2), "cyc B_s": l1(Bs1, Bs2), "cyc B_t": l1(Bt1, Bt2)}


def adversarial(d_t, d_s, d_b, Ot1, Os1, backgrounds) -> torch.Tensor:
    """Generators try to make D_t, D_s and D_B call their fakes real."""
    loss = lsgan_real(d_t(Ot1)) + lsgan_real(d_s(Os1))
    for score in _scores(d_b, backgrounds):
        loss = loss + lsgan_real(score)
    return loss


def _scores(d, images: list[torch.Tensor]) -> list[torch.Tensor]:
    """d on several batches in one call (fewer, larger convolutions run faster on CPU);
    with instance norm (every preset) PatchGAN scores each image on its own, so this
    equals calling d per batch."""
    scores = d(torch.cat(images, 0))
    return list(scores.split([len(x) for x in images], 0))


def discriminator(d, real: torch.Tensor, fakes: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN critic loss, real and fake halves weighted equally (several fake kinds averaged)."""
    real_score, *fake_scores = _scores(d, [real] + [f.detach() for f in fakes])
    fake = sum(lsgan_fake(s) for s in fake_scores) / len(fake_scores)
    return 0.5 * (lsgan_real(real_score) + fake)


def identity(g3, B_s) -> torch.Tensor:
    """Optional (weight 0 in the paper): a clean image should pass G3 unchanged."""
    return l1(g3(B_s), B_s)


def gate(g3, batch: dict, Ot1: torch.Tensor | None = None, O_s_logit: torch.Tensor | None = None) -> torch.Tensor:
    """Our addition for the gated edge derainer: teach its rain gate directly which frames
    are wet. Labels come from the synthetic side, where they are known: B_s is dry, O_s
    is wet unless the pair is a dry one, and the fake real image Ot1 (stage 2) shares O_s's label.
    Stage 1 passes O_s's logits from the pass that derained it (O_s_logit) instead of Ot1.

    Unlike the reconstruction terms, whose gradient reaches the gate through a sigmoid and
    vanishes once it has shut hard, this one pulls a shut gate back open on wet frames."""
    wet = (batch["O_s"] != batch["B_s"]).flatten(1).any(1).float()
    labels = torch.cat([torch.zeros_like(wet), wet] + ([wet] if Ot1 is not None else []))
    if O_s_logit is not None:
        logits = torch.cat([g3.rain_logit(batch["B_s"]), O_s_logit.flatten()])
    else:
        images = [batch["B_s"], batch["O_s"]] + ([Ot1.detach()] if Ot1 is not None else [])
        logits = g3.rain_logit(torch.cat(images))
    return F.binary_cross_entropy_with_logits(logits.float(), labels)


def generator_losses(out: dict, batch: dict, nets, weights: dict) -> dict:
    """All generator terms of stage 2, weighted, plus their sum under "total".

    `out` is the dict of `forward_loops`; `batch` holds O_s, B_s, O_t.
    """
    terms = {
        "sup": supervised(out["Bs1"], out["Bs2"], batch["B_s"]),
        "cyc": cycle(batch["O_s"], out["Os2"], batch["O_t"], out["Ot2"],
                     out["Bs1"], out["Bs2"], out["Bt1"], out["Bt2"]),
        "adv": adversarial(nets.d_t, nets.d_s, nets.d_b, out["Ot1"], out["Os1"],
                           [out["Bs1"], out["Bs2"], out["Bt1"], out["Bt2"]]),
    }
    scaled = {"sup": weights["supervised"] * terms["sup"], "cyc": weights["cycle"] * terms["cyc"],
              "adv": weights["adversarial"] * terms["adv"]}
    if weights.get("identity", 0.0) > 0:
        terms["idt"] = identity(nets.g3, batch["B_s"])
        scaled["idt"] = weights["identity"] * terms["idt"]
    if weights.get("gate", 0.0) > 0 and getattr(nets.g3, "gate", None) is not None:
        terms["gate"] = gate(nets.g3, batch, out["Ot1"])
        scaled["gate"] = weights["gate"] * terms["gate"]
    terms["total"] = sum(scaled.values())
    return terms
