"""Whole runs of the tiny preset on tiny crops: outputs, exact resume, simulated kills."""

import json

import pytest
import torch

from rainloop.errors import RainloopError
from rainloop.training import loop, runs
from rainloop.training.checkpoint import load_latest
from rainloop.training.derainer_io import load_derainer

OPTS = loop.Options(progress=False, tensorboard=False, ckpt_every=100, val_every=100)


@pytest.fixture(autouse=True)
def two_threads():
    torch.set_num_threads(2)


def config(steps=6, pretrain=2, val="none"):
    return runs.make_config("tiny", crop=32, batch=2, steps=steps, pretrain_steps=pretrain, seed=3, val=val)


def losses(run):
    return [{k: v for k, v in line.items() if k != "sec"} for line in loop.read_losses(run)]


def test_run_writes_config_log_checkpoints_and_a_loadable_g3(tmp_path):
    run = tmp_path / "run"
    runs.create_run(run, config(steps=3, pretrain=2, val="builtin"))
    summary = loop.train(run, loop.Options(progress=False, tensorboard=True, ckpt_every=2, val_every=2,
                                           command="rainloop train test"))
    assert summary["step"] == 3 and summary["stage"] == 2 and not summary["stopped"]
    assert [line["stage"] for line in loop.read_losses(run)] == [1, 1, 2]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000002.json", "step-00000002.safetensors", "step-00000003.json", "step-00000003.safetensors"]
    assert any((run / "tb").iterdir())
    net, card = load_derainer(run)
    assert card["stage"] == 2 and card["step"] == 3 and card["preset"] == "tiny" and card["seed"] == 3
    assert card["val_psnr"] > 5 and card["val_input_psnr"] > 5
    assert card["command"] == "rainloop train test" and card["machine"] and card["train_seconds"] >= 0
    assert "physics" in card["data"]["real"]
    y = net(torch.rand(1, 3, 20, 30))
    assert y.shape == (1, 3, 20, 30)
    saved = json.loads((run / "config.json").read_text())
    assert saved["g1"] == card["net"] and saved["steps"] == 3


def test_stage1_export_is_g1_marked_stage1(tmp_path):
    run = tmp_path / "run"
    runs.create_run(run, config(steps=4, pretrain=4))
    loop.train(run, OPTS, until=2)
    net, card = load_derainer(run)
    assert card["stage"] == 1 and card["step"] == 2
    tensors, _ = load_latest(run / "checkpoints")
    for k, v in net.net.state_dict().items():
        assert torch.equal(v, tensors[f"net.g1.{k}"])


def test_resumed_run_logs_exactly_the_same_losses(tmp_path):
    straight, split = tmp_path / "a", tmp_path / "b"
    for run in (straight, split):
        runs.create_run(run, config())
    loop.train(straight, OPTS)
    loop.train(split, OPTS, until=3)   # stops in stage 2 with full image pools to restore
    assert len(loop.read_losses(split)) == 3
    loop.train(split, OPTS)
    assert losses(split) == losses(straight)
    assert len(losses(straight)) == 6 and losses(straight)[-1]["stage"] == 2


def test_kill_before_newest_json_resumes_from_the_previous_checkpoint(tmp_path):
    straight, killed = tmp_path / "a", tmp_path / "b"
    for run in (straight, killed):
        runs.create_run(run, config())
    loop.train(straight, OPTS)
    loop.train(killed, loop.Options(progress=False, tensorboard=False, ckpt_every=2, val_every=100), until=4)
    (killed / "checkpoints" / "step-00000004.json").unlink()  # killed while saving step 4
    loop.train(killed, OPTS)
    assert losses(killed) == losses(straight)  # steps 2, 3 re-run identically, no duplicates


def test_resume_may_extend_steps_but_not_change_the_run(tmp_path):
    run = tmp_path / "run"
    runs.create_run(run, config(steps=2, pretrain=2))
    loop.train(run, OPTS)
    cfg = runs.resume_run(run, {"preset": "tiny", "steps": 3, "crop": 32, "seed": None})
    assert cfg["steps"] == 3
    assert loop.train(run, OPTS)["step"] == 3
    with pytest.raises(RainloopError, match="preset 'tiny'"):
        runs.resume_run(run, {"preset": "edge"})
    with pytest.raises(RainloopError, match="--crop 64 differs"):
        runs.resume_run(run, {"crop": 64})
    with pytest.raises(RainloopError, match="already exists"):
        runs.create_run(run, config())
