"""URIs -> typed specs and the capture pipelines they build (no camera needed)."""

import pytest

from rainloop.errors import RainloopError
from rainloop.runtime.uri import capture_candidates, csi_pipeline, parse_sink, parse_source


def test_integer_is_a_webcam_index():
    spec = parse_source("0")
    assert (spec.kind, spec.target, spec.live) == ("webcam", 0, True)
    assert capture_candidates(spec) == [(0, "any")]
    assert parse_source(2).target == 2


def test_v4l2_uri_opens_the_device_with_its_options():
    spec = parse_source("v4l2:///dev/video1?width=640&height=480&fps=15")
    assert (spec.kind, spec.target, spec.live) == ("webcam", "/dev/video1", True)
    assert spec.options == {"width": 640, "height": 480, "fps": 15}
    assert capture_candidates(spec) == [("/dev/video1", "v4l2")]
    assert parse_source("v4l2://video3").target == "/dev/video3"
    plain = parse_source("/dev/video2")
    assert (plain.kind, capture_candidates(plain)) == ("webcam", [("/dev/video2", "v4l2")])
    assert parse_source("v4l2:///dev/video0").options == {}  # the driver's own mode unless asked


def test_csi_builds_an_nvargus_gstreamer_pipeline():
    spec = parse_source("csi://1?width=1920&height=1080&fps=60&flip=2")
    assert (spec.kind, spec.target, spec.live) == ("csi", 1, True)
    [(pipeline, backend)] = capture_candidates(spec)
    assert backend == "gstreamer"
    assert pipeline == csi_pipeline(1, 1920, 1080, 60, 2)
    elements = [e.strip() for e in pipeline.split("!")]
    assert elements[0] == "nvarguscamerasrc sensor-id=1"
    assert "width=(int)1920" in elements[1] and "height=(int)1080" in elements[1]
    assert "framerate=(fraction)60/1" in elements[1] and "memory:NVMM" in elements[1]
    assert elements[2] == "nvvidconv flip-method=2"
    assert elements[-2] == "video/x-raw, format=(string)BGR"
    assert elements[-1] == "appsink drop=true max-buffers=1 sync=false"


def test_csi_defaults_to_720p30():
    [(pipeline, _)] = capture_candidates(parse_source("csi://0"))
    assert "sensor-id=0" in pipeline and "width=(int)1280" in pipeline and "(fraction)30/1" in pipeline


def test_rtsp_tries_ffmpeg_then_a_low_latency_gstreamer_pipeline():
    url = "rtsp://cam.local:8554/front"
    spec = parse_source(url)
    assert (spec.kind, spec.live) == ("stream", True)
    (first, first_backend), (gst, gst_backend) = capture_candidates(spec)
    assert (first, first_backend, gst_backend) == (url, "ffmpeg", "gstreamer")
    assert gst.startswith(f"rtspsrc location={url} latency=0 ! decodebin")
    assert gst.endswith("appsink drop=true max-buffers=1 sync=false")
    http = capture_candidates(parse_source("http://cam/video.mjpg"))
    assert http[0] == ("http://cam/video.mjpg", "ffmpeg") and http[1][0].startswith("souphttpsrc")


def test_files_folders_and_globs(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    image = tmp_path / "a.PNG"
    image.write_bytes(b"x")
    for uri, kind in [(str(video), "video"), (f"file://{video}", "video"), (str(image), "image"),
                      (str(tmp_path), "images"), (f"{tmp_path}/*.png", "images")]:
        spec = parse_source(uri)
        assert (spec.kind, spec.live) == (kind, False), uri
    assert capture_candidates(parse_source(str(video))) == [(str(video), "any")]


def test_bags_as_sources_and_sinks(tmp_path):
    (tmp_path / "drive").mkdir()
    spec = parse_source(f"bag://{tmp_path}/drive?topic=/camera/image_raw")
    assert (spec.kind, spec.target, spec.live, spec.options) == ("bag", f"{tmp_path}/drive", False,
                                                                 {"topic": "/camera/image_raw"})
    assert parse_source(f"bag://{tmp_path}/drive").options == {}
    sink = parse_sink(f"bag://{tmp_path}/clean?topic=/camera/image_derained")
    assert (sink.kind, sink.target, sink.options) == ("bag", f"{tmp_path}/clean",
                                                      {"topic": "/camera/image_derained", "replace": False})
    assert parse_sink(f"bag://{tmp_path}/clean?replace=1").options == {"replace": True}


@pytest.mark.parametrize("uri, named", [("foo://bar", "foo"), ("csi://left", "csi://left"),
                                        ("v4l2:///dev/video0?gain=3", "gain"),
                                        ("csi://0?width=wide", "width"), ("missing.mp4", "missing.mp4"),
                                        ("bag://", "needs a path"), ("bag://gone_bag", "gone_bag: no such bag")])
def test_bad_sources_are_one_line_errors(uri, named):
    with pytest.raises(RainloopError) as err:
        parse_source(uri)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_sinks(tmp_path):
    assert parse_sink("display://0").kind == "display"
    assert parse_sink("none").kind == "none"
    for suffix, codec in [(".mp4", "mp4v"), (".avi", "MJPG"), (".mkv", "XVID")]:
        spec = parse_sink(str(tmp_path / f"out{suffix}"))
        assert (spec.kind, spec.codec) == ("video", codec)
    assert parse_sink(f"file://{tmp_path}/out.avi").target == f"{tmp_path}/out.avi"
    assert parse_sink(str(tmp_path / "snap.jpg")).kind == "image"
    assert parse_sink(str(tmp_path / "frames")).kind == "images"
    assert parse_sink(str(tmp_path)).kind == "images"


@pytest.mark.parametrize("uri, named", [("out.xyz", ".xyz"), ("rtmp://host/live", "rtmp"), ("bag://", "needs"),
                                        ("bag://out?replace=2", "replace='2'"), ("bag://out?rate=2", "'rate'"),
                                        ("bag://out?replace=1&topic=/x", "drop topic="), ("bag://.", "exists already")])
def test_bad_sinks_are_one_line_errors(uri, named):
    with pytest.raises(RainloopError) as err:
        parse_sink(uri)
    assert named in str(err.value) and "\n" not in str(err.value)
