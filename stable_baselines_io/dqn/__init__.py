"""Deep Q-Network, file-compatible with Stable Baselines 2's ``DQN``."""

from stable_baselines_io.dqn.cnn_policies import CnnPolicy, LnCnnPolicy
from stable_baselines_io.dqn.dqn import DQN
from stable_baselines_io.dqn.policies import LnMlpPolicy, MlpPolicy

__all__ = ["DQN", "CnnPolicy", "LnCnnPolicy", "LnMlpPolicy", "MlpPolicy"]
