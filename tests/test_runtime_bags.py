"""ROS 2 bags as sources, sinks and footage: bags recorded here with rosbags, run through
the real CLI (the bundled derainer, or the toy one where exact pixels matter), read back."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags.rosbag2", reason="rosbags is not installed (pip install 'rainloop[ros]')")

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime  # noqa: E402
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402  (rosbags' own YAML library)

from rainloop import builtin, rain  # noqa: E402
from rainloop.metrics import bright_detail  # noqa: E402
from rainloop.cli import main  # noqa: E402
from rainloop.data import dry_pairs, open_unpaired, spread_frames  # noqa: E402
from rainloop.errors import RainloopError  # noqa: E402
from rainloop.models import resolve  # noqa: E402
from rainloop.runtime import open_sink, open_source  # noqa: E402

DEFAULT_ONNX = resolve("default")
STORE = get_typestore(Stores.ROS2_HUMBLE)
IMAGE, COMPRESSED, STRING = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage", "std_msgs/msg/String"
T0 = 1_700_000_000_000_000_000  # ns
SIZE = (320, 240)  # w, h: the size the dry-frame bar (38 dB) is set at
# topic -> what its images look like on the wire (CompressedImage: JPEG of BGR)
CAMERAS = {"/cam/bgr": "bgr8", "/cam/rgb": "rgb8", "/cam/mono": "mono8", "/cam/jpeg": "jpeg"}
RAIN = (0.0, 0.5, 0.0, 0.8)  # per frame: a drive in and out of rain
FRAMES = len(RAIN)


def _scenes():
    """(clean, rainy, intensity) per frame: built-in photo crops, physics rain rendered on some."""
    rng = np.random.default_rng(11)
    scenes = []
    for intensity in RAIN:
        clean = builtin.random_crop(rng, SIZE)
        scenes.append((clean, rain.render(clean, rng, "physics", intensity), intensity))
    return scenes


def _stamp(i: int):
    # Header stamps a few ms before the bag's receive time, as a camera driver's are.
    t = T0 + i * 100_000_000 - 3_000_000
    return STORE.types["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9)


def _qos(reliability, durability) -> list:
    never = QosTime(0x7FFFFFFF, 0xFFFFFFFF)
    return [Qos(QosHistory.KEEP_LAST, 1, reliability, durability, never, never, QosLiveliness.AUTOMATIC, never, False)]


# What a camera driver offers, and a latched status topic: the copy must keep both.
SENSOR_QOS = _qos(QosReliability.BEST_EFFORT, QosDurability.VOLATILE)
LATCHED_QOS = _qos(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL)


def _image_msg(bgr: np.ndarray, encoding: str, i: int):
    header = STORE.types["std_msgs/msg/Header"](stamp=_stamp(i), frame_id="camera_optical")
    if encoding == "jpeg":
        data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].reshape(-1)
        return COMPRESSED, STORE.types[COMPRESSED](header=header, format="bgr8; jpeg compressed bgr8", data=data)
    pixels = {"bgr8": bgr, "rgb8": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
              "mono8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)}.get(encoding, bgr)
    channels = 1 if pixels.ndim == 2 else 3
    return IMAGE, STORE.types[IMAGE](header=header, height=bgr.shape[0], width=bgr.shape[1], encoding=encoding,
                                     is_bigendian=0, step=bgr.shape[1] * channels, data=pixels.reshape(-1))


def record(path: Path, storage: str, cameras=CAMERAS, frames=None) -> Path:
    """A bag of `frames` (default: rainy scenes) on each camera topic, plus a /chatter
    String topic between them; messages interleaved in time as a recorder writes them."""
    frames = frames if frames is not None else [rainy for _, rainy, _ in _scenes()]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as bag:
        chatter = bag.add_connection("/chatter", STRING, typestore=STORE, offered_qos_profiles=LATCHED_QOS)
        conns = {}
        for i, frame in enumerate(frames):
            t = T0 + i * 100_000_000
            bag.write(chatter, t - 1_000, STORE.serialize_cdr(STORE.types[STRING](data=f"tick {i}"), STRING))
            for k, (topic, encoding) in enumerate(cameras.items()):
                msgtype, msg = _image_msg(frame, encoding, i)
                if topic not in conns:
                    conns[topic] = bag.add_connection(topic, msgtype, typestore=STORE,
                                                      offered_qos_profiles=SENSOR_QOS)
                bag.write(conns[topic], t + k * 1_000, STORE.serialize_cdr(msg, msgtype))
    return path


def messages(path: Path) -> dict[str, list[tuple[int, bytes]]]:
    """topic -> [(bag timestamp, raw bytes)] in recording order."""
    out = {}
    with Reader(path) as bag:
        for conn, t, raw in bag.messages():
            out.setdefault(conn.topic, []).append((t, bytes(raw)))
    return out


def connections(path: Path) -> dict[str, tuple]:
    """topic -> (message type, definition, hash, serialization and QoS)."""
    with Reader(path) as bag:
        return {c.topic: (c.msgtype, c.msgdef, c.digest, c.ext) for c in bag.connections}


def decoded(raw: bytes, topic_type: str):
    return STORE.deserialize_cdr(raw, topic_type)


def _as_bgr(msg, msgtype: str) -> np.ndarray:
    if msgtype == COMPRESSED:
        return cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
    pixels = np.asarray(msg.data, np.uint8).reshape(msg.height, msg.width, -1)
    return {"bgr8": pixels, "rgb8": pixels[..., ::-1], "mono8": np.repeat(pixels, 3, axis=2)}[msg.encoding]


def _msgtype(topic: str) -> str:
    return COMPRESSED if CAMERAS[topic] == "jpeg" else IMAGE


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    """One recording per storage format, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("bags")
    return {storage: record(root / f"drive_{storage}", storage) for storage in ("sqlite3", "mcap")}


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("topic", list(CAMERAS))
def test_run_bag_to_bag_keeps_the_recording_and_adds_derained_images(bags, tmp_path, capsys, storage, topic):
    out = tmp_path / "derained"
    rc = main(["run", "--source", f"bag://{bags[storage]}?topic={topic}", "--sink", f"bag://{out}?topic=/derained"])
    assert rc == 0, capsys.readouterr().err
    assert f"{FRAMES} frames in" in capsys.readouterr().err
    before, after = messages(bags[storage]), messages(out)
    assert set(after) == set(before) | {"/derained"}
    for name in before:  # every topic of the input, byte for byte
        assert after[name] == before[name], name
    described = connections(out)
    assert {name: described[name] for name in before} == connections(bags[storage])
    assert described["/derained"] == described[topic]
    assert [t for t, _ in after["/derained"]] == [t for t, _ in before[topic]]
    msgtype = _msgtype(topic)
    assert (out / f"{out.name}.{'mcap' if storage == 'mcap' else 'db3'}").is_file()
    change, removed = {}, {}
    for (_, raw_in), (_, raw_out), (_, _, intensity) in zip(before[topic], after["/derained"], _scenes()):
        msg_in, msg_out = decoded(raw_in, msgtype), decoded(raw_out, msgtype)
        assert msg_out.header == msg_in.header
        assert getattr(msg_out, "encoding", None) == getattr(msg_in, "encoding", None)
        assert getattr(msg_out, "format", None) == getattr(msg_in, "format", None)
        x, y = _as_bgr(msg_in, msgtype).astype(int), _as_bgr(msg_out, msgtype).astype(int)
        assert y.shape == x.shape
        change[intensity] = max(change.get(intensity, 0), np.abs(y - x).mean())
        removed[intensity] = bright_detail(x.astype(np.uint8)) - bright_detail(y.astype(np.uint8))
    # The rainy frames lose thin bright detail (their streaks), and change more than the dry ones.
    assert min(removed[i] for i in RAIN if i) > 0, removed
    assert min(change[i] for i in RAIN if i) > change[0.0], change


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_replace_puts_derained_images_under_the_original_topic(bags, tmp_path, toy_onnx, storage):
    toy = toy_onnx()
    out = tmp_path / "replaced"
    assert main(["run", "--model", str(toy.path), "--source", f"bag://{bags[storage]}?topic=/cam/rgb",
                 "--sink", f"bag://{out}?replace=1"]) == 0
    before, after = messages(bags[storage]), messages(out)
    assert set(after) == set(before)
    for name in set(before) - {"/cam/rgb"}:
        assert after[name] == before[name], name
    assert [t for t, _ in after["/cam/rgb"]] == [t for t, _ in before["/cam/rgb"]]
    for (_, raw_in), (_, raw_out) in zip(before["/cam/rgb"], after["/cam/rgb"]):
        msg_in, msg_out = decoded(raw_in, IMAGE), decoded(raw_out, IMAGE)
        assert (msg_out.header, msg_out.encoding, msg_out.step) == (msg_in.header, "rgb8", msg_in.step)
        # The toy derainer's per-channel map tells red from blue: the RGB order survives both ways.
        expected = toy.expected(_as_bgr(msg_in, IMAGE))
        assert np.abs(_as_bgr(msg_out, IMAGE).astype(int) - expected).max() <= 1


def test_bag_source_gives_every_frame_in_recording_order(tmp_path):
    frames = [np.full((*SIZE[::-1], 3), 10 * i, np.uint8) for i in range(12)]
    bag = record(tmp_path / "ramp", "sqlite3", {"/cam/bgr": "bgr8"}, frames)
    with open_source(f"bag://{bag}") as source:  # the only image topic needs no ?topic=
        assert not source.live and source.fps == pytest.approx(12 / 1.1, rel=0.01)
        seen = []
        while (frame := source.read()) is not None:
            seen.append(int(frame[0, 0, 0]))
    assert seen == [10 * i for i in range(12)]


def test_footage_readers_take_a_bag(bags):
    uri = f"bag://{bags['mcap']}?topic=/cam/mono"
    every = list(open_unpaired(uri, every=2))
    assert [s.name for s in every] == [f"drive_mcap/cam/mono#{i:06d}" for i in (0, 2)]
    assert every[0].rainy.shape == (*SIZE[::-1], 3) and every[0].clean is None
    frames = spread_frames(uri, 2, (48, 32), progress=False)
    assert [f.shape for f in frames] == [(32, 48, 3)] * 2
    pairs = dry_pairs(f"bag://{bags['sqlite3']}?topic=/cam/jpeg", 3)
    assert len(pairs) == 3 and all(p.rainy is p.clean for p in pairs)


def test_the_cli_takes_a_bag_wherever_it_takes_footage(bags, tmp_path, capsys):
    uri = f"bag://{bags['sqlite3']}?topic=/cam/bgr"
    run = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--crop", "32", "--batch", "1", "--val", "none", "--threads", "2",
                 "--steps", "2", "--pretrain-steps", "1", "--real", uri, "--out", str(run)]) == 0
    card = json.loads((run / "g3.json").read_text())
    assert card["step"] == 2 and card["data"]["real"] == f"real: {uri} ({FRAMES} images)"
    assert main(["quantize", str(DEFAULT_ONNX), "--calib", uri, "--n", "3", "--size", "96x64",
                 "--out", str(tmp_path / "model.int8.onnx")]) == 0
    assert "calibrated on 3 frames at 96x64" in capsys.readouterr().out
    assert main(["eval", "--model", "default", "--dry", uri]) == 0
    assert f"{FRAMES} dry frames of {uri}" in capsys.readouterr().out


def _truncated(tmp_path: Path, storage: str) -> Path:
    bag = record(tmp_path / f"cut_{storage}", storage, {"/cam/bgr": "bgr8"})
    data = bag / f"{bag.name}.{'mcap' if storage == 'mcap' else 'db3'}"
    data.write_bytes(data.read_bytes()[: data.stat().st_size * 2 // 3])
    return bag


def _bad_bags(tmp_path: Path, bags: dict) -> list[tuple[list[str], str]]:
    """(arguments, what the error names) for mistakes found before the run starts."""
    odd = record(tmp_path / "odd", "sqlite3", {"/cam/yuv": "yuv422"})
    (tmp_path / "taken").mkdir()
    good = f"bag://{bags['sqlite3']}?topic=/cam/bgr"
    return [
        (["--source", f"bag://{tmp_path}/nowhere"], "nowhere: no such bag"),
        (["--source", f"bag://{bags['sqlite3']}?topic=/cam/ir"], "no topic /cam/ir"),
        (["--source", f"bag://{bags['sqlite3']}"], "/cam/bgr, /cam/jpeg, /cam/mono, /cam/rgb"),
        (["--source", f"bag://{bags['sqlite3']}?topic=/chatter"], "std_msgs/msg/String, not an image"),
        (["--source", f"bag://{bags['sqlite3']}?topik=/cam/bgr"], "topik"),
        (["--source", f"bag://{odd}"], "'yuv422' is not supported"),
        (["--source", f"bag://{_truncated(tmp_path, 'mcap')}"], "cut_mcap: not a readable ROS 2 bag"),
        (["--source", f"bag://{_truncated(tmp_path, 'sqlite3')}"], "cut_sqlite3: not a readable ROS 2 bag"),
        (["--source", f"bag://{tmp_path / 'taken'}"], "taken: not a readable ROS 2 bag"),
        (["--source", good, "--sink", f"bag://{tmp_path / 'taken'}"], "taken: exists already"),
        (["--source", good, "--sink", f"bag://{tmp_path}/x?replace=yes"], "replace='yes'"),
    ]


def _bad_runs(tmp_path: Path, bags: dict) -> list[tuple[list[str], str]]:
    """Mistakes a bag sink only sees once frames flow, after the run's first line."""
    good = f"bag://{bags['sqlite3']}?topic=/cam/bgr"
    return [
        (["--source", good, "--sink", f"bag://{tmp_path}/x?topic=/cam/rgb"], "/cam/rgb is in the source bag"),
        (["--source", good, "--sink", f"bag://{tmp_path}/x", "--max-frames", "2"], "after 2 of 4 images"),
        (["--source", str(tmp_path / "still.png"), "--sink", f"bag://{tmp_path}/x"], "needs a bag:// source"),
    ]


def test_bad_bags_exit_2_with_one_line(bags, toy_onnx, tmp_path, capsys):
    toy = toy_onnx()
    cv2.imwrite(str(tmp_path / "still.png"), np.zeros((8, 8, 3), np.uint8))
    cases = [(case, 1) for case in _bad_bags(tmp_path, bags)] + [(case, 2) for case in _bad_runs(tmp_path, bags)]
    for (argv, named), lines in cases:
        rc = main(["run", "--model", str(toy.path), "--headless", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == lines, (argv, err)
        assert named in err[-1] and err[-1].startswith("rainloop run: error:"), (argv, err)
        assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.*")), argv  # no half bag left


def _as_humble_recorded(bag: Path) -> Path:
    """Strip what ROS 2 Humble's recorder never writes: message definitions and type hashes."""
    db = sqlite3.connect(bag / f"{bag.name}.db3")
    db.executescript("DROP TABLE message_definitions; ALTER TABLE topics DROP COLUMN type_description_hash; "
                     "UPDATE schema SET schema_version = 3;")
    db.close()
    yaml = YAML(typ="safe")
    meta = yaml.load((bag / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info.update(version=5)
    for topic in info["topics_with_message_count"]:
        del topic["topic_metadata"]["type_description_hash"]
    with open(bag / "metadata.yaml", "w") as f:
        yaml.dump(meta, f)
    return bag


def test_a_humble_bag_without_definitions_is_copied_with_the_standard_ones(tmp_path, toy_onnx):
    bag = _as_humble_recorded(record(tmp_path / "humble", "sqlite3", {"/cam/bgr": "bgr8"}))
    assert {c[1].data for c in connections(bag).values()} == {""}
    model = ["--model", str(toy_onnx().path), "--source", f"bag://{bag}"]
    assert main(["run", *model, "--sink", f"bag://{tmp_path}/out"]) == 0
    copied = connections(tmp_path / "out")
    assert copied["/chatter"][1].data == STORE.generate_msgdef(STRING, ros_version=2)[0]
    assert messages(tmp_path / "out")["/chatter"] == messages(bag)["/chatter"]

    with Writer(tmp_path / "custom", version=9) as custom:  # a type no typestore knows
        conn = custom.add_connection("/acme", "acme_msgs/msg/Thing", msgdef="int32 x", rihs01="RIHS01_" + "0" * 64)
        custom.write(conn, T0, b"\x00\x01\x00\x00\x07\x00\x00\x00")
        image_type, image = _image_msg(np.zeros((4, 4, 3), np.uint8), "bgr8", 0)
        cam = custom.add_connection("/cam/bgr", image_type, typestore=STORE)
        custom.write(cam, T0, STORE.serialize_cdr(image, image_type))
    _as_humble_recorded(tmp_path / "custom")
    with pytest.raises(RainloopError, match="/acme .acme_msgs/msg/Thing. has no message definition"):
        with open_source(f"bag://{tmp_path}/custom") as source:
            sink = open_sink(f"bag://{tmp_path}/custom_out")
            sink.write(source.read(), source.frame_name(0))
    assert not (tmp_path / "custom_out").exists() and not list(tmp_path.glob(".custom_out.*"))


def test_a_bag_sink_writes_nothing_under_its_name_until_the_bag_is_whole(bags, tmp_path):
    out = tmp_path / "derained"
    with open_source(f"bag://{bags['mcap']}?topic=/cam/jpeg") as source:
        sink = open_sink(f"bag://{out}")
        for index in range(FRAMES):
            sink.write(source.read(), source.frame_name(index))
            assert not out.exists()
        sink.close()
    assert len(messages(out)["/cam/jpeg/derained"]) == FRAMES


def test_without_rosbags_a_bag_is_one_line_naming_the_extra(bags, tmp_path):
    # A process of its own, where importing rosbags fails as it does when it is not installed.
    code = ("import sys; sys.modules['rosbags'] = None; from rainloop.cli import main; "
            f"sys.exit(main(['run', '--source', 'bag://{bags['sqlite3']}', '--headless']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"rainloop run: error: bag://{bags['sqlite3']}: ROS 2 bags need rosbags, "
                                        "which the base install leaves out: pip install 'rainloop[ros]'"]
