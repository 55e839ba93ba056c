"""Proximal Policy Optimization: Stable Baselines 2's ``PPO2``."""

from stable_baselines_io.common.cnn_policies import CnnPolicy
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.ppo.ppo import PPO

__all__ = ["PPO", "CnnPolicy", "MlpPolicy"]
