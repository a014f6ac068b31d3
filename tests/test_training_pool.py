import numpy as np
import torch

from rainloop.training.pool import ImagePool


def imgs(*values):
    return torch.stack([torch.full((3, 2, 2), float(v)) for v in values])


def test_fills_then_mixes_history_and_new_images():
    pool = ImagePool(3)
    rng = np.random.default_rng(0)
    out = pool.query(imgs(1, 2), rng)
    assert torch.equal(out, imgs(1, 2))  # not full yet: the new images pass through
    pool.query(imgs(3), rng)
    seen = set()
    for v in range(4, 40):
        out = pool.query(imgs(v), rng)
        seen.add(out[0, 0, 0, 0].item() == v)
        assert len(pool.images) == 3
    assert seen == {True, False}  # sometimes the new image, sometimes an old one


def test_same_rng_same_choices_and_state_round_trip():
    a, b = ImagePool(2), ImagePool(2)
    for v in range(5):
        a.query(imgs(v, v + 10), np.random.default_rng([7, v]))
    b.load(a.state())
    out_a = a.query(imgs(99, 98), np.random.default_rng(1))
    out_b = b.query(imgs(99, 98), np.random.default_rng(1))
    assert torch.equal(out_a, out_b) and torch.equal(a.state(), b.state())


def test_empty_pool_state_and_size_zero():
    assert ImagePool(5).state() is None
    x = imgs(1)
    assert ImagePool(0).query(x, np.random.default_rng(0)) is x
