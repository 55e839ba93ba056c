"""Synchronous advantage actor-critic: Stable Baselines 2's ``A2C``."""

from stable_baselines_io.a2c.a2c import A2C
from stable_baselines_io.common.cnn_policies import CnnPolicy
from stable_baselines_io.common.policies import MlpPolicy

__all__ = ["A2C", "CnnPolicy", "MlpPolicy"]
