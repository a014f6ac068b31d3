import json

import torch

from rainloop.training.checkpoint import load_latest, optimizer_from_files, optimizer_to_files, save_checkpoint


def test_keeps_two_newest_and_falls_back_when_newest_json_is_gone(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"w": torch.full((2,), float(step))}, {"note": step})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["step-00000002.json", "step-00000002.safetensors",
                     "step-00000003.json", "step-00000003.safetensors"]  # no temp files left either
    tensors, info = load_latest(tmp_path)
    assert info["step"] == 3 and tensors["w"].tolist() == [3.0, 3.0]
    # A kill after the tensors but before the JSON of step 3 looks like this:
    (tmp_path / "step-00000003.json").unlink()
    tensors, info = load_latest(tmp_path)
    assert info["step"] == 2 and info["note"] == 2 and tensors["w"].tolist() == [2.0, 2.0]


def test_truncated_tensors_fall_back_with_a_warning(tmp_path, recwarn):
    save_checkpoint(tmp_path, 1, {"w": torch.ones(4)}, {})
    save_checkpoint(tmp_path, 2, {"w": torch.zeros(4)}, {})
    path = tmp_path / "step-00000002.safetensors"
    path.write_bytes(path.read_bytes()[:20])
    _, info = load_latest(tmp_path)
    assert info["step"] == 1
    assert any("unusable checkpoint" in str(w.message) for w in recwarn)


def test_no_checkpoint(tmp_path):
    assert load_latest(tmp_path / "missing") is None
    assert load_latest(tmp_path) is None


def test_adam_state_round_trips_exactly(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors, info = optimizer_to_files(opt, "opt.g")
    save_checkpoint(tmp_path, 3, tensors, {"opt": info})
    loaded, card = load_latest(tmp_path)
    json.dumps(card)  # plain JSON
    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(net.state_dict())
    opt2 = torch.optim.Adam(twin.parameters(), lr=5.0)
    optimizer_from_files(opt2, "opt.g", loaded, card["opt"])
    assert opt2.param_groups[0]["lr"] == 1e-3 and opt2.param_groups[0]["betas"] == (0.5, 0.999)
    x = torch.randn(4, 3)
    for o, n in ((opt, net), (opt2, twin)):
        o.zero_grad()
        n(x).sum().backward()
        o.step()
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.equal(a, b)
