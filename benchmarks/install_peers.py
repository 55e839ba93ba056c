"""Install the contenders of the benchmarks: safetensors, Stable-Baselines3 (and its torch), matplotlib.

torch is installed first and pinned: ``torch==2.13.0`` is the CPU build these machines keep as a
local wheel. A plain ``torch`` requirement (which stable-baselines3 declares) would otherwise pull
the newest release from the registry with several GB of CUDA libraries. Everything after it is
installed with a constraints file that holds torch at that version, so nothing upgrades it.

Run::

    python benchmarks/install_peers.py          # or let benchmarks/run_all.py call it
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
from pathlib import Path

TORCH_REQUIREMENT = "torch==2.13.0"
PEER_REQUIREMENTS = ["safetensors>=0.4", "stable-baselines3>=2.3", "matplotlib>=3.7"]


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None.

    :param distribution: the distribution name, e.g. ``"torch"``
    :return: its version
    """
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def pip_install(*arguments: str) -> None:
    """``python -m pip install --quiet ARGUMENTS`` with this interpreter; raises on failure.

    :param arguments: requirements and options
    """
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *arguments], check=True)


def install_peers() -> dict[str, str | None]:
    """Install torch (pinned) first, then the other contenders without touching torch.

    :return: distribution name -> installed version
    """
    torch_version = installed_version("torch")
    if torch_version is None or not torch_version.startswith(TORCH_REQUIREMENT.split("==")[1]):
        pip_install(TORCH_REQUIREMENT)
    missing = [requirement for requirement in PEER_REQUIREMENTS
               if installed_version(requirement.split(">")[0].split("=")[0]) is None]
    if missing:
        with tempfile.TemporaryDirectory() as folder:
            constraints = Path(folder) / "constraints.txt"
            constraints.write_text(TORCH_REQUIREMENT + "\n", encoding="utf-8")
            pip_install("--constraint", str(constraints), *missing)
    return {name: installed_version(name) for name in ("torch", "safetensors", "stable-baselines3", "matplotlib")}


if __name__ == "__main__":
    for name, version in install_peers().items():
        print(f"{name:20s} {version}")
