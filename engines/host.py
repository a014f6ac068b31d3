"""The machine an engine is built on, read before TensorRT is imported.

An engine never moves between operating systems or CPU architectures (not
even a version-compatible one), so the platform is part of its cache key; and
a Jetson lacks some build options desktop GPUs have.
"""

from __future__ import annotations

import platform
from pathlib import Path

# Jetson Linux (L4T, under every JetPack) writes its release here; desktop
# Linux and ARM servers with discrete GPUs have no such file.
TEGRA_RELEASE = Path("/etc/nv_tegra_release")


def this_platform() -> str:
    """'Linux-x86_64', 'Linux-aarch64', 'Windows-AMD64': what a built engine is tied to."""
    return f"{platform.system()}-{platform.machine()}"


def is_jetson(release_file: Path = TEGRA_RELEASE) -> bool:
    return release_file.is_file()
