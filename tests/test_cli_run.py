"""`rainloop run` end to end: real models, real files, exit codes."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from rainloop.cli import main


@pytest.fixture
def toy(toy_onnx):
    return toy_onnx()


def test_video_to_video(toy, indexed_video, kit, tmp_path, capsys):
    out = tmp_path / "clean.avi"
    rc = main(["run", "--model", str(toy.path), "--source", str(indexed_video(n=20)), "--sink", str(out)])
    assert rc == 0
    frames = kit.read_video(out)
    assert [kit.frame_index(f) for f in frames] == list(range(20))
    assert {f.shape for f in frames} == {(48, 64, 3)}
    assert np.abs(frames[5][16:].astype(int) - toy.expected(kit.indexed_frame(5))[16:]).max() <= 4
    err = capsys.readouterr().err
    assert "onnxruntime/CPU" in err and "20 frames in" in err and "dropped 0" in err


def test_side_by_side_max_frames_and_size(toy, indexed_video, kit, tmp_path):
    out = tmp_path / "sbs.mp4"
    rc = main(["run", "--model", str(toy.path), "--source", f"file://{indexed_video(n=12)}", "--sink", str(out),
               "--side-by-side", "--max-frames", "5", "--size", "32x24", "--headless"])
    assert rc == 0
    frames = kit.read_video(out)
    assert [f.shape for f in frames] == [(48, 128, 3)] * 5
    assert [kit.frame_index(f[:, :64]) for f in frames] == list(range(5))


def test_image_folder_to_folder_keeps_names(toy, kit, tmp_path):
    src = tmp_path / "rainy"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"shot{i}.png"), kit.indexed_frame(i))
    rc = main(["run", "--model", str(toy.path), "--source", str(src), "--sink", str(tmp_path / "clean"),
               "--fps-overlay", "--headless"])
    assert rc == 0
    for i in range(3):
        out = cv2.imread(str(tmp_path / "clean" / f"shot{i}.png"))
        assert out.shape == (48, 64, 3)
        assert np.abs(out[40:].astype(int) - toy.expected(kit.indexed_frame(i))[40:]).max() <= 1


def test_headless_default_sink_writes_nothing(toy, indexed_video, tmp_path, capsys):
    video = indexed_video(n=4)
    assert main(["run", "--model", str(toy.path), "--source", str(video), "--headless"]) == 0
    assert "-> none" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [video.name, toy.path.name]


def _bad_cases(tmp_path, toy_path, video):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "fake.mp4").write_text("not a video")
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x01garbage")
    model, source = ["--model", str(toy_path)], ["--source", str(video)]
    return [
        (["--model", str(tmp_path / "nope.onnx"), *source, "--headless"], "nope.onnx"),
        (["--model", str(tmp_path / "notes.txt"), *source, "--headless"], "notes.txt"),
        (["--model", str(tmp_path / "broken.onnx"), *source, "--headless"], "broken.onnx"),
        ([*model, "--source", str(tmp_path / "gone.mp4"), "--headless"], "gone.mp4"),
        ([*model, "--source", str(tmp_path / "fake.mp4"), "--headless"], "fake.mp4"),
        ([*model, "--source", "ftp://host/clip", "--headless"], "ftp"),
        ([*model, *source, "--sink", str(tmp_path / "out.xyz")], "out.xyz"),
        ([*model, *source], "display"),
        ([*model, *source, "--headless", "--sink", "display://0"], "--headless"),
        ([*model, *source, "--size", "big", "--headless"], "big"),
        ([*model, *source, "--max-frames", "0", "--headless"], "--max-frames"),
        ([*model, *source, "--providers", "warp", "--headless"], "warp"),
    ]


def test_bad_input_exits_2_with_one_line(toy, indexed_video, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for argv, named in _bad_cases(tmp_path, toy.path, indexed_video(n=3)):
        rc = main(["run", *argv])
        err = capsys.readouterr().err.strip()
        assert rc == 2, (argv, err)
        assert len(err.splitlines()) == 1 and named in err and err.startswith("rainloop run: error:"), (argv, err)


def test_a_broken_video_is_one_line_from_the_command_too(toy, tmp_path):
    # In a process of its own: FFmpeg writes straight to file descriptor 2, and it
    # reads its log level once, before anything in this test process opened a video.
    (tmp_path / "fake.mp4").write_text("not a video")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run([sys.executable, "-m", "rainloop", "run", "--model", str(toy.path),
                           "--source", str(tmp_path / "fake.mp4"), "--headless"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"rainloop run: error: {tmp_path / 'fake.mp4'}: cannot open video "
                                        "(unreadable or unsupported format)"]
