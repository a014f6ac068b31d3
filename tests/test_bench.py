"""`rainloop bench` and rainloop.runtime.bench on toy ONNX models (tiny sizes, few iterations)."""

import json

import cv2
import numpy as np
import pytest

from rainloop.cli import main
from rainloop.data import open_pairs
from rainloop.evaluate import evaluate
from rainloop.runtime import Derainer
from rainloop.runtime.bench import bench, format_table

SIZES = [(64, 48), (96, 64)]


@pytest.fixture
def paired_set(tmp_path):
    rng = np.random.default_rng(0)
    for folder in ("rainy", "clean"):
        (tmp_path / "set" / folder).mkdir(parents=True)
    for i in range(3):
        clean = rng.integers(40, 200, (40, 56, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / "set" / "clean" / f"{i}.png"), clean)
        cv2.imwrite(str(tmp_path / "set" / "rainy" / f"{i}.png"), np.clip(clean.astype(int) + 30, 0, 255).astype(np.uint8))
    return tmp_path / "set"


def test_rows_per_model_backend_and_size(toy_onnx, paired_set):
    models = [toy_onnx(io="float"), toy_onnx(io="uint8")]
    lines = []
    rows = bench([m.path for m in models], SIZES, warmup=1, iters=5, data=paired_set, log=lines.append)
    assert [(r["model"], r["size"]) for r in rows] == [(m.path.name, f"{w}x{h}") for m in models for w, h in SIZES]
    for row, (model, size) in zip(rows, [(m, s) for m in models for s in SIZES]):
        assert (row["backend"], row["precision"]) == ("onnxruntime/CPU", "fp32")
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["fps"] == pytest.approx(1000 / row["mean_ms"])
        assert row["pipeline_fps"] > 0
        assert row["overhead_pct"] == pytest.approx(100 * (1 - row["pipeline_fps"] / row["fps"]))
        assert row["psnr"] == pytest.approx(evaluate(open_pairs(paired_set), Derainer(model.path, size=size))["psnr"])
    assert "p99 ms" in lines[0] and "pipeline FPS" in lines[0] and "overhead %" in lines[0]
    assert len(lines) == 4 and all("onnxruntime/CPU" in line for line in lines)


def test_table_leaves_out_columns_nobody_measured():
    row = {"model": "m.onnx", "backend": "onnxruntime/CPU", "precision": "fp16", "size": "64x48",
           "mean_ms": 2.0, "p50_ms": 1.9, "p99_ms": 3.5, "fps": 500.0}
    header, line = format_table([row]).splitlines()
    assert "PSNR" not in header and "pipeline" not in header
    assert line.split() == ["m.onnx", "onnxruntime/CPU", "fp16", "64x48", "2.00", "1.90", "3.50", "500.0"]


def test_cli_table_and_json(toy_onnx, tmp_path, capsys):
    toy = toy_onnx()
    out = tmp_path / "report" / "bench.json"
    rc = main(["bench", "--model", str(toy.path), "--sizes", "64x48", "--warmup", "1", "--iters", "3",
               "--no-pipeline", "--providers", "cpu", "--json", str(out)])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "mean ms" in stdout and toy.path.name in stdout
    report = json.loads(out.read_text())
    [row] = report["rows"]
    assert row["size"] == "64x48" and "pipeline_fps" not in row
    assert report["settings"]["iters"] == 3 and "CPUExecutionProvider" in report["system"]["providers_available"]
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]  # atomic: no temp file left


@pytest.mark.parametrize("args, named", [(["--model", "nope.onnx"], "nope.onnx"),
                                         (["--sizes", "64by48"], "64by48"),
                                         (["--iters", "0"], "--iters"),
                                         (["--providers", "warp"], "warp")])
def test_cli_bad_input_exits_2(toy_onnx, capsys, args, named):
    argv = ["bench", "--model", str(toy_onnx().path), "--no-pipeline", "--iters", "2", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err


def test_a_static_graph_is_benched_at_its_own_size_only(identity_onnx, capsys):
    static = str(identity_onnx([1, 3, 24, 32]))
    assert main(["bench", "--model", static, "--sizes", "32x24", "--no-pipeline", "--iters", "2", "--warmup", "1"]) == 0
    assert "32x24" in capsys.readouterr().out
    assert main(["bench", "--model", static, "--sizes", "64x48", "--no-pipeline", "--iters", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bench it at --sizes 32x24" in err
