"""`rainloop train` end to end through rainloop.cli.main, and its one-line errors."""

import json

import pytest

from rainloop.cli import main
from rainloop.training.derainer_io import load_derainer

TINY = ["--config", "tiny", "--crop", "32", "--batch", "1", "--val", "none", "--threads", "2"]


def one_line_error(capsys, argv, *fragments):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rainloop train: error:")
    for f in fragments:
        assert f in err
    return err


def test_train_in_chunks_then_resume_with_more_steps(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--steps", "2", "--pretrain-steps", "1", "--until", "1"]) == 0
    assert load_derainer(run)[1]["step"] == 1
    out = capsys.readouterr().out
    assert "no validation set" in out and "--resume to continue" in out  # TINY runs with --val none
    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert load_derainer(run)[1]["step"] == 2
    assert "--resume to continue" not in capsys.readouterr().out
    one_line_error(capsys, [*TINY, "--out", str(run), "--steps", "3"], "already exists", "--resume")
    one_line_error(capsys, ["--config", "edge", "--out", str(run), "--resume", "--steps", "3"],
                   "--config edge sets", "a resumed run keeps its settings")
    assert main(["train", "--out", str(run), "--resume", "--steps", "3"]) == 0
    assert load_derainer(run)[1]["step"] == 3
    assert json.loads((run / "config.json").read_text())["steps"] == 3


@pytest.mark.parametrize("argv, fragments", [
    (["--syn", "{tmp}/nowhere"], ["--syn", "nowhere", "no such file"]),
    (["--real", "{tmp}/nowhere.mp4"], ["--real", "nowhere.mp4"]),
    (["--syn", "{tmp}/data"], ["data", "no known dataset layout"]),
    (["--real", "{tmp}/data"], ["data", "no images"]),
    (["--crop", "36"], ["crop 36", "multiple of 8"]),
    (["--steps", "0"], ["--steps must be at least 1"]),
    (["--until", "0"], ["--until must be at least 1"]),
    (["--sky", "1.5"], ["--sky 1.5", "between 0 and 1"]),
    (["--device", "tpu"], ["--device"]),
    (["--init", "{tmp}/nowhere.safetensors"], ["nowhere.safetensors", "no such derainer"]),
    (["--init", "default", "--pretrain-steps", "1"], ["pretrain_steps must be 0"]),
    (["--set", "g1.gate=false", "--dry-db", "39"], ["--dry-db", "no gate"]),
    (["--set", "g1.base=0"], ["g1", "no channels"]),
    (["--init", "default", "--config", "edge", "--set", "g1.base=24"], ["g1.base 24", "--init default has 32"]),
    (["--dry", "{tmp}/data"], ["data.dry", "--dry-db"]),
    (["--dry", "{tmp}/nowhere", "--dry-db", "40"], ["nowhere", "no such file"]),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, fragments):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("not an image")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    err = one_line_error(capsys, [*TINY, "--out", str(tmp_path / "run"), *argv], *fragments)
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing left that would block a corrected retry


def test_resume_of_nothing_and_missing_out(tmp_path, capsys):
    one_line_error(capsys, ["--out", str(tmp_path / "none"), "--resume"], "not a training run")
    one_line_error(capsys, TINY, "--out RUN is required")


def test_print_model_counts_parameters_and_flops_of_the_config_after_set(capsys):
    assert main(["train", "--print-model", "--config", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "G1/G3" in out and "GFLOP@1280x720" in out and "D_t/D_s/D_B" in out
    assert main(["train", "--print-model", "--config", "tiny", "--set", "g1.base=16"]) == 0
    wide = capsys.readouterr().out
    assert wide.startswith("preset tiny, g1.base=16")
    params = [float(o.splitlines()[2].split()[1]) for o in (wide, out)]
    assert params[0] > 3 * params[1]  # twice the channels, about four times the weights


def test_width_set_on_a_run_trains_fine_tunes_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--set", "g1.base=6", "--out", str(run), "--steps", "2", "--pretrain-steps", "1"]) == 0
    net, card = load_derainer(run)
    assert card["net"]["base"] == 6 and net.net.head[0].out_channels == 6
    capsys.readouterr()
    one_line_error(capsys, ["--out", str(run), "--resume", "--steps", "3", "--set", "g1.base=8"],
                   "--set g1.base=8 sets g1.base to 8, the run has 6")
    ft = tmp_path / "ft"  # a fine-tune takes its source's width without being told
    assert main(["train", *TINY, "--init", str(run), "--out", str(ft), "--steps", "1"]) == 0
    assert load_derainer(ft)[1]["net"]["base"] == 6


def test_dry_run_runs_both_stages(capsys):
    assert main(["train", *TINY, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("stage 1:") == 2 and out.count("stage 2:") == 2 and "OK" in out


def test_ctrl_c_with_workers_saves_the_step_reached_and_resumes(tmp_path):
    """Ctrl-C signals the whole process group, data workers included: the run must still save."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "rainloop", "train", *TINY, "--steps", "100000", "--pretrain-steps", "2",
           "--workers", "2", "--device", "cpu", "--ckpt-every", "100000", "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    log = run / "losses.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) >= 4):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped early" in out
    steps = len(log.read_text().splitlines())
    _, card = load_derainer(run)
    assert card["step"] == steps and card["stage"] == 2
    assert main(["train", "--out", str(run), "--resume", "--steps", str(steps + 2), "--threads", "2"]) == 0
    assert len(log.read_text().splitlines()) == steps + 2
