"""A minimal vectorized environment over gymnasium environments (no TensorFlow here).

Algorithms step every environment at once. Environments reset themselves when an episode ends
("same-step" autoreset): the observation returned is the first one of the new episode, and the
last observation of the finished episode is in ``infos[i]["terminal_observation"]``.
Each finished episode also reports ``infos[i]["episode"] = {"r": return, "l": length}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np

# Imported for its registrations: env ids that an agent file records (e.g. "IdentityMultiDiscrete-v0")
# must be makeable wherever this module makes environments from ids.
import stable_baselines_io.envs  # noqa: F401
from stable_baselines_io.type_aliases import EnvSpec


class VecEnv:
    """Steps a list of gymnasium environments in lock step.

    :param envs: the environments (all with the same spaces)
    """

    def __init__(self, envs: Sequence[gymnasium.Env]):
        if not envs:
            raise ValueError("VecEnv needs at least one environment")
        self.envs = list(envs)
        self.num_envs = len(self.envs)
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space
        self._episode_returns = np.zeros(self.num_envs, dtype=np.float64)
        self._episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._pending_seeds: list[int | None] = [None] * self.num_envs

    @property
    def spec(self) -> gymnasium.envs.registration.EnvSpec | None:
        """The gymnasium spec of the first environment (None when it has none), as saved in the metadata."""
        return getattr(self.envs[0], "spec", None)

    def seed(self, seed: int | None) -> None:
        """Seed the next :meth:`reset` (environment ``i`` gets ``seed + i``) and the action spaces.

        :param seed: the base seed, or None
        """
        self._pending_seeds = [None if seed is None else seed + index for index in range(self.num_envs)]
        for index, env in enumerate(self.envs):
            env.action_space.seed(None if seed is None else seed + index)

    def reset(self) -> np.ndarray:
        """Reset every environment.

        :return: the batch of first observations
        """
        observations = []
        for index, env in enumerate(self.envs):
            observation, _ = env.reset(seed=self._pending_seeds[index])
            observations.append(observation)
        self._pending_seeds = [None] * self.num_envs
        self._episode_returns[:] = 0.0
        self._episode_lengths[:] = 0
        return np.stack(observations)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every environment, resetting those whose episode ended.

        :param actions: one action per environment
        :return: observations, rewards, terminated flags, truncated flags, infos
        """
        observations, rewards, terminated, truncated, infos = [], [], [], [], []
        for index, (env, action) in enumerate(zip(self.envs, actions)):
            observation, reward, is_terminated, is_truncated, info = env.step(action)
            info = dict(info)
            self._episode_returns[index] += float(reward)
            self._episode_lengths[index] += 1
            if is_terminated or is_truncated:
                info["terminal_observation"] = observation
                info["episode"] = {"r": float(self._episode_returns[index]), "l": int(self._episode_lengths[index])}
                self._episode_returns[index] = 0.0
                self._episode_lengths[index] = 0
                observation, _ = env.reset()
            observations.append(observation)
            rewards.append(reward)
            terminated.append(is_terminated)
            truncated.append(is_truncated)
            infos.append(info)
        return (
            np.stack(observations),
            np.asarray(rewards, dtype=np.float32),
            np.asarray(terminated, dtype=bool),
            np.asarray(truncated, dtype=bool),
            infos,
        )

    def get_episode_stats(self) -> dict[str, np.ndarray]:
        """The return and length so far of each environment's episode in progress.

        :return: ``{"returns": ..., "lengths": ...}`` (copies)
        """
        return {"returns": self._episode_returns.copy(), "lengths": self._episode_lengths.copy()}

    def set_episode_stats(self, stats: dict[str, np.ndarray]) -> None:
        """Continue counting episodes from :meth:`get_episode_stats` of an earlier run.

        :param stats: ``{"returns": ..., "lengths": ...}``, one entry per environment
        """
        if len(stats["lengths"]) != self.num_envs:
            raise ValueError(f"episode stats for {len(stats['lengths'])} environments, this VecEnv has {self.num_envs}")
        self._episode_returns[:] = stats["returns"]
        self._episode_lengths[:] = stats["lengths"]

    def close(self) -> None:
        """Close every environment."""
        for env in self.envs:
            env.close()


def make_vec_env(env: EnvSpec, n_envs: int = 1) -> VecEnv:
    """Wrap what a user passes as ``env`` into a :class:`VecEnv`.

    :param env: a gymnasium env id (``n_envs`` copies are made), a gymnasium ``Env``, a gymnasium
        ``SyncVectorEnv`` (its environments are stepped directly) or a :class:`VecEnv`
    :param n_envs: number of copies when ``env`` is an id
    :return: the vectorized environment
    """
    if isinstance(env, VecEnv):
        return env
    if isinstance(env, str):
        return VecEnv([gymnasium.make(env) for _ in range(n_envs)])
    if isinstance(env, gymnasium.vector.SyncVectorEnv):
        return VecEnv(list(env.envs))
    if isinstance(env, gymnasium.vector.VectorEnv):
        raise TypeError(
            f"{type(env).__name__} is not supported: pass a gymnasium.vector.SyncVectorEnv, a list of "
            "environments through VecEnv([...]), an env id or a single gymnasium.Env"
        )
    if isinstance(env, gymnasium.Env):
        return VecEnv([env])
    if isinstance(env, Sequence) and env and all(isinstance(item, gymnasium.Env) for item in env):
        return VecEnv(list(env))
    raise TypeError(f"expected a gymnasium env, an env id, a SyncVectorEnv or a VecEnv, received {env!r}")

