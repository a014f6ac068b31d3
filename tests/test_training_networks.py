"""The edge derainer's per-frame heads. The rain gate starts open, a closed gate passes a
frame through bit for bit, and the identity and gate terms teach it when to close; the
frame tone starts at zero and can lift a veil; the full-resolution detail path starts as a
no-op."""

import numpy as np
import torch

from rainloop.training import losses
from rainloop.training.batches import open_synthetic, to_tensor
from rainloop.training.networks import EdgeUNet, RainGate, ShuffleUNet, dark_channel

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
    syn = open_synthetic("builtin", 40, style="streak")  # every wet 32 px crop visibly wet
    rng = np.random.default_rng(0)
    pairs = [syn.draw(rng, 32) for _ in range(16)]
    batch = {"O_s": to_tensor([p[0] for p in pairs]), "B_s": to_tensor([p[1] for p in pairs])}
    wet = (batch["O_s"] != batch["B_s"]).flatten(1).any(1)
    assert 0 < int(wet.sum()) < 16  # the built-in mix has dry pairs
    _, gated = gated_twin()
    opt = torch.optim.Adam(gated.parameters(), lr=3e-3)
    # The gate's gain makes the first few hundred steps swing; by 400 every frame is on its side
    # (300 was at the edge: enough on one install, two clean frames short on another).
    for _ in range(600):
        opt.zero_grad()
        losses.gate(gated, batch, batch["O_s"]).backward()
        opt.step()
    with torch.no_grad():
        logits = gated.rain_logit(torch.cat([batch["B_s"], batch["O_s"]]))
    clean, rainy = logits[:16], logits[16:]
    assert (clean < 0).all() and (rainy[wet] > 0).all() and (rainy[~wet] < 0).all()


def psnr(out, ref):
    return float(-10 * torch.log10(torch.mean((out.clamp(0, 1) - ref) ** 2)))


def test_frame_tone_starts_at_zero_and_learns_to_lift_a_veil():
    from rainloop import builtin

    torch.manual_seed(0)
    plain = EdgeUNet(**SPEC, gate=True)
    toned = EdgeUNet(**SPEC, gate=True, tone=True)
    missing, _ = toned.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("tone.") for k in missing)
    rng = np.random.default_rng(0)
    clean = to_tensor([builtin.random_crop(rng, (32, 32), split="train") for _ in range(16)])
    # Rain's veil, O = T B + (1 - T) A, with T and A drawn per frame: affine per frame.
    t = torch.as_tensor(rng.uniform(0.5, 0.8, (16, 1, 1, 1)), dtype=torch.float32)
    a = torch.as_tensor(rng.uniform(0.6, 0.9, (16, 1, 1, 1)), dtype=torch.float32)
    veiled = t * clean + (1 - t) * a
    with torch.no_grad():
        assert torch.equal(toned(veiled), plain(veiled))
    opt = torch.optim.Adam(toned.tone.parameters(), lr=3e-3)  # the body and the gate stay as they are
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.mse_loss(toned(veiled), clean).backward()
        opt.step()
    with torch.no_grad():
        before, after = psnr(plain(veiled), clean), psnr(toned(veiled), clean)
    assert after > before + 6


def test_veil_gain_starts_at_zero_and_learns_a_veil_that_thickens_across_the_frame():
    from rainloop import builtin

    torch.manual_seed(0)
    toned = EdgeUNet(**SPEC, gate=True, tone=True)
    veiled_net = EdgeUNet(**SPEC, gate=True, tone=True, veil=True)
    missing, _ = veiled_net.load_state_dict(toned.state_dict(), strict=False)
    assert missing and all(k.startswith("veil.") for k in missing)
    rng = np.random.default_rng(0)
    clean = to_tensor([builtin.random_crop(rng, (32, 32), split="train") for _ in range(16)])
    # Transmission falls toward the top of the frame, as it does with depth: no per-frame affine undoes it.
    t = torch.linspace(0.35, 0.9, 32).view(1, 1, 32, 1)
    veiled = t * clean + (1 - t) * 0.8
    with torch.no_grad():
        assert torch.equal(veiled_net(veiled), toned(veiled))

    def fit(net):
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(200):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(veiled), clean).backward()
            opt.step()
        with torch.no_grad():
            return psnr(net(veiled), clean)

    tone_only = fit(toned)
    with_veil = fit(veiled_net)
    assert with_veil > tone_only + 2


def test_dark_channel_is_the_darkest_colour_in_the_window_and_feeds_the_first_conv():
    x = torch.rand(2, 3, 9, 12)
    got = dark_channel(x, 5)
    darkest = x.amin(1)
    for i in range(9):
        for j in range(12):  # the window is cut at the frame's edge, never padded with a value
            want = darkest[:, max(0, i - 2):i + 3, max(0, j - 2):j + 3].amin((1, 2))
            assert torch.equal(got[:, 0, i, j], want)
    net = EdgeUNet(**SPEC, dark=True)
    assert net.head[0].in_channels == 4 and net(x[..., :8, :12]).shape == (2, 3, 8, 12)


def test_full_resolution_detail_starts_as_a_no_op_and_alone_learns_to_remove_thin_streaks():
    torch.manual_seed(0)
    spec = {"shuffle": 4, "levels": 1, "base": 8, "max_mult": 2}
    plain, detailed = ShuffleUNet(**spec), ShuffleUNet(**spec, detail=8)
    missing, _ = detailed.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith("detail.") for k in missing)
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(8, 3, 32, 32, generator=g) * 0.5
    rainy = clean + 0.4 * (torch.rand(8, 1, 1, 32, generator=g) < 0.15).float()  # one-pixel streaks
    with torch.no_grad():
        assert torch.equal(detailed(rainy), plain(rainy))
        before = psnr(detailed(rainy), clean)
    opt = torch.optim.Adam(detailed.detail.parameters(), lr=3e-3)  # the body stays as it is
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.mse_loss(detailed(rainy), clean).backward()
        opt.step()
    with torch.no_grad():
        assert psnr(detailed(rainy), clean) > before + 8
