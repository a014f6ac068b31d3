"""`rainloop export` and `rainloop quantize` from the command line: success output and one-line errors."""

from __future__ import annotations

import pytest
import torch

from rainloop.cli import main
from rainloop.export.card import read_card
from rainloop.export.samples import rainy_pairs
from rainloop.images import write_image
from rainloop.training.derainer_io import save_derainer
from rainloop.training.networks import build_derainer
from rainloop.training.presets import get_preset


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    spec = get_preset("tiny")["g1"]
    run = tmp_path_factory.mktemp("run")
    save_derainer(build_derainer(spec), spec, run / "g3.safetensors", {"preset": "tiny", "step": 7})
    return run


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    assert main(["export", str(run_dir / "g3.json"), "--out", str(out)]) == 0
    return out


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_export_prints_the_check_and_writes_model_and_card(run_dir, tmp_path, capsys):
    out = tmp_path / "m.fp16.onnx"
    assert main(["export", str(run_dir), "--out", str(out), "--precision", "fp16", "--io", "uint8"]) == 0
    printed = capsys.readouterr().out
    assert "parity" in printed and "ok" in printed and str(out) in printed
    card = read_card(out)
    assert (card["precision"], card["io"]) == ("fp16", "uint8")
    assert (tmp_path / "m.fp16.json").exists()


def test_quantize_writes_int8_beside_the_input(exported, tmp_path, capsys):
    calib = tmp_path / "calib"
    for i, (rainy, _) in enumerate(rainy_pairs((128, 72), 3, seed=1)):
        write_image(calib / f"{i}.jpg", rainy)
    assert main(["quantize", str(exported), "--calib", str(calib), "--n", "3", "--size", "96x54"]) == 0
    printed = capsys.readouterr().out
    assert "INT8 vs FP32" in printed
    card = read_card(exported.with_name("model.int8.onnx"))
    assert card["precision"] == "int8" and card["quantization"]["calibration"]["frames"] == 3


def test_parity_failure_exits_1_and_writes_nothing(run_dir, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    # PSNR is capped at 100 dB, so 200 dB can never hold.
    rc = main(["export", str(run_dir), "--out", str(out), "--precision", "fp16", "--min-psnr", "200"])
    assert rc == 1
    line = one_line_error(capsys)
    assert "parity check failed" in line and str(out) in line
    assert list(tmp_path.iterdir()) == []


def _text_file(folder):
    (folder / "notes.txt").write_text("hello")
    return folder / "notes.txt"


def _onnx_card(folder):
    (folder / "model.onnx").write_bytes(b"")
    (folder / "model.json").write_text("{}")
    return folder / "model.json"


@pytest.mark.parametrize("make_bad, expected", [
    (_text_file, "expected a run folder"),
    (lambda folder: folder, "no such derainer weights"),  # a folder without g3.safetensors
    (lambda folder: folder / "missing", "no such"),
    (_onnx_card, "a model card; pass the model it describes"),
])
def test_export_rejects_wrong_checkpoints(tmp_path, capsys, make_bad, expected):
    bad = make_bad(tmp_path)
    assert main(["export", str(bad), "--out", str(tmp_path / "m.onnx")]) == 2
    line = one_line_error(capsys)
    assert expected in line and str(bad) in line


@pytest.mark.parametrize("args, expected", [
    (["--out", "model.txt"], "must end in .onnx"),
    (["--out", "m.onnx", "--static", "wide"], "expected WIDTHxHEIGHT"),
    (["--out", "m.onnx", "--opset", "9"], "opset 9"),
])
def test_export_rejects_bad_options(run_dir, tmp_path, capsys, args, expected):
    args = [a if not a.endswith(("onnx", "txt")) else str(tmp_path / a) for a in args]
    assert main(["export", str(run_dir), *args]) == 2
    assert expected in one_line_error(capsys)


def test_quantize_rejects_corrupt_onnx(tmp_path, capsys):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    (tmp_path / "calib").mkdir()
    assert main(["quantize", str(bad), "--calib", str(tmp_path / "calib")]) == 2
    line = one_line_error(capsys)
    assert str(bad) in line and "not a valid ONNX model" in line


def test_quantize_rejects_empty_calibration_folder(exported, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["quantize", str(exported), "--calib", str(empty), "--out", str(tmp_path / "q.onnx")]) == 2
    line = one_line_error(capsys)
    assert str(empty) in line and "no images" in line
    assert not (tmp_path / "q.onnx").exists()
