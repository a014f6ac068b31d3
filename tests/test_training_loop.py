"""Whole runs of the tiny preset on tiny crops: outputs, exact resume, simulated kills."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rainloop.errors import RainloopError
from rainloop.training import loop, runs
from rainloop.training.checkpoint import load_latest
from rainloop.training.derainer_io import load_derainer
from rainloop.training.jrgr import JRGR
from rainloop.training.networks import RainGate
from rainloop.training.warm_start import warm_start

OPTS = loop.Options(progress=False, tensorboard=False, ckpt_every=100, val_every=100)


@pytest.fixture(autouse=True)
def two_threads():
    torch.set_num_threads(2)


def config(steps=6, pretrain=2, val="none"):
    return runs.make_config("tiny", crop=32, batch=2, steps=steps, pretrain_steps=pretrain, seed=3, val=val)


DRY_SIZES = "96x64,200x120"  # small stand-ins for the built-in 320x240..1280x720; 200x120 needs padding


def gated(cfg, dry_db=45.0):
    """cfg with --dry-db, judged on built-in dry crops at DRY_SIZES."""
    return {**cfg, "dry_db": dry_db, "data": {**cfg["data"], "dry_sizes": DRY_SIZES}}


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
    assert card["val_psnr"] > 5 and card["val_input_psnr"] > 5 and 5 < card["val_dry_psnr"] <= 100
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


def test_worker_processes_drawing_ahead_change_nothing_learned(tmp_path):
    inline, ahead = tmp_path / "a", tmp_path / "b"
    for run in (inline, ahead):
        runs.create_run(run, config())
    loop.train(inline, OPTS)
    loop.train(ahead, replace(OPTS, workers=2))
    assert losses(ahead) == losses(inline)
    assert len(losses(ahead)) == 6 and losses(ahead)[-1]["stage"] == 2


def test_kill_before_newest_json_resumes_from_the_previous_checkpoint(tmp_path):
    straight, killed = tmp_path / "a", tmp_path / "b"
    for run in (straight, killed):
        runs.create_run(run, config())
    loop.train(straight, OPTS)
    loop.train(killed, loop.Options(progress=False, tensorboard=False, ckpt_every=2, val_every=100), until=4)
    (killed / "checkpoints" / "step-00000004.json").unlink()  # killed while saving step 4
    loop.train(killed, OPTS)
    assert losses(killed) == losses(straight)  # steps 2, 3 re-run identically, no duplicates


def test_load_latest_reads_a_chosen_step_or_none(tmp_path):
    run = tmp_path / "run"
    runs.create_run(run, config())
    loop.train(run, loop.Options(progress=False, tensorboard=False, ckpt_every=2, val_every=100), until=4)
    assert load_latest(run / "checkpoints")[1]["step"] == 4
    assert load_latest(run / "checkpoints", 2)[1]["step"] == 2
    assert load_latest(run / "checkpoints", 3) is None


def test_resume_may_extend_steps_but_not_change_the_run(tmp_path):
    run = tmp_path / "run"
    runs.create_run(run, config(steps=2, pretrain=2))
    loop.train(run, OPTS)
    # the command that started it, with a larger --steps
    cfg = runs.resume_run(run, "tiny", steps=3, crop=32, batch=2, seed=3, pretrain_steps=2, val="none")
    assert cfg["steps"] == 3
    assert loop.train(run, OPTS)["step"] == 3
    with pytest.raises(RainloopError, match="--config edge sets lr_pretrain to 0.0003, the run has 0.002"):
        runs.resume_run(run, "edge")
    with pytest.raises(RainloopError, match="--crop 64 sets crop to 64, the run has 32"):
        runs.resume_run(run, crop=64)
    with pytest.raises(RainloopError, match="--set loss.identity=5 sets loss.identity to 5.0, the run has 0.0"):
        runs.resume_run(run, sets=["loss.identity=5"])
    with pytest.raises(RainloopError, match="already exists"):
        runs.create_run(run, config())


def _net_state(tensors, name):
    return {k[len(name) + 5:]: v for k, v in tensors.items() if k.startswith(f"net.{name}.")}


def test_init_from_a_run_starts_stage2_with_all_its_networks(tmp_path):
    src = tmp_path / "src"
    runs.create_run(src, config(steps=3, pretrain=2))
    loop.train(src, OPTS)
    trained, _ = load_latest(src / "checkpoints")
    cfg = runs.make_config("tiny", crop=32, batch=2, steps=1, seed=4, val="none", init=str(src))
    model = JRGR(cfg)
    warm_start(model, str(src))
    assert model.g3_ready and model.stage(0) == 2
    for name in ("g1", "g2", "g3", "g4", "d_t"):
        for k, v in getattr(model.nets, name).state_dict().items():
            assert torch.equal(v, trained[f"net.{name}.{k}"]), (name, k)
    assert not any(p.requires_grad for p in model.nets.g1.parameters())
    ft = tmp_path / "ft"
    loop.train(ft, OPTS, new=cfg)
    (line,) = loop.read_losses(ft)
    assert line["stage"] == 2 and line["gate"] > 0  # the tiny preset's gate term is on
    tuned, info = load_latest(ft / "checkpoints")
    assert info["g3_ready"] and not any(k.startswith("opt.pre.") for k in tuned)
    for k, v in _net_state(trained, "g1").items():  # G1 stays frozen
        assert torch.equal(tuned[f"net.g1.{k}"], v)


def test_init_from_a_derainer_loads_it_into_g1_and_g3(tmp_path):
    src = tmp_path / "src"
    runs.create_run(src, config(steps=3, pretrain=2))
    loop.train(src, OPTS)
    derainer, _ = load_derainer(src / "g3.safetensors")
    ft = tmp_path / "ft"
    loop.train(ft, OPTS, new=runs.make_config("tiny", crop=32, batch=2, steps=1, seed=4, val="none",
                                              init=str(src / "g3.safetensors")))
    tuned, _ = load_latest(ft / "checkpoints")
    for k, v in derainer.net.state_dict().items():
        assert torch.equal(tuned[f"net.g1.{k}"], v)
    card = load_derainer(ft)[1]  # the card tells where the weights came from
    assert card["step"] == 1 and card["init"]["source"] == str(src / "g3.safetensors")
    assert card["init"]["step"] == 3 and card["init"]["seed"] == 3


def test_init_takes_its_sources_networks_and_refuses_stage1_runs_other_sizes_and_pretraining(tmp_path):
    src = tmp_path / "src"
    runs.create_run(src, config(steps=2, pretrain=2))
    loop.train(src, OPTS)
    taken = runs.make_config("edge", crop=32, batch=2, steps=1, init=str(src))
    assert all(taken[k] == runs.read_config(src)[k] for k in ("g1", "g2", "d"))  # the weights fix them
    with pytest.raises(RainloopError, match="no stage-2 checkpoint"):
        loop.train(tmp_path / "a", OPTS, new=runs.make_config("tiny", crop=32, batch=2, steps=1, init=str(src)))
    with pytest.raises(RainloopError, match="g2.blocks 9: --init .* has 2, and its weights fit only that"):
        runs.make_config("tiny", ["g2.blocks=9"], init=str(src))
    with pytest.raises(RainloopError, match="pretrain_steps must be 0"):
        runs.make_config("tiny", steps=4, pretrain_steps=2, init=str(src))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_init_names_what_is_wrong_with_a_damaged_run(tmp_path):
    src = tmp_path / "src"
    runs.create_run(src, config(steps=3, pretrain=2))
    loop.train(src, OPTS)
    weights = sorted((src / "checkpoints").glob("step-*.safetensors"))[-1]
    tensors = load_file(str(weights))
    key = next(k for k in tensors if k.startswith("net.g3.") and k.endswith(".weight"))
    cfg = runs.make_config("tiny", crop=32, batch=2, steps=1, init=str(src))
    save_file({k: v for k, v in tensors.items() if k != key}, str(weights))
    with pytest.raises(RainloopError, match=r"do not match this network \(1 missing, 0 unexpected"):
        warm_start(JRGR(cfg), str(src))
    save_file({**tensors, key: tensors[key][:1]}, str(weights))
    with pytest.raises(RainloopError, match="do not fit this network"):
        warm_start(JRGR(cfg), str(src))


def test_runs_from_before_real_mix_and_syn_style_resume_as_they_were_trained(tmp_path):
    run = tmp_path / "run"
    cfg = config(steps=1, pretrain=1)
    del cfg["data"]["real_mix"], cfg["data"]["syn_style"]
    runs.create_run(run, cfg)
    assert runs.read_config(run)["data"]["real_mix"] == "rain"
    assert runs.read_config(run)["data"]["syn_style"] == "streak"
    assert config()["data"]["real_mix"] == "default"


def test_streak_fog_pairs_reach_the_training_loop(tmp_path):
    run = tmp_path / "run"
    loop.train(run, OPTS, new=runs.make_config("tiny", crop=32, batch=2, steps=1, pretrain_steps=1, seed=3,
                                               val="none", syn_style="streak-fog"))
    _, card = load_derainer(run)
    assert "streak-fog rain" in card["data"]["syn"]


def test_init_adds_an_open_rain_gate_to_an_ungated_run_but_never_drops_one(tmp_path):
    plain = tmp_path / "plain"
    runs.create_run(plain, runs.make_config("tiny", ["g1.gate=false"], crop=32, batch=2, steps=3, pretrain_steps=2,
                                            seed=3, val="none"))
    loop.train(plain, OPTS)
    gated = JRGR(runs.make_config("tiny", crop=32, batch=2, steps=1, init=str(plain)))
    warm_start(gated, str(plain))
    x = torch.rand(1, 3, 32, 32)
    trained, _ = load_latest(plain / "checkpoints")
    ungated = JRGR(runs.read_config(plain)).nets.g3
    ungated.load_state_dict(_net_state(trained, "g3"))
    with torch.no_grad():  # the open gate (sigmoid(4)) keeps 98% of the trained rain layer
        expected = x - torch.sigmoid(torch.tensor(RainGate.OPEN)) * (x - ungated(x))
        assert torch.allclose(gated.nets.g3(x), expected, atol=1e-5)
    with pytest.raises(RainloopError, match="g1.gate False: --init default has True"):  # the bundle is gated
        loop.train(tmp_path / "back", OPTS, new=runs.make_config("edge", ["g1.gate=false"], crop=32, batch=2, steps=1,
                                                                 init="default"))
    assert not (tmp_path / "back").exists()


def test_dry_db_shifts_the_exported_gate_until_dry_frames_pass(tmp_path):
    from rainloop.metrics import psnr
    from rainloop.training.batches import to_image, to_tensor
    from rainloop.sizes import parse_sizes
    from rainloop.training.gate_calibration import dry_crops

    plain, calibrated = tmp_path / "a", tmp_path / "b"
    runs.create_run(plain, config(steps=3, pretrain=2))
    runs.create_run(calibrated, gated(config(steps=3, pretrain=2)))
    for run in (plain, calibrated):
        loop.train(run, OPTS)
    assert losses(plain) == losses(calibrated)  # the setting changes the export, not the training
    sizes = parse_sizes(DRY_SIZES)
    images = dry_crops(sizes=sizes)  # the calibration set itself: the real forward must agree with the search

    def dry_db(run):  # a new run's --dry-db holds for 95 in 100 dry frames, at every size
        net, _ = load_derainer(run)
        with torch.no_grad():
            scores = [psnr(to_image(net(to_tensor([x]))[0]), x) for x in images]
        n = len(scores) // len(sizes)
        return min(np.percentile(scores[i:i + n], 5) for i in range(0, len(scores), n))

    record = load_derainer(calibrated)[1]["gate_calibration"]
    assert record["dry_db_target"] == 45.0 and record["statistic"] == "p5" and record["logit_shift"] > 0
    assert record["dry_psnr_before"] < 45.0 <= record["dry_psnr_after"]
    assert "gate_calibration" not in load_derainer(plain)[1]
    assert dry_db(plain) == pytest.approx(record["dry_psnr_before"], abs=0.01)
    assert dry_db(calibrated) == pytest.approx(record["dry_psnr_after"], abs=0.01)
    weights = {run: load_derainer(run)[0].net.state_dict() for run in (plain, calibrated)}
    changed = [k for k in weights[plain] if not torch.equal(weights[plain][k], weights[calibrated][k])]
    assert changed == ["gate.2.bias"]


def test_a_run_from_before_dry_stat_keeps_the_mean_it_was_started_with(tmp_path):
    cfg = {**config(steps=3, pretrain=2), "dry_db": 45.0}
    del cfg["dry_stat"], cfg["data"]["dry_sizes"]  # as config.json was written before --dry-stat
    runs.create_run(tmp_path / "old", cfg)
    loop.train(tmp_path / "old", OPTS)
    record = load_derainer(tmp_path / "old")[1]["gate_calibration"]
    assert record["statistic"] == "mean" and record["by_size"].keys() == {"320x240"}  # and the one size then


def test_gate_opens_when_dry_frames_have_room_to_spare(tmp_path):
    import copy

    from rainloop.training.gate_calibration import calibrate, dry_set

    run = tmp_path / "run"
    runs.create_run(run, config(steps=3, pretrain=2))
    loop.train(run, OPTS)
    net = load_derainer(run)[0].net
    dry = dry_set(sizes=DRY_SIZES)
    shut = calibrate(copy.deepcopy(net), 200.0, dry)  # unreachable: shut as far as it goes, no further
    assert shut["logit_shift"] == 8.0 and shut["dry_psnr_after"] > shut["dry_psnr_before"]
    start = shut["dry_psnr_before"]
    opened = calibrate(copy.deepcopy(net), start - 3, dry)
    assert opened["logit_shift"] < 0 and start - 3 <= opened["dry_psnr_after"] < start
    closed = calibrate(copy.deepcopy(net), start + 3, dry)
    assert closed["logit_shift"] > 0 and closed["dry_psnr_after"] >= start + 3


def test_calibration_scales_the_frame_tone_with_the_rest_of_the_rain_layer():
    from rainloop.metrics import psnr
    from rainloop.training.batches import to_image, to_tensor
    from rainloop.training.gate_calibration import calibrate, dry_set
    from rainloop.training.networks import EdgeUNet

    torch.manual_seed(0)
    net = EdgeUNet(levels=3, base=8, max_mult=4, blocks=1, gate=True, tone=True)
    torch.nn.init.normal_(net.tone[-1].weight, std=0.05)  # a tone that changes frames
    images, described = dry_set(sizes="96x64")
    images = images[:16]
    record = calibrate(net, 35.0, (images, described), stat="mean")
    with torch.no_grad():
        real = sum(psnr(to_image(net(to_tensor([x]))[0]), x) for x in images) / len(images)
    assert real == pytest.approx(record["dry_psnr_after"], abs=0.01)


def test_dry_db_on_a_cameras_own_dry_footage(tmp_path):
    from rainloop import builtin
    from rainloop.images import write_image

    footage = tmp_path / "dry"
    footage.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(footage / f"{i}.png", builtin.random_crop(rng, (200, 120), split="test"))
    run = tmp_path / "run"
    cfg = runs.make_config("tiny", crop=32, batch=2, steps=3, pretrain_steps=2, seed=3, val="none",
                           dry=str(footage), dry_db=45.0)
    runs.create_run(run, cfg)
    loop.train(run, OPTS)
    record = load_derainer(run)[1]["gate_calibration"]
    assert record["frames"] == f"3 frames of {footage}, at their own size" and record["by_size"].keys() == {"200x120"}
    assert record["dry_psnr_after"] >= 45.0


def _tiny_source(tmp_path, **switches):
    from rainloop.training.derainer_io import save_derainer
    from rainloop.training.networks import build_derainer
    from rainloop.training.presets import get_preset

    spec = {**get_preset("tiny")["g1"], **switches}
    torch.manual_seed(0)
    source = build_derainer(spec)
    for head in ("tone", "veil"):  # a head that changes frames, so "starts as its source" means something
        if switches.get(head):
            torch.nn.init.normal_(getattr(source, head).weight if head == "veil" else source.tone[-1].weight, std=0.05)
    save_derainer(source, spec, tmp_path / "src" / "g3.safetensors", {"preset": "tiny"})
    return source, str(tmp_path / "src" / "g3.safetensors")


@pytest.mark.parametrize("part", ["tone", "veil", "dark"])
def test_a_fine_tune_keeps_the_heads_and_inputs_of_its_source_and_starts_as_it(tmp_path, part):
    """Derainers built with a frame tone, a veil gain or the dark channel input (no setting of new
    runs) still fine-tune: the new run takes them from its --init source."""
    source, init = _tiny_source(tmp_path, **{part: True})
    cfg = runs.make_config("tiny", crop=32, batch=2, steps=1, val="none", init=init)
    assert cfg["g1"][part] is True
    model = JRGR(cfg)
    warm_start(model, init)
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        assert torch.equal(model.nets.g3(x), source(x))
