"""Each JRGR loss term against values worked out by hand on tiny tensors."""

import pytest
import torch

from rainloop.training import losses


def full(v, shape=(1, 3, 2, 2)):
    return torch.full(shape, float(v))


class Const(torch.nn.Module):
    """A 'discriminator' that scores every image with the image's mean + offset."""

    def __init__(self, offset=0.0):
        super().__init__()
        self.offset = offset

    def forward(self, x):
        return x.mean(dim=(1, 2, 3), keepdim=True) + self.offset


def test_lsgan_targets():
    assert losses.lsgan_real(full(1.0)).item() == 0
    assert losses.lsgan_real(full(0.5)).item() == pytest.approx(0.25)
    assert losses.lsgan_fake(full(0.0)).item() == 0
    assert losses.lsgan_fake(full(0.5)).item() == pytest.approx(0.25)


def test_supervised_sums_both_background_errors():
    B_s = full(0.5)
    # (0.6-0.5)^2 + (0.2-0.5)^2 = 0.01 + 0.09
    assert losses.supervised(full(0.6), full(0.2), B_s).item() == pytest.approx(0.10)


def test_cycle_uses_the_eight_right_tensors():
    O_s, Os2 = full(0.5), full(0.7)       # 0.2
    O_t, Ot2 = full(0.1), full(0.4)       # 0.3
    Bs1, Bs2 = full(0.3), full(0.3)       # 0
    Bt1, Bt2 = full(0.9), full(0.8)       # 0.1
    got = losses.cycle(O_s, Os2, O_t, Ot2, Bs1, Bs2, Bt1, Bt2).item()
    assert got == pytest.approx(0.6)
    # Swapping an image for its loop partner's counterpart changes the value.
    assert losses.cycle(O_s, Ot2, O_t, Os2, Bs1, Bs2, Bt1, Bt2).item() != pytest.approx(0.6)


def test_adversarial_asks_every_critic_for_real():
    d = Const()
    # D_t(Ot1)=1 -> 0; D_s(Os1)=0 -> 1; D_B on 4 backgrounds at 0.5 -> 4 * 0.25
    got = losses.adversarial(d, d, d, full(1.0), full(0.0), [full(0.5)] * 4).item()
    assert got == pytest.approx(2.0)


def test_discriminator_half_real_half_mean_of_fakes():
    d = Const()
    real = full(0.5)            # (0.5-1)^2 = 0.25
    fakes = [full(0.2), full(0.4)]  # mean of 0.04 and 0.16 = 0.10
    assert losses.discriminator(d, real, fakes).item() == pytest.approx(0.5 * (0.25 + 0.10))


def test_discriminator_loss_does_not_reach_the_generator():
    d = torch.nn.Conv2d(3, 1, 1)
    fake = torch.full((1, 3, 2, 2), 0.3, requires_grad=True)
    losses.discriminator(d, full(0.5), [fake * 2]).backward()
    assert fake.grad is None
    assert d.weight.grad is not None


def test_generator_losses_weights_and_identity_switch():
    class Nets:
        d_t = d_s = d_b = Const()
        g3 = torch.nn.Identity()

    out = {"Bs1": full(0.6), "Bs2": full(0.5), "Os2": full(0.5), "Ot2": full(0.1),
           "Bt1": full(0.9), "Bt2": full(0.9), "Ot1": full(1.0), "Os1": full(1.0)}
    batch = {"O_s": full(0.5), "B_s": full(0.5), "O_t": full(0.1)}
    weights = {"supervised": 50.0, "cycle": 40.0, "adversarial": 4.0, "identity": 0.0}
    t = losses.generator_losses(out, batch, Nets, weights)
    assert t["sup"].item() == pytest.approx(0.01)
    assert t["cyc"].item() == pytest.approx(0.1)       # only |Bs1 - Bs2|
    # D_t(Ot1) and D_s(Os1) score 1 (no loss); D_B sees Bs1 .6, Bs2 .5, Bt1 .9, Bt2 .9
    adv = (0.6 - 1) ** 2 + (0.5 - 1) ** 2 + 2 * (0.9 - 1) ** 2
    assert t["adv"].item() == pytest.approx(adv)
    assert t["total"].item() == pytest.approx(50 * 0.01 + 40 * 0.1 + 4 * adv)
    assert "idt" not in t
    # Identity on: G3 = identity map costs nothing but the term is present.
    t = losses.generator_losses(out, batch, Nets, {**weights, "identity": 20.0})
    assert t["idt"].item() == 0
