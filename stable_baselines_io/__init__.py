"""stable-baselines-io: TensorFlow 2 RL agents saved, loaded and shared in the Stable Baselines format.

The model classes are imported on first use, so that ``import stable_baselines_io`` and the
format layer (``stable_baselines_io.format``) do not import TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

from stable_baselines_io.version import __version__

_LAZY_EXPORTS = {
    "BaseRLModel": "stable_baselines_io.common.base_class",
    "ActorCriticRLModel": "stable_baselines_io.common.on_policy",
    "OffPolicyRLModel": "stable_baselines_io.common.off_policy",
    "SaveLoadMixin": "stable_baselines_io.common.save_load",
    "PPO": "stable_baselines_io.ppo",
    "DQN": "stable_baselines_io.dqn",
    "A2C": "stable_baselines_io.a2c",
}

__all__ = ["__version__", *_LAZY_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module 'stable_baselines_io' has no attribute {name!r}")
