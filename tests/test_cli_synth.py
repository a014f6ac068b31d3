import numpy as np
import pytest

from rainloop.cli import main
from rainloop.video import read_video
from rainloop.data import open_pairs
from rainloop.images import write_image


def _synth(out, *extra):
    return main(["synth", "--out", str(out), "--n", "3", "--size", "64x48", *extra])


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_pairs_layout_and_determinism(tmp_path):
    assert _synth(tmp_path / "a", "--seed", "7") == 0
    assert _synth(tmp_path / "b", "--seed", "7") == 0
    assert _synth(tmp_path / "c", "--seed", "8") == 0
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert sorted(a) == [f"{d}/{i:05d}.png" for d in ("clean", "rainy") for i in range(3)]
    assert a == b
    assert a != c and a.keys() == c.keys()
    pairs = open_pairs(tmp_path / "a")
    assert pairs.layout == "rainloop" and len(pairs) == 3
    for sample in pairs:
        assert sample.rainy.shape == (48, 64, 3)
        assert not np.array_equal(sample.rainy, sample.clean)


def test_styles_and_levels(tmp_path):
    _synth(tmp_path / "streak", "--intensity", "0.6")
    _synth(tmp_path / "physics", "--style", "physics", "--intensity", "0.6")
    _synth(tmp_path / "heavy", "--style", "physics", "--heavy")
    _synth(tmp_path / "dry", "--intensity", "0")
    clean = _files(tmp_path / "streak")["clean/00000.png"]
    # Same seed, same crops: only the rain differs.
    assert _files(tmp_path / "physics")["clean/00000.png"] == clean
    assert _files(tmp_path / "physics")["rainy/00000.png"] != _files(tmp_path / "streak")["rainy/00000.png"]
    dry = open_pairs(tmp_path / "dry")[0]
    np.testing.assert_array_equal(dry.rainy, dry.clean)


def test_test_split_and_user_photos(tmp_path):
    _synth(tmp_path / "train")
    _synth(tmp_path / "test", "--split", "test")
    assert _files(tmp_path / "train") != _files(tmp_path / "test")
    photos = tmp_path / "photos"
    for k in range(2):
        write_image(photos / f"p{k}.jpg", np.full((90, 120, 3), 40 + 100 * k, np.uint8))
    assert _synth(tmp_path / "mine", "--clean", str(photos)) == 0
    levels = {int(s.clean.mean().round()) for s in open_pairs(tmp_path / "mine")}
    assert levels <= {40, 140}


def test_video(tmp_path):
    path = tmp_path / "clip" / "rain.mp4"
    assert main(["synth", "--video", str(path), "--frames", "6", "--size", "96x64", "--seed", "1"]) == 0
    frames = [f.astype(int) for f in read_video(path)]
    assert len(frames) == 6 and frames[0].shape == (64, 96, 3)
    assert all(np.abs(a - b).mean() > 0.5 for a, b in zip(frames, frames[1:]))
    assert [p.name for p in path.parent.iterdir()] == ["rain.mp4"]


@pytest.mark.parametrize("args, message", [
    (["synth", "--n", "2"], "give either --out DIR (pairs) or --video OUT.mp4"),
    (["synth", "--out", "{tmp}/o", "--intensity", "2"], "--intensity 2.0: must be between 0 and 1"),
    (["synth", "--out", "{tmp}/o", "--size", "64by48"], "size '64by48': expected WIDTHxHEIGHT"),
    (["synth", "--out", "{tmp}/o", "--n", "0"], "--n 0: must be 1 or more"),
    (["synth", "--out", "{tmp}/o", "--clean", "{tmp}/none"], "none: no such folder of clean photos"),
    (["synth", "--out", "{tmp}/o", "--clean", "{tmp}"], ": no images"),
    (["synth", "--out", "{tmp}/o", "--clean", "{tmp}", "--split", "test"], "--split picks among the builtin photos"),
    (["synth", "--video", "{tmp}/v.mp4", "--frames", "0"], "--frames 0: must be 1 or more"),
])
def test_bad_input(tmp_path, capsys, args, message):
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rainloop synth: error:") and message in err and "\n" not in err


def test_broken_user_photo_is_named(tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert _synth(tmp_path / "o", "--clean", str(tmp_path)) == 2
    assert "bad.png: unreadable or empty image" in capsys.readouterr().err


def test_cli_style_choices_mirror_the_renderer():
    from rainloop import rain
    from rainloop.cli import synth as cli_synth

    assert cli_synth.STYLES == rain.STYLES
