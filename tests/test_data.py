import warnings

import cv2
import numpy as np
import pytest

from rainloop import data
from rainloop.errors import RainloopError
from rainloop.images import read_image, write_image


def _img(seed, size=(40, 30)):
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _write_pairs(root, rainy_names, clean_names):
    """Write rainy files whose clean partners are clean_names (same order); return the images."""
    imgs = []
    for k, (r, c) in enumerate(zip(rainy_names, clean_names)):
        clean = _img(100 + k)
        write_image(root / c, clean)
        write_image(root / r, clean // 2)
        imgs.append(clean)
    return imgs


LAYOUT_FILES = {
    "rainloop": (["rainy/a.png", "rainy/b.png"], ["clean/a.png", "clean/b.png"]),
    "rain100": (["rain/rain-001.png", "rain/rain-002.png"], ["norain/norain-001.png", "norain/norain-002.png"]),
    "spa": (["s1/000_rain.png", "s2/7rain.png"], ["s1/000_gt.png", "s2/7gt.png"]),
    "jrgr": (["Os/x.png", "Os/y.png"], ["Bs/x.png", "Bs/y.png"]),
}


@pytest.mark.parametrize("layout", LAYOUT_FILES)
def test_one_to_one_layouts(tmp_path, layout):
    rainy, clean = LAYOUT_FILES[layout]
    imgs = _write_pairs(tmp_path, rainy, clean)
    if layout == "jrgr":
        write_image(tmp_path / "Ot" / "real.png", _img(7))
    assert data.detect_layout(tmp_path) == layout
    pairs = data.open_pairs(tmp_path)
    assert pairs.layout == layout and len(pairs) == 2
    for sample, clean_img, rainy_name in zip(pairs, imgs, rainy):
        np.testing.assert_array_equal(sample.clean, clean_img)
        np.testing.assert_array_equal(sample.rainy, clean_img // 2)
        assert sample.name == (rainy_name if layout == "spa" else rainy_name.split("/")[1])


def test_rain1400_many_rainy_per_clean(tmp_path):
    for n in ("901", "902"):
        write_image(tmp_path / "ground_truth" / f"{n}.jpg", _img(int(n)))
        for k in (1, 2, 14):
            write_image(tmp_path / "rainy_image" / f"{n}_{k}.jpg", _img(k))
    pairs = data.open_pairs(tmp_path)
    assert pairs.layout == "rain1400" and len(pairs) == 6
    assert {c.name for _, c in pairs.pairs} == {"901.jpg", "902.jpg"}
    assert all(r.stem.split("_")[0] == c.stem for r, c in pairs.pairs)


def test_jrgr_unpaired_gives_real_rain(tmp_path):
    _write_pairs(tmp_path, ["Os/x.png"], ["Bs/x.png"])
    for k in range(3):
        write_image(tmp_path / "Ot" / f"r{k}.png", _img(k))
    real = data.open_unpaired(tmp_path)
    assert [s.name for s in real] == ["r0.png", "r1.png", "r2.png"]
    assert all(s.clean is None for s in real)
    assert len(data.open_unpaired(tmp_path, every=2)) == 2


def test_unpaired_folder_of_a_paired_layout_reads_its_rainy_half(tmp_path):
    _write_pairs(tmp_path, ["rainy/a.png", "rainy/b.png"], ["clean/a.png", "clean/b.png"])
    assert [s.name for s in data.open_unpaired(tmp_path)] == ["a.png", "b.png"]


def test_unpaired_video_every_kth_frame(tmp_path):
    path = tmp_path / "rain.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for k in range(7):
        writer.write(np.full((24, 32, 3), 30 * k, np.uint8))
    writer.release()
    frames = list(data.open_unpaired(path, every=3))
    assert [f.name for f in frames] == ["rain#000000", "rain#000003", "rain#000006"]
    assert frames[1].rainy.shape == (24, 32, 3) and frames[1].clean is None
    assert abs(int(frames[1].rainy.mean()) - 90) < 6


def _clip(path, levels):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for level in levels:
        writer.write(np.full((24, 32, 3), level, np.uint8))
    writer.release()


def test_unpaired_folder_of_videos_plays_them_in_order(tmp_path):
    (tmp_path / "day2").mkdir()
    _clip(tmp_path / "a.avi", [20] * 4)
    _clip(tmp_path / "day2" / "b.mp4", [200] * 3)
    clips = data.open_unpaired(tmp_path)
    assert clips.frame_count() == 7
    frames = list(clips)
    assert [f.name for f in frames] == ["a#000000", "a#000001", "a#000002", "a#000003",
                                        "b#000000", "b#000001", "b#000002"]
    assert [round(f.rainy.mean(), -1) for f in frames] == [20] * 4 + [200] * 3
    assert [f.name for f in data.open_unpaired(tmp_path, every=2)] == ["a#000000", "a#000002", "b#000000", "b#000002"]


def test_unreadable_and_mismatched_pairs(tmp_path):
    _write_pairs(tmp_path, ["rainy/a.png", "rainy/b.png", "rainy/c.png"], ["clean/a.png", "clean/b.png", "clean/c.png"])
    (tmp_path / "rainy" / "b.png").write_bytes(b"not a png")
    write_image(tmp_path / "clean" / "c.png", _img(1, size=(41, 30)))
    pairs = data.open_pairs(tmp_path)
    with pytest.raises(RainloopError, match=r"rainy/b.png: unreadable or empty image"):
        pairs[1]
    with pytest.raises(RainloopError, match=r"rainy/c.png: size 40x30 differs from its clean image .*41x30"):
        pairs[2]
    with pytest.warns(UserWarning, match="b.png: unreadable"):
        assert pairs.get(1, skip_bad=True) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [s.name for s in pairs.iter_valid()]
    assert names == ["a.png"] and len(caught) == 2


def test_missing_partner(tmp_path):
    _write_pairs(tmp_path, ["rain/rain-1.png"], ["norain/norain-2.png"])
    with pytest.raises(RainloopError, match=r"rain-1.png: no matching clean image in .*norain"):
        data.open_pairs(tmp_path)


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "empty folder"),
    (lambda root: write_image(root / "photo.png", _img(0)), "no known dataset layout"),
    (lambda root: ((root / "rainy").mkdir(), (root / "clean").mkdir()), "rainy: no images"),
])
def test_bad_folders(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(RainloopError, match=message):
        data.open_pairs(tmp_path)


def test_missing_paths(tmp_path):
    with pytest.raises(RainloopError, match="nope: no such folder"):
        data.open_pairs(tmp_path / "nope")
    with pytest.raises(RainloopError, match="nope: no such file or folder"):
        data.open_unpaired(tmp_path / "nope")
    with pytest.raises(RainloopError, match="nope: no such bag"):  # a bag URI, read or not
        data.spread_frames(f"bag://{tmp_path}/nope?topic=/camera/image_raw", 4, None, progress=False)
    with pytest.raises(RainloopError, match="no images"):
        data.open_unpaired(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"garbage")
    with pytest.raises(RainloopError, match="clip.mp4: unreadable video"):
        data.open_unpaired(tmp_path / "clip.mp4")


def test_read_image_converts_gray_and_alpha(tmp_path):
    gray = _img(0)[..., 0]
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[..., None], 3, axis=2))
    bgra = np.dstack([_img(1), np.full((30, 40), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), bgra[..., :3])
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(RainloopError, match="empty.png: unreadable or empty image"):
        read_image(tmp_path / "empty.png")


def test_write_image_errors(tmp_path):
    with pytest.raises(RainloopError, match="cannot encode an image with suffix '.xyz'"):
        write_image(tmp_path / "a.xyz", _img(0))
    (tmp_path / "file").write_text("")
    with pytest.raises(RainloopError, match="cannot write"):
        write_image(tmp_path / "file" / "a.png", _img(0))
