import numpy as np

from rainloop.frames import from_model, to_float_frames, to_model


def frames(n=2, h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_float_round_trip_is_exact():
    batch = frames()
    x = to_model(batch, "float")
    assert x.shape == (2, 3, 48, 64) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert np.allclose(x[0, 0], batch[0, :, :, 2] / 255)  # RGB first channel is BGR's last
    assert np.array_equal(from_model(x, "float"), batch)
    assert to_model(batch, "float", np.float16).dtype == np.float16


def test_float_output_is_clipped_and_rounded():
    y = np.full((1, 3, 4, 5), 0.5, np.float32)
    y[0, 0, 0, 0], y[0, 1, 0, 0], y[0, 2, 0, 0] = -0.2, 1.3, 10.4 / 255
    out = from_model(y, "float")
    assert out[0, 0, 0].tolist() == [10, 255, 0]  # BGR of RGB (-0.2, 1.3, 10.4/255)
    assert out[0, 1, 1].tolist() == [128, 128, 128]


def test_unrounded_float_frames_keep_precision():
    y = np.random.default_rng(1).random((1, 3, 6, 7), dtype=np.float32)
    f = to_float_frames(y, "float")
    assert f.shape == (1, 6, 7, 3) and np.array_equal(f[0, :, :, 0], y[0, 2])


def test_uint8_graphs_take_frames_as_they_are():
    batch = frames(1)
    assert np.array_equal(from_model(to_model(batch, "uint8"), "uint8"), batch)
