"""The edge derainer's rain gate: it starts open, a closed gate passes a frame through
bit for bit, and the identity term teaches it to close on clean images."""

import torch

from rainloop.training import losses
from rainloop.training.networks import EdgeUNet

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
        assert torch.allclose(open_residual, torch.sigmoid(torch.tensor(EdgeUNet.GATE_OPEN)) * residual, atol=1e-6)
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
