"""The wheel a user installs: one `rainloop` namespace, the default model inside, working off-tree."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ("model.onnx", "model.json", "g3.safetensors", "g3.json")


def test_installed_wheel_carries_the_default_model(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist")], check=True)
    wheel = next((tmp_path / "dist").glob("rainloop-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    # The rooms install under rainloop.*, never as bare top-level `training`, `runtime`, ...
    assert {n.split("/")[0] for n in names} == {"rainloop", wheel.name.split("-py")[0] + ".dist-info"}
    assert "rainloop/training/jrgr.py" in names and "rainloop/runtime/backends.py" in names
    for asset in ASSETS:
        assert f"rainloop/assets/default/{asset}" in names

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True)
    probe = ("import numpy as np, rainloop\n"
             "from rainloop.runtime import Derainer\n"
             "d = Derainer('default')\n"
             "out = d(np.full((37, 53, 3), 128, np.uint8))\n"
             "print(rainloop.__file__, d.model_path, out.shape)\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True,
                            capture_output=True, text=True)
    module_file, model_path, shape = result.stdout.split(maxsplit=2)
    assert module_file.startswith(str(site)) and model_path.startswith(str(site))
    assert shape.strip() == "(37, 53, 3)"


def test_commands_that_need_an_extra_say_which_without_a_traceback(tmp_path):
    # The base install has no PyTorch; blocking its import stands in for that install.
    probe = ("import sys\n"
             "sys.modules['torch'] = None\n"
             "from rainloop.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    for argv in (["export", "default", "--out", str(tmp_path / "m.onnx")], ["gate", "default", "--dry-db", "40",
                                                                           "--out", str(tmp_path / "g")]):
        result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
        assert result.returncode == 2
        assert result.stderr.strip() == (f"rainloop {argv[0]}: error: needs torch, which the base install leaves "
                                         "out: pip install 'rainloop[train]'")
