"""Training in two CPU processes with gloo, started by torchrun as a user starts them: one run
folder, resumes on two processes or one, every step as one process takes it on the global
batch, and one-line errors."""

import shutil
import socket
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
import torch

from rainloop.cli import main
from rainloop.errors import RainloopError
from rainloop.training import distributed, loop, runs
from rainloop.training.batches import StepBatches, open_real, open_synthetic, step_rngs
from rainloop.training.checkpoint import load_latest
from rainloop.training.distributed import World
from rainloop.training.jrgr import JRGR

TINY = ["--config", "tiny", "--crop", "32", "--val", "none", "--threads", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*argv) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node 2 -m rainloop train --device cpu ARGV`."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(free_port()), "-m", "rainloop", "train", "--device", "cpu", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def rainloop_errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("rainloop train: error:")]


def global_batch(cfg: dict, step: int) -> dict[str, torch.Tensor]:
    """Step `step`'s batch as the two ranks drew it, rank 0's share first (DDP's rank order)."""
    data = cfg["data"]
    syn = open_synthetic(data["syn"], cfg["load"], data["rain_mix"], data["syn_style"], data["sky"])
    real = open_real(data["real"], cfg["load"], data["every"], data["real_mix"], data["sky"])
    shares = [StepBatches(syn, real, cfg["seed"], cfg["batch"] // 2, cfg["crop"], cfg["pretrain_steps"], rank, 2)[step]
              for rank in (0, 1)]
    assert not torch.equal(shares[0]["O_s"], shares[1]["O_s"])  # each rank its own crops
    return {k: torch.cat([share[k] for share in shares]) for k in shares[0]}


def assert_same_step(ref: JRGR, terms: dict, logged: dict, saved: dict[str, torch.Tensor]) -> None:
    """`ref` (one process, the global batch) after a step, against what the two processes logged
    and saved after the same step from the same state."""
    assert terms == pytest.approx({k: v for k, v in logged.items() if k not in ("step", "stage", "sec")}, rel=1e-5)
    mine = ref.state()[0]
    for key in (k for k in mine if k.startswith("pool.")):
        torch.testing.assert_close(mine[key], saved[key], rtol=0, atol=1e-5)
    # Adam's moments hold the gradient averaged over the ranks: the global batch's, to float precision
    # of the largest (where it is ~0, as for a bias before instance norm, only float noise is left).
    moments = [k for k in mine if k.startswith("opt.") and k.rsplit(".", 1)[1] in ("exp_avg", "exp_avg_sq")]
    assert moments
    for kind in {(k.split(".")[1], k.rsplit(".", 1)[1]) for k in moments}:
        same = [k for k in moments if (k.split(".")[1], k.rsplit(".", 1)[1]) == kind]
        scale = max(mine[k].abs().max() for k in same)
        for key in same:
            torch.testing.assert_close(mine[key], saved[key], rtol=1e-4, atol=1e-5 * scale)
    # Adam's first steps move a weight by about lr * sign(gradient): the weights agree wherever
    # that sign is not decided by float noise.
    names = {id(p): name for name, p in ref.nets.named_parameters()}
    clear = {}
    for opt in (ref.opt_pre, ref.opt_g, ref.opt_d):
        if opt.state:
            scale = max(s["exp_avg"].abs().max() for s in opt.state.values())
            clear.update({names[id(p)]: s["exp_avg"].abs() > 1e-4 * scale for p, s in opt.state.items()})
    for name, p in ref.nets.named_parameters():
        mask = clear.get(name, torch.ones_like(p, dtype=torch.bool))
        torch.testing.assert_close(p.detach()[mask], saved[f"net.{name}"][mask], rtol=0, atol=1e-5)


def test_two_processes_train_resume_and_step_as_one_process_on_the_global_batch(tmp_path):
    run = tmp_path / "run"
    first = torchrun(*TINY, "--batch", "4", "--steps", "4", "--pretrain-steps", "1", "--until", "2",
                     "--ckpt-every", "1", "--out", str(run))
    assert first.returncode == 0, first.stderr
    assert "2 processes (gloo), global batch 4 = 2 per process" in first.stdout
    assert first.stdout.count(f"{run}: step 2 (stage 2)") == 1  # rank 0 alone reports
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.json", "g3.json", "g3.safetensors",
                                                    "losses.jsonl", "tb"]
    cfg = runs.read_config(run)
    assert cfg["batch"] == 4 and cfg["batch_scope"] == "global"
    saved = {step: load_latest(run / "checkpoints", step) for step in (1, 2)}  # the resume prunes them
    assert saved[2][1]["processes"] == 2

    second = torchrun("--out", str(run), "--resume", "--ckpt-every", "1", "--threads", "1")
    assert second.returncode == 0, second.stderr
    saved.update({step: load_latest(run / "checkpoints", step) for step in (3, 4)})
    assert not list(run.rglob(".*"))  # no temp file left by any rank
    logged = loop.read_losses(run)
    assert [(line["step"], line["stage"]) for line in logged] == [(0, 1), (1, 2), (2, 2), (3, 2)]
    for step in range(4):  # from the same state (fresh at step 0), one process on the concatenated shares
        ref = JRGR(cfg)
        if step:
            ref.load_state(*saved[step])
        terms = ref.train_step(step, global_batch(cfg, step), step_rngs(cfg["seed"], step)["pool"])
        assert_same_step(ref, terms, logged[step], saved[step + 1][0])

    # and on another number of processes: one, whose draws come from the single-process streams
    assert main(["train", "--out", str(run), "--resume", "--steps", "5", "--threads", "1"]) == 0
    assert load_latest(run / "checkpoints")[1]["processes"] == 1
    assert [line["step"] for line in loop.read_losses(run)] == [0, 1, 2, 3, 4]


def test_a_batch_the_processes_cannot_share_is_one_line(tmp_path):
    proc = torchrun(*TINY, "--batch", "3", "--steps", "2", "--out", str(tmp_path / "run"))
    assert proc.returncode != 0
    (line,) = rainloop_errors(proc)  # rank 0 says it for the job
    assert "--batch 3" in line and "2 processes" in line and "multiple of 2" in line
    assert not (tmp_path / "run").exists()


def test_resuming_a_run_folder_written_by_another_network_is_one_line(tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    assert main(["train", *TINY, "--batch", "2", "--steps", "2", "--pretrain-steps", "1", "--until", "1",
                 "--out", str(run)]) == 0
    assert main(["train", *TINY, "--batch", "2", "--set", "g1.base=6", "--steps", "1", "--pretrain-steps", "1",
                 "--out", str(other)]) == 0
    for f in (other / "checkpoints").iterdir():  # a narrower network's step 1 over the run's own
        shutil.copy(f, run / "checkpoints" / f.name)
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "step-00000001.safetensors: written by a different network than this run's config builds" in err
    proc = torchrun("--out", str(run), "--resume")
    assert proc.returncode != 0
    assert rainloop_errors(proc) == [err]  # rank 0 met it; rank 1 exits without a word
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files  # nothing written


def test_an_unreachable_rendezvous_is_one_line(monkeypatch, capfd):
    port = free_port()  # nobody listens there now
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    with pytest.raises(RainloopError, match=rf"rank 1 of 2: cannot reach the rendezvous at 127.0.0.1:{port}") as exc:
        with distributed.group(World(1, 2), "cpu", timeout=timedelta(seconds=1)):
            pass
    assert len(str(exc.value).splitlines()) == 1
    assert capfd.readouterr().err == ""  # c10d's retry logs are dropped with the failure


def test_the_world_comes_from_torchruns_environment():
    assert distributed.discover({}) == World()
    assert distributed.discover({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    with pytest.raises(RainloopError, match="RANK='x'"):
        distributed.discover({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(RainloopError, match="RANK=2 WORLD_SIZE=2"):
        distributed.discover({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(RainloopError, match="--device cuda:1"):
        distributed.device_of(World(0, 2), "cuda:1")
    assert distributed.device_of(World(1, 2, 1), "cpu") == "cpu"
    assert distributed.share_of(8, World(0, 4)) == 2
    with pytest.raises(distributed.Reported):  # rank 0 reports it, the others exit quietly
        distributed.share_of(6, World(1, 4))


def test_each_rank_draws_its_own_share_and_one_process_keeps_its_streams():
    one = step_rngs(5, 7)
    for i, k in enumerate(("syn", "real", "pool")):  # the streams every single-process run has drawn
        assert one[k].random() == np.random.default_rng([5, 7, i]).random()
    shares = [step_rngs(5, 7, rank, 2) for rank in (0, 1)]
    firsts = {k: [rngs[k].random() for rngs in (*shares, step_rngs(5, 7))] for k in ("syn", "real", "pool")}
    assert len(set(firsts["syn"])) == len(set(firsts["real"])) == 3
    assert len(set(firsts["pool"])) == 1  # the pools decide alike on every rank
