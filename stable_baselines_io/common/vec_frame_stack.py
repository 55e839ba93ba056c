"""Stable Baselines 2's ``VecFrameStack``: the last ``n_stack`` observations of each environment,
concatenated along the last (channel) axis, oldest first.

A new episode starts from zeros: its first observation fills the newest slot only. The
``terminal_observation`` of a finished episode is stacked with the frames before it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.common.vec_env import VecEnv


class VecFrameStack(VecEnv):
    """Stack the last ``n_stack`` observations of a :class:`~stable_baselines_io.common.vec_env.VecEnv`.

    >>> import gymnasium
    >>> stacked = VecFrameStack(VecEnv([gymnasium.make("CartPole-v1")]), n_stack=3)
    >>> stacked.observation_space.shape, stacked.reset().shape
    ((12,), (1, 12))

    :param venv: the vectorized environment (Box observations)
    :param n_stack: observations per stack
    """

    def __init__(self, venv: VecEnv, n_stack: int):
        space = venv.observation_space
        if not isinstance(space, gymnasium.spaces.Box) or not space.shape:
            raise ValueError(f"VecFrameStack needs Box observations, received {space}")
        if n_stack < 1:
            raise ValueError(f"n_stack must be at least 1, received {n_stack}")
        self.venv = venv
        self.envs = venv.envs
        self.num_envs = venv.num_envs
        self.action_space = venv.action_space
        self.n_stack = n_stack
        self._channels = space.shape[-1]
        low = np.repeat(space.low, n_stack, axis=-1)
        high = np.repeat(space.high, n_stack, axis=-1)
        self.observation_space = gymnasium.spaces.Box(low=low, high=high, dtype=space.dtype)  # type: ignore[arg-type]
        self.stacked_obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=space.dtype)

    def seed(self, seed: int | None) -> None:
        self.venv.seed(seed)

    def reset(self) -> np.ndarray:
        observations = self.venv.reset()
        self.stacked_obs[...] = 0
        self.stacked_obs[..., -self._channels:] = observations
        return self.stacked_obs.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        observations, rewards, terminated, truncated, infos = self.venv.step(actions)
        self.stacked_obs = np.roll(self.stacked_obs, shift=-self._channels, axis=-1)
        for index, done in enumerate(terminated | truncated):
            if done:
                if "terminal_observation" in infos[index]:
                    infos[index]["terminal_observation"] = np.concatenate(
                        (self.stacked_obs[index, ..., :-self._channels], infos[index]["terminal_observation"]), axis=-1
                    )
                self.stacked_obs[index] = 0
        self.stacked_obs[..., -self._channels:] = observations
        return self.stacked_obs.copy(), rewards, terminated, truncated, infos

    def get_episode_stats(self) -> dict[str, np.ndarray]:
        return self.venv.get_episode_stats()

    def set_episode_stats(self, stats: dict[str, np.ndarray]) -> None:
        self.venv.set_episode_stats(stats)

    def close(self) -> None:
        self.venv.close()
