"""`rainloop gate`: the bundled model's rain gate set anew for a camera's dry footage."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rainloop import builtin
from rainloop.cli import main
from rainloop.images import write_image
from rainloop.metrics import psnr
from rainloop.training.batches import to_image, to_tensor
from rainloop.training.derainer_io import load_derainer
from rainloop.frames import resize_to

FOOTAGE = (200, 120)  # not a multiple of the net's 16: judged padded, as the exported graph runs it


def dry_footage(folder):
    rng = np.random.default_rng(5)
    folder.mkdir()
    frames = [builtin.random_crop(rng, FOOTAGE, split="test") for _ in range(4)]
    for i, frame in enumerate(frames):
        write_image(folder / f"{i}.png", frame)
    return frames


@pytest.mark.parametrize("stat, summary", [("p5", lambda s: np.percentile(s, 5)), ("mean", np.mean)])
def test_gate_sets_the_bundle_for_dry_footage_and_never_stacks(tmp_path, capsys, stat, summary):
    frames = dry_footage(tmp_path / "dry")
    first, second = tmp_path / "g1", tmp_path / "g2"
    args = ["--dry-db", "45", "--dry-stat", stat, "--dry", str(tmp_path / "dry")]
    assert main(["gate", "default", *args, "--out", str(first)]) == 0
    out = capsys.readouterr().out
    assert "logit shift" in out and f"rainloop export {first}" in out
    net, card = load_derainer(first)
    record = card["gate_calibration"]
    assert record["dry_db_target"] == 45.0 and record["statistic"] == stat and "4 frames of" in record["frames"]
    assert record["by_size"].keys() == {"200x120"}  # footage is judged at its own size
    with torch.no_grad():  # the footage really passes at what the record says
        scores = [psnr(to_image(net(to_tensor([f]))[0]), f) for f in frames]
    assert summary(scores) == pytest.approx(record["dry_psnr_after"], abs=0.01) and summary(scores) >= 45.0
    assert record["share_at_target"] == np.mean(np.array(scores) >= 45.0)
    # Setting the gate of the result again starts from the gate as trained, not from the new one.
    assert main(["gate", str(first), *args, "--out", str(second)]) == 0
    assert load_derainer(second)[1]["gate_calibration"] == record
    a, b = load_file(str(first / "g3.safetensors")), load_file(str(second / "g3.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dry_frames_pass_at_every_size_asked_for(tmp_path, capsys):
    frames = dry_footage(tmp_path / "dry")
    sizes = [(96, 64), (400, 240)]
    assert main(["gate", "default", "--dry-db", "45", "--dry", str(tmp_path / "dry"), "--dry-sizes", "96x64,400x240",
                 "--out", str(tmp_path / "g")]) == 0
    assert "by size: 96x64 " in capsys.readouterr().out
    net, card = load_derainer(tmp_path / "g")
    record = card["gate_calibration"]
    with torch.no_grad():
        p5 = {f"{w}x{h}": np.percentile([psnr(to_image(net(to_tensor([x]))[0]), x)
                                         for x in (resize_to(f, (w, h)) for f in frames)], 5) for w, h in sizes}
    assert record["by_size"] == pytest.approx(p5, abs=0.01)
    assert min(p5.values()) == pytest.approx(record["dry_psnr_after"], abs=0.01) and min(p5.values()) >= 45.0


def test_gate_errors_are_one_line(tmp_path, capsys):
    ungated = tmp_path / "ungated"
    assert main(["train", "--config", "tiny", "--set", "g1.gate=false", "--crop", "32", "--batch", "1", "--val", "none",
                 "--steps", "2", "--pretrain-steps", "1", "--out", str(ungated)]) == 0
    capsys.readouterr()
    for argv, fragment in [
        ([str(ungated), "--dry-db", "40", "--out", str(tmp_path / "o")], "no rain gate"),
        (["default", "--dry-db", "40", "--dry", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], "nowhere"),
        ([str(tmp_path / "missing"), "--dry-db", "40", "--out", str(tmp_path / "o")], "missing"),
        (["default", "--dry-db", "40", "--dry-sizes", "640by360", "--out", str(tmp_path / "o")], "--dry-sizes: size '640by360'"),
    ]:
        assert main(["gate", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("rainloop gate: error:") and fragment in err
    assert not (tmp_path / "o").exists()


def test_large_footage_is_judged_on_fewer_frames_spread_over_it(tmp_path, monkeypatch):
    from rainloop.training import gate_calibration

    folder = tmp_path / "dry"
    dry_footage(folder)
    monkeypatch.setattr(gate_calibration, "PIXELS", 2 * FOOTAGE[0] * FOOTAGE[1])  # room for two of the four
    frames, described = gate_calibration.dry_set(str(folder))
    assert described == f"2 frames of {folder}, at their own size"
    assert [f.shape[:2] for f in frames] == [FOOTAGE[::-1]] * 2
