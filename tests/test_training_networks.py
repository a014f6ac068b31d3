"""The edge derainer's rain gate: it starts open, a closed gate passes a frame through
bit for bit, and the identity and gate terms teach it when to close."""

import numpy as np
import torch

from rainloop.training import losses
from rainloop.training.batches import open_synthetic, to_tensor
from rainloop.training.networks import EdgeUNet, RainGate

SPEC = {"levels": 2, "base": 4, "max_mult": 2, "blocks": 1}


def gated_twin():
    torch.manual_seed(0)
    plain = EdgeUNet(**SPEC)
    gated = EdgeUNet(**SPEC, gate=True)
    missing, unexpected = gated.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("gate.") for k in missing)
    return plain, gated


def test_gate_starts_open_and_a_closed_gate_is_the_identity():
    plain, gated = gated_twin()
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        residual = x - plain(x)
        open_residual = x - gated(x)
        assert torch.allclose(open_residual, torch.sigmoid(torch.tensor(RainGate.OPEN)) * residual, atol=1e-6)
        gated.gate[-1].bias.fill_(-5.0)  # logit -50
        assert torch.equal(gated(x), x)


def test_identity_term_closes_the_gate_on_clean_images():
    _, gated = gated_twin()
    clean = torch.rand(4, 3, 32, 32)
    opt = torch.optim.Adam(gated.gate.parameters(), lr=1e-3)
    before = losses.identity(gated, clean).item()
    for _ in range(200):
        opt.zero_grad()
        losses.identity(gated, clean).backward()
        opt.step()
    assert losses.identity(gated, clean).item() < 0.05 * before


def test_gate_loss_teaches_the_gate_which_frames_are_wet():
    syn = open_synthetic("builtin", 40)
    rng = np.random.default_rng(0)
    pairs = [syn.draw(rng, 32) for _ in range(16)]
    batch = {"O_s": to_tensor([p[0] for p in pairs]), "B_s": to_tensor([p[1] for p in pairs])}
    wet = (batch["O_s"] != batch["B_s"]).flatten(1).any(1)
    assert 0 < int(wet.sum()) < 16  # the built-in mix has dry pairs
    _, gated = gated_twin()
    opt = torch.optim.Adam(gated.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        losses.gate(gated, batch, batch["O_s"]).backward()
        opt.step()
    with torch.no_grad():
        logits = gated.rain_logit(torch.cat([batch["B_s"], batch["O_s"]]))
    clean, rainy = logits[:16], logits[16:]
    assert (clean < 0).all() and (rainy[wet] > 0).all() and (rainy[~wet] < 0).all()
