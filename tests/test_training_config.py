"""Config-file training: the packaged presets, a user's TOML over one, --set, what lands in config.json,
resuming, and one-line errors for every bad input."""

import json

import pytest

from rainloop.cli import build_parser, main
from rainloop.errors import RainloopError
from rainloop.training import loop, runs
from rainloop.training.derainer_io import load_derainer, read_card
from rainloop.training.model_summary import summarize
from rainloop.training.presets import CONFIGS, PRESETS, RECORDS, flat, get_preset, load_config

RUN = ["--crop", "32", "--batch", "2", "--val", "none", "--threads", "2"]


def one_line_error(capsys, argv, *fragments):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("rainloop train: error:"), err
    for f in fragments:
        assert f in err, err
    return err


def settings(cfg):
    """A config's fields, without what says where it came from."""
    return {k: v for k, v in flat(cfg).items() if k.split(".")[0] not in RECORDS}


@pytest.mark.parametrize("name", PRESETS)
def test_every_packaged_preset_is_a_complete_config_that_builds(name):
    text = (CONFIGS / f"{name}.toml").read_text()
    assert text.startswith(f"# {name}: ")  # each file says what it is for
    cfg = runs.make_config(name, val="none")  # builds every network and checks the whole
    assert cfg["preset"] == name and cfg["format"] == runs.FORMAT and cfg["batch_scope"] == "global"
    assert cfg["pretrain_steps"] == cfg["steps"] // 2 and cfg["stage1_gate"] is True
    assert ("gate" in cfg["loss"]) == bool(cfg["g1"].get("gate"))  # a gated derainer learns its gate
    assert cfg["data"]["dry"] is None and cfg["data"]["dry_sizes"] is None  # as config.json has always held them


def test_the_presets_keep_their_roles():
    derainer = {name: summarize(runs.make_config(name, val="none"))[0] for name in PRESETS}
    edge, fullres = (derainer[n]["gflops"]["1280x720"] for n in ("edge", "edge-fullres"))
    assert edge < 14 < 3 * edge < fullres  # real time on a Jetson; full resolution costs about 4x
    assert max(derainer, key=lambda n: derainer[n]["params"]) == "paper"
    assert min(derainer, key=lambda n: derainer[n]["params"]) == "tiny"
    same = [{k: v for k, v in get_preset(n).items() if k not in ("g1", "preset")} for n in ("edge", "edge-fullres")]
    assert same[0] == same[1]  # edge-fullres differs from edge in its derainer alone


def test_a_users_toml_over_tiny_trains_and_its_run_folder_keeps_the_overrides(tmp_path, capsys):
    mine = tmp_path / "mine.toml"
    mine.write_text('base = "tiny"\nlr = 1e-4\nsteps = 2\n\n[g1]\nbase = 6\n\n[loss]\nidentity = 20\n')
    run = tmp_path / "run"
    command = ["train", "--config", str(mine), *RUN, "--set", "data.sky=0.5", "--set", "seed=4",
               "--set", "batch=4", "--pretrain-steps", "1", "--out", str(run)]
    assert main(command) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "tiny" and saved["config"] == str(mine)
    assert saved["lr"] == 1e-4 and saved["g1"]["base"] == 6 and saved["loss"]["identity"] == 20.0
    assert saved["data"]["sky"] == 0.5 and saved["seed"] == 4 and saved["steps"] == 2
    assert saved["batch"] == 2  # --batch wins over --set batch=4
    assert saved["loss"]["cycle"] == get_preset("tiny")["loss"]["cycle"]  # tables merge, field by field
    assert load_derainer(run)[0].net.head[0].out_channels == 6
    stage2 = [line for line in loop.read_losses(run) if line["stage"] == 2]
    assert len(stage2) == 1 and stage2[0]["idt"] > 0  # the identity weight reached the loss
    capsys.readouterr()
    one_line_error(capsys, ["--out", str(run), "--resume", "--set", "loss.identity=5", "--steps", "3"],
                   "--set loss.identity=5 sets loss.identity to 5.0, the run has 20.0", "only --steps")
    assert main([*command, "--resume", "--steps", "3"]) == 0  # the same command resumes it
    assert load_derainer(run)[1]["step"] == 3

    again = runs.make_config(str(run), ["data.sky=0.25"])  # a run folder's settings, for a new run
    assert again["config"] == str(run) and again["data"]["sky"] == 0.25
    assert {**settings(saved), "steps": 3, "data.sky": 0.25} == settings(again)


def test_the_common_options_win_over_set_and_set_over_the_config():
    cfg = runs.make_config("tiny", ["crop=64", "batch=4", "data.val=builtin", "lr=1"], crop=32, batch=2, val="none")
    assert (cfg["crop"], cfg["batch"], cfg["data"]["val"]) == (32, 2, "none")
    assert cfg["load"] == round(32 * get_preset("tiny")["load"] / 64)  # --crop keeps the load/crop ratio
    assert cfg["lr"] == 1.0 and type(cfg["lr"]) is float  # an integer where a number goes


def test_base_files_chain_relative_to_each_other_and_a_new_derainer_type_starts_its_own_table(tmp_path):
    (tmp_path / "team.toml").write_text('base = "edge"\n[loss]\nidentity = 20\n[data]\nsky = 0.5\n')
    (tmp_path / "sub").mkdir()
    mine = tmp_path / "sub" / "mine.toml"
    mine.write_text('base = "../team.toml"\n[g1]\ntype = "edge_unet"\nlevels = 3\n')
    cfg, stated = load_config(str(mine))
    edge = get_preset("edge")
    assert cfg["preset"] == "edge" and cfg["loss"] == {**edge["loss"], "identity": 20.0} and cfg["data"]["sky"] == 0.5
    assert cfg["g1"] == {"type": "edge_unet", "levels": 3}  # not edge's shuffle options
    assert stated == {"loss.identity", "data.sky", "g1.type", "g1.levels"}
    runs.make_config(str(mine), val="none")  # and it builds


def test_a_file_without_base_gives_every_field(tmp_path):
    full = tmp_path / "full.toml"
    full.write_text((CONFIGS / "tiny.toml").read_text())
    assert settings(load_config(str(full))[0]) == settings(get_preset("tiny"))
    full.write_text((CONFIGS / "tiny.toml").read_text().replace("lr = 2e-4\n", ""))
    with pytest.raises(RainloopError, match=f"{full}: lr is missing"):
        load_config(str(full))


def _bad_configs(tmp_path):
    def toml(name, text):
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)

    toml("b.toml", 'base = "a.toml"\n')
    return [
        (["--config", toml("typo.toml", 'base = "tiny"\n[g1]\nwidht = 48\n')], ["typo.toml: unknown key g1.widht"]),
        (["--config", toml("shuffle.toml", 'base = "edge"\n[g1]\nnorm = "instance"\n')],
         ["shuffle.toml: unknown key g1.norm"]),  # a field of another derainer type
        (["--config", toml("type.toml", 'base = "tiny"\nlr = "fast"\n')],
         ["type.toml: lr must be a number, not 'fast'"]),
        (["--config", toml("syntax.toml", 'base = "tiny"\nlr =\n')], ["syntax.toml: not valid TOML", "line 2"]),
        (["--config", str(tmp_path / "nowhere.toml")], ["nowhere.toml: no such preset or config file"]),
        (["--config", "huge"], ["huge: no such preset", ", ".join(PRESETS)]),
        (["--config", toml("base.toml", 'base = "hugh"\n')], ["base.toml: base 'hugh' is neither a preset"]),
        (["--config", toml("a.toml", 'base = "b.toml"\n')], ["comes back to it"]),
        (["--config", toml("old.toml", 'base = "tiny"\n[g2]\nbackground = true\n')],
         ["old.toml: g2.background = true is not a setting of new runs"]),
        (["--set", "g1.widht=48"], ["--set g1.widht=48: unknown key g1.widht"]),
        (["--set", "lrr=1"], ["unknown key lrr"]),
        (["--set", "g1.gate=3"], ["--set g1.gate=3: g1.gate must be true or false, not 3"]),
        (["--set", "steps=2.5"], ["steps must be an integer"]),
        (["--set", "g1.tone=true"], ["g1.tone = true is not a setting of new runs"]),
        (["--set", "detach_real_loop=true"], ["detach_real_loop = true is not a setting of new runs"]),
        (["--set", "lr"], ["--set lr: expected KEY=VALUE"]),
        (["--set", "g1.type=resnet"], ["g1.type 'resnet': choose one of"]),
    ]


def test_bad_configs_and_sets_are_one_line_naming_the_file_or_key(tmp_path, capsys):
    for argv, fragments in _bad_configs(tmp_path):
        err = one_line_error(capsys, [*argv, *RUN, "--out", str(tmp_path / "run")], *fragments)
        assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_help_keeps_the_common_options_only():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    options = {o for a in sub._actions for o in a.option_strings if o.startswith("--")}
    assert len([a for a in sub._actions if a.option_strings]) <= 30
    assert {"--config", "--set", "--out", "--resume", "--steps", "--init", "--dry-db", "--print-model"} <= options
    assert not options & {"--preset", "--tone", "--veil", "--dark", "--translator-background", "--detach-real-loop",
                          "--stage1-gate", "--lambda-idt", "--lr", "--width"}
    assert "--set g1.base=48" in sub.epilog and "--config" in sub.epilog


def test_an_old_run_folder_resumes_but_not_one_with_a_detached_real_loop(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "tiny", *RUN, "--steps", "2", "--pretrain-steps", "1", "--until", "1",
                 "--out", str(run)]) == 0
    path = run / "config.json"
    cfg = json.loads(path.read_text())
    for key in ("stage1_gate", "dry_stat", "batch_scope"):  # as config.json was written before these
        del cfg[key]
    for key in ("syn_style", "real_mix", "sky", "dry_sizes"):
        del cfg["data"][key]
    path.write_text(json.dumps({**cfg, "detach_real_loop": False}))
    assert main(["train", "--out", str(run), "--resume", "--threads", "2"]) == 0
    assert load_derainer(run)[1]["step"] == 2
    capsys.readouterr()
    one_line_error(capsys, ["--out", str(run), "--resume", "--config", "tiny"],
                   "--config tiny sets")  # the preset now differs from what that run trained with
    path.write_text(json.dumps({**cfg, "detach_real_loop": True}))
    one_line_error(capsys, ["--out", str(run), "--resume", "--steps", "3"],
                   "detached real loop", "no longer supported", f"--init {run}")


def test_the_bundled_derainer_fine_tunes_as_init(tmp_path):
    run = tmp_path / "ft"
    assert main(["train", "--config", "edge", "--init", "default", "--crop", "32", "--batch", "1", "--val", "none",
                 "--threads", "2", "--steps", "1", "--out", str(run)]) == 0
    card = load_derainer(run)[1]
    assert card["stage"] == 2 and card["init"]["source"] == "default"
    assert card["net"] == read_card(runs.init_path("default"))["net"]
