"""Real JRGR steps with the tiny preset: stage 1 learns, the transition copies G1 into G3,
stage 2 leaves G1 untouched while G2/G3/G4 and the critics move."""

import numpy as np
import pytest
import torch

from rainloop.training.batches import draw_batch, open_real, open_synthetic, step_rngs
from rainloop.training.jrgr import JRGR, forward_loops
from rainloop.training.runs import make_config

CROP, BATCH = 32, 2


@pytest.fixture(scope="module")
def sources():
    return open_synthetic("builtin", 40, style="streak"), open_real("builtin", 40)  # a loss that falls in 25 steps


def model(steps=10, pretrain=2, **fields):
    torch.set_num_threads(2)
    cfg = make_config("tiny", crop=CROP, batch=BATCH, steps=steps, pretrain_steps=pretrain, val="none")
    return JRGR({**cfg, **fields})


def batch_at(sources, step, stage2=True):
    syn, real = sources
    rngs = step_rngs(0, step)
    return draw_batch(syn, real if stage2 else None, rngs, BATCH, CROP), rngs["pool"]


def params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_forward_loops_compose_as_in_the_method(sources):
    m = model()
    b, _ = batch_at(sources, 0)
    out = forward_loops(m.nets, b["O_s"], b["O_t"])
    torch.testing.assert_close(out["Ot1"], out["Bs1"] + out["Rt1"])
    torch.testing.assert_close(out["Rs1"], b["O_s"] - out["Bs1"])
    torch.testing.assert_close(out["Os2"], out["Bs2"] + out["Rs2"])
    torch.testing.assert_close(out["Os1"], out["Bt1"] + out["Rs1'"])
    torch.testing.assert_close(out["Ot2"], out["Bt2"] + out["Rt2'"])
    torch.testing.assert_close(out["Bs2"], m.nets.g3(out["Ot1"]))
    torch.testing.assert_close(out["Bt2"], m.nets.g1(out["Os1"]))
    assert {k for k in out} >= {"Bs1", "Rs1", "Rt1", "Ot1", "Bs2", "Rt2", "Rs2", "Os2",
                                "Bt1", "Rt1'", "Rs1'", "Os1", "Bt2", "Rs2'", "Rt2'", "Ot2"}


def test_stage1_reduces_the_supervised_loss(sources):
    m = model(steps=40, pretrain=40)
    fixed, rng = batch_at(sources, 0, stage2=False)
    first = m.train_step(0, fixed, rng)["mse"]
    for step in range(1, 25):
        m.train_step(step, fixed, rng)
    last = m.train_step(25, fixed, rng)["mse"]
    assert last < 0.7 * first


def test_transition_copies_g1_into_g3(sources):
    m = model(pretrain=1)
    m.train_step(0, *batch_at(sources, 0, stage2=False))
    g1_before = params(m.nets.g1)
    assert any(not torch.equal(a, b) for a, b in zip(g1_before, params(m.nets.g3)))
    m.begin_stage2()
    for a, b in zip(g1_before, params(m.nets.g3)):
        assert torch.equal(a, b)
    assert m.derainer() is m.nets.g3


def test_stage2_step_leaves_g1_alone_and_trains_the_rest(sources):
    m = model(pretrain=0)
    m.begin_stage2()
    g1, g3, g2, d_b = (params(n) for n in (m.nets.g1, m.nets.g3, m.nets.g2, m.nets.d_b))
    terms = m.train_step(0, *batch_at(sources, 0))
    assert {"sup", "cyc", "adv", "total", "d_t", "d_s", "d_b"} <= set(terms)
    assert all(p.grad is None and not p.requires_grad for p in m.nets.g1.parameters())
    for a, b in zip(g1, params(m.nets.g1)):
        assert torch.equal(a, b)
    for before, net in ((g3, m.nets.g3), (g2, m.nets.g2), (d_b, m.nets.d_b)):
        assert any(not torch.equal(a, b) for a, b in zip(before, params(net)))


def test_gradient_reaches_g3_through_frozen_g1(sources):
    """Bt2 = G1(Os1): with only the Ot2 cycle term, G3 and G4 still get gradients."""
    m = model(pretrain=0)
    m.begin_stage2()
    b, _ = batch_at(sources, 0)
    out = forward_loops(m.nets, b["O_s"], b["O_t"])
    (out["Bt2"] - b["O_t"]).abs().mean().backward()
    assert all(p.grad is None for p in m.nets.g1.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.nets.g3.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.nets.g4.parameters())


def test_lr_decays_linearly_in_the_second_half_of_stage2():
    m = model(steps=102, pretrain=2)
    assert m.lr_factor(2) == 1.0 and m.lr_factor(51) == 1.0
    f = [m.lr_factor(s) for s in range(52, 102)]
    assert all(a > b for a, b in zip(f, f[1:])) and 0 < f[-1] < 0.05
    assert np.allclose(np.diff(f), f[1] - f[0])


@pytest.mark.parametrize("stage1_gate", [True, False])  # new runs have it; older run folders do not
def test_stage1_gate_term_reopens_a_shut_gate(sources, stage1_gate):
    m = model(steps=20, pretrain=20, stage1_gate=stage1_gate)
    gate = m.nets.g1.gate
    with torch.no_grad():
        gate[-1].bias.fill_(-100.0 / gate.GAIN)  # a logit of about -100: shut, its sigmoid flat
    b, rng = batch_at(sources, 0, stage2=False)
    wet = b["O_s"][(b["O_s"] != b["B_s"]).flatten(1).any(1)]
    assert len(wet)
    before = m.nets.g1.rain_logit(wet).detach()
    for step in range(8):
        terms = m.train_step(step, b, rng)
    moved = (m.nets.g1.rain_logit(wet).detach() - before).min().item()
    if stage1_gate:
        assert "gate" in terms and moved > 0.1  # pulled open on wet frames
    else:
        assert "gate" not in terms and abs(moved) < 1e-3  # the MSE alone cannot reach it
