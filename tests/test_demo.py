"""`rainloop demo` end to end with the bundled model: rendered clip -> runtime pipeline -> files."""

import re

from rainloop.cli import main
from rainloop.demo import COLUMNS, run_demo
from rainloop.images import read_image
from rainloop.metrics import bright_detail
from rainloop.video import read_video


def test_demo_derains_the_rendered_clip(tmp_path):
    result = run_demo(tmp_path, frames=6, size=(320, 180))
    assert result.frames == 6
    side = read_video(result.video)
    assert len(side) == 6 and side[0].shape == (180, 320 * len(COLUMNS), 3)
    # The bundle takes out streaks and keeps the rain's tone (its veil): the derained column has
    # less thin bright detail than the rainy one, and its PSNR stays near the input's.
    rainy, derained = (sum(bright_detail(f[:, 320 * i:320 * (i + 1)]) for f in side) for i in (0, 1))
    assert derained < 0.95 * rainy, (rainy, derained)
    assert abs(result.gain_db) < 1.0, result
    sheet = read_image(result.sheet)
    assert sheet.shape[1] == 320 * len(COLUMNS) // 2
    assert len(read_video(tmp_path / "demo_rainy.mp4")) == 6


def test_demo_cli_prints_gain_speed_and_files(tmp_path, capsys):
    assert main(["demo", "--headless", "--out", str(tmp_path), "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"PSNR +rainy [0-9.]+ dB -> derained [0-9.]+ dB \([+-][0-9.]+ dB\)", out), out
    assert "FPS" in out and str(tmp_path / "demo_side_by_side.mp4") in out
    assert (tmp_path / "demo_contact_sheet.png").exists()


def test_demo_on_a_source_at_a_size(tmp_path, capsys):
    run_demo(tmp_path, frames=4, size=(160, 96))
    clip = str(tmp_path / "demo_rainy.mp4")
    assert main(["demo", "--source", clip, "--headless", "--size", "96x64"]) == 0
    assert "4 frames" in capsys.readouterr().err
    assert main(["demo", "--source", clip, "--headless", "--size", "96by64"]) == 2
    assert main(["demo", "--headless", "--size", "96x64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "96by64" in err[0] and "give --source" in err[1]


def test_demo_bad_input_is_one_line(tmp_path, capsys):
    assert main(["demo", "--headless", "--out", str(tmp_path), "--model", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.onnx" in err
    assert main(["demo", "--headless", "--frames", "1"]) == 2
