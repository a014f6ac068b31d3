"""Sources and sinks on real files written and read back with OpenCV."""

import cv2
import numpy as np
import pytest

from rainloop.errors import RainloopError
from rainloop.runtime import open_sink, open_source
from rainloop.runtime.sinks import DisplaySink
from rainloop.runtime.uri import SourceSpec


def _drain(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    return frames


def test_video_file_gives_every_frame_in_order(indexed_video, kit):
    source = open_source(indexed_video(n=15, suffix=".mp4"))
    assert not source.live and source.fps == pytest.approx(10.0)
    frames = _drain(source)
    assert [kit.frame_index(f) for f in frames] == list(range(15))
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_image_folder_glob_and_single_image(tmp_path, kit):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in (2, 10, 1):  # natural order: 1, 2, 10
        cv2.imwrite(str(folder / f"frame{i}.png"), kit.indexed_frame(i))
    (folder / "notes.txt").write_text("not an image")
    source = open_source(str(folder))
    assert [kit.frame_index(f) for f in _drain(source)] == [1, 2, 10]
    assert [source.frame_name(i) for i in range(3)] == ["frame1.png", "frame2.png", "frame10.png"]
    assert len(_drain(open_source(f"{folder}/frame1*.png"))) == 2
    single = open_source(str(folder / "frame2.png"))
    assert [kit.frame_index(f) for f in _drain(single)] == [2]


@pytest.mark.parametrize("name, content", [("fake.mp4", "not a video"), ("empty", None),
                                           ("bad.png", "not an image"), ("gone.avi", "")])
def test_unreadable_sources_are_one_line_errors(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content:
        path.write_text(content)
    with pytest.raises(RainloopError) as err:
        open_source(str(path))
    assert name in str(err.value) and "\n" not in str(err.value)


def test_missing_cameras_are_one_line_errors():
    with pytest.raises(RainloopError, match="video99"):
        open_source("v4l2:///dev/video99")
    if not cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
        with pytest.raises(RainloopError, match="GStreamer"):
            open_source("csi://0")


def test_live_capture_reopens_after_losing_its_stream(indexed_video, kit):
    # A stream spec over a file: it "drops" at the file's end, like a camera unplugged.
    source = open_source(SourceSpec("stream", "rtsp://cam/front", str(indexed_video(n=4)), live=True))
    assert source.live
    assert [kit.frame_index(source.read()) for _ in range(4)] == [0, 1, 2, 3]
    assert source.read() is None
    assert source.reopen()
    assert kit.frame_index(source.read()) == 0
    source.close()


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".mkv"])
def test_video_sink_round_trip(tmp_path, kit, suffix):
    path = tmp_path / f"out{suffix}"
    with open_sink(str(path), fps=12) as sink:
        for i in range(9):
            sink.write(kit.indexed_frame(i))
        sink.write(kit.indexed_frame(9, size=(32, 24)))  # a stray size is resized, not lost
    frames = kit.read_video(path)
    assert [kit.frame_index(f) for f in frames] == list(range(10))
    assert {f.shape for f in frames} == {(48, 64, 3)}
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == pytest.approx(12)


def test_image_sinks(tmp_path, kit):
    with open_sink(str(tmp_path / "out")) as folder:
        folder.write(kit.indexed_frame(3), "a.png")
        folder.write(kit.indexed_frame(4))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000001.png", "a.png"]
    assert kit.frame_index(cv2.imread(str(tmp_path / "out" / "a.png"))) == 3
    with open_sink(str(tmp_path / "snap.png")) as snap:
        snap.write(kit.indexed_frame(5))
        snap.write(kit.indexed_frame(6))
    assert kit.frame_index(cv2.imread(str(tmp_path / "snap.png"))) == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
    sink = open_sink("none")
    sink.write(kit.indexed_frame(0))
    sink.close()


def test_display_without_a_display_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RainloopError) as err:
        DisplaySink()
    assert "display" in str(err.value) and "\n" not in str(err.value)


def test_display_with_headless_opencv_is_a_one_line_error(monkeypatch):
    if cv2.currentUIFramework():
        pytest.skip("this OpenCV has a GUI")
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(RainloopError, match="no GUI"):
        DisplaySink()
