"""``VecNormalize``: Stable Baselines 2's normalizing wrapper of a :class:`~.vec_env.VecEnv` (no TensorFlow).

Observations become ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)`` and rewards
``clip(reward / sqrt(return_var + epsilon), -clip_reward, clip_reward)``, where the running
statistics are those of the observations and of each environment's discounted return, updated
while ``training`` is True (Stable Baselines 2.10's formulas and order of updates). Beyond Stable
Baselines 2: the terminal observation in ``infos`` is normalized too (the training loops bootstrap
from it), and :meth:`VecNormalize.save` writes a pickle-free file.

>>> import gymnasium
>>> from stable_baselines_io.common.vec_env import VecEnv
>>> env = VecNormalize(VecEnv([gymnasium.make("CartPole-v1")]))
>>> env.reset().shape
(1, 4)
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium
import numpy as np

from stable_baselines_io.common.running_mean_std import RunningMeanStd
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import NormalizationStatisticsError, SpaceMismatchError
from stable_baselines_io.format.normalization import (
    StoredStatistics,
    check_statistics,
    load_statistics,
    read_sb2_statistics,
    save_statistics,
)
from stable_baselines_io.type_aliases import FileTarget


class VecNormalize(VecEnv):
    """Normalize the observations and rewards of a vectorized environment with running statistics.

    :param venv: the environment to wrap; None for statistics not attached to an environment yet
        (:meth:`set_venv` attaches one), which can still normalize
    :param training: update the statistics at every step and reset
    :param norm_obs: normalize the observations
    :param norm_reward: normalize the rewards (by the running variance of the discounted return)
    :param clip_obs: the largest absolute normalized observation
    :param clip_reward: the largest absolute normalized reward
    :param gamma: the discount of the return whose variance scales the rewards
    :param epsilon: added to the variances (no division by zero)
    :param observation_shape: with ``venv=None``, the shape of an observation
    """

    def __init__(self, venv: VecEnv | None, training: bool = True, norm_obs: bool = True, norm_reward: bool = True,
                 clip_obs: float = 10.0, clip_reward: float = 10.0, gamma: float = 0.99, epsilon: float = 1e-8,
                 observation_shape: tuple[int, ...] | None = None):
        if venv is None and observation_shape is None:
            raise ValueError("VecNormalize needs an environment or the observation_shape of its statistics")
        shape = tuple((observation_shape or ()) if venv is None else venv.observation_space.shape or ())
        self.obs_rms = RunningMeanStd(shape=shape)
        self.ret_rms = RunningMeanStd(shape=())
        self.training, self.norm_obs, self.norm_reward = training, norm_obs, norm_reward
        self.clip_obs, self.clip_reward, self.gamma, self.epsilon = clip_obs, clip_reward, gamma, epsilon
        self.venv: VecEnv | None = None
        self.ret = np.zeros(0)
        self.old_obs: np.ndarray | None = None
        self.old_rews: np.ndarray | None = None
        if venv is not None:
            self.set_venv(venv)

    # --- the wrapped environment ----------------------------------------------------------------

    def set_venv(self, venv: VecEnv) -> None:
        """Attach the environment to normalize (statistics loaded without one, as Stable Baselines 2's).

        :param venv: the environment; its observations must have the statistics' shape
        :raises ValueError: an environment is already attached
        :raises SpaceMismatchError: the observation shape differs from the statistics'
        """
        if self.venv is not None:
            raise ValueError("this VecNormalize already wraps an environment")
        shape = tuple(venv.observation_space.shape or ())
        if shape != self.obs_rms.mean.shape:
            raise SpaceMismatchError(f"the environment's observations have shape {shape}, the normalization "
                                     f"statistics shape {self.obs_rms.mean.shape}")
        self.venv = venv
        self.num_envs = venv.num_envs
        self.observation_space = venv.observation_space
        self.action_space = venv.action_space
        self.ret = np.zeros(self.num_envs)

    @property
    def envs(self) -> list[gymnasium.Env]:  # type: ignore[override]
        """The wrapped environment's environments, asked for when needed (a :class:`RayVecEnv`'s
        live in Ray actors: it says so then, not when it is wrapped)."""
        return self._require_venv().envs

    @property
    def spec(self) -> gymnasium.envs.registration.EnvSpec | None:
        """:return: the wrapped environment's spec (None without one)"""
        return None if self.venv is None else self.venv.spec

    def _require_venv(self) -> VecEnv:
        if self.venv is None:
            raise ValueError("this VecNormalize wraps no environment: call set_venv(venv) first")
        return self.venv

    def seed(self, seed: int | None) -> None:
        self._require_venv().seed(seed)

    def get_episode_stats(self) -> dict[str, np.ndarray]:
        return self._require_venv().get_episode_stats()

    def set_episode_stats(self, stats: dict[str, np.ndarray]) -> None:
        self._require_venv().set_episode_stats(stats)

    def close(self) -> None:
        self._require_venv().close()

    # --- stepping -------------------------------------------------------------------------------

    def reset(self) -> np.ndarray:
        """Reset every environment; restart the discounted returns.

        :return: the normalized first observations
        """
        observations = self._require_venv().reset()
        self.old_obs = observations
        self.ret = np.zeros(self.num_envs)
        if self.training:
            self._update_reward(self.ret)
        return self.normalize_obs(observations)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step the environments and normalize what they return (Stable Baselines 2's ``step_wait``).

        :param actions: one action per environment
        :return: normalized observations, normalized rewards, terminated, truncated, infos (with
            the terminal observations normalized)
        """
        observations, rewards, terminated, truncated, infos = self._require_venv().step(actions)
        self.old_obs, self.old_rews = observations, rewards
        if self.training:
            self.obs_rms.update(observations)
        normalized = self.normalize_obs(observations)
        for info in infos:
            if "terminal_observation" in info:
                info["terminal_observation"] = self.normalize_obs(info["terminal_observation"])
        if self.training:
            self._update_reward(rewards)
        normalized_rewards = self.normalize_reward(rewards)
        self.ret[terminated | truncated] = 0
        return normalized, normalized_rewards, terminated, truncated, infos

    def _update_reward(self, rewards: np.ndarray) -> None:
        self.ret = self.ret * self.gamma + rewards
        self.ret_rms.update(self.ret)

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """Normalize observations with the current statistics (which this does not update).

        :param obs: observations (one or a batch)
        :return: ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``, or ``obs``
            when ``norm_obs`` is False
        """
        if self.norm_obs:
            return np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon),
                           -self.clip_obs, self.clip_obs)
        return obs

    def normalize_reward(self, reward: np.ndarray) -> np.ndarray:
        """Normalize rewards with the current return statistics (which this does not update).

        :param reward: rewards
        :return: ``clip(reward / sqrt(return_var + epsilon), -clip_reward, clip_reward)``, or
            ``reward`` when ``norm_reward`` is False
        """
        if self.norm_reward:
            return np.clip(reward / np.sqrt(self.ret_rms.var + self.epsilon), -self.clip_reward, self.clip_reward)
        return reward

    def get_original_obs(self) -> np.ndarray:
        """:return: the observations of the last step or reset, not normalized (a copy)"""
        if self.old_obs is None:
            raise ValueError("no observation yet: call reset() first")
        return self.old_obs.copy()

    def get_original_reward(self) -> np.ndarray:
        """:return: the rewards of the last step, not normalized (a copy)"""
        if self.old_rews is None:
            raise ValueError("no reward yet: call step() first")
        return self.old_rews.copy()

    # --- statistics on disk -----------------------------------------------------------------------

    def get_statistics(self, include_returns: bool = False) -> StoredStatistics:
        """The statistics and settings as a plain record (copies).

        :param include_returns: also the discounted return of each episode in progress (exact resume)
        :return: the record
        """
        return StoredStatistics(
            obs_mean=self.obs_rms.mean.copy(), obs_var=self.obs_rms.var.copy(), obs_count=float(self.obs_rms.count),
            ret_mean=np.array(self.ret_rms.mean, np.float64), ret_var=np.array(self.ret_rms.var, np.float64),
            ret_count=float(self.ret_rms.count), clip_obs=float(self.clip_obs), clip_reward=float(self.clip_reward),
            gamma=float(self.gamma), epsilon=float(self.epsilon), training=bool(self.training),
            norm_obs=bool(self.norm_obs), norm_reward=bool(self.norm_reward),
            returns=self.ret.copy() if include_returns and self.venv is not None else None,
        )

    def set_statistics(self, stats: StoredStatistics) -> None:
        """Take the statistics and settings of a record (the discounted returns too when it has
        them for as many environments).

        :param stats: the record
        :raises NormalizationStatisticsError: the statistics do not match the observations' shape
        """
        stats = check_statistics(stats, "statistics", observation_shape=self.obs_rms.mean.shape)
        self.obs_rms.mean, self.obs_rms.var, self.obs_rms.count = stats.obs_mean.copy(), stats.obs_var.copy(), \
            stats.obs_count
        self.ret_rms.mean, self.ret_rms.var, self.ret_rms.count = stats.ret_mean.copy(), stats.ret_var.copy(), \
            stats.ret_count
        for field in ("clip_obs", "clip_reward", "gamma", "epsilon", "training", "norm_obs", "norm_reward"):
            setattr(self, field, getattr(stats, field))
        if stats.returns is not None and len(stats.returns) == len(self.ret):
            self.ret = stats.returns.copy()

    @classmethod
    def from_statistics(cls, stats: StoredStatistics, venv: VecEnv | None = None) -> VecNormalize:
        """A wrapper holding ``stats``, around ``venv`` or detached.

        :param stats: the statistics and settings
        :param venv: the environment to wrap, or None
        :return: the wrapper
        """
        wrapper = cls(None, observation_shape=stats.observation_shape)
        if venv is not None:
            wrapper.set_venv(venv)
        wrapper.set_statistics(stats)
        return wrapper

    def save(self, save_path: FileTarget) -> None:
        """Write the statistics and settings (not the environment) to a pickle-free ``.npz`` file.

        :param save_path: a path or a binary file object
        """
        save_statistics(self.get_statistics(), save_path)

    @classmethod
    def load(cls, load_path: FileTarget, venv: VecEnv | None) -> VecNormalize:
        """Read statistics saved by :meth:`save`, or Stable Baselines 2's pickled ``VecNormalize`` or
        ``RunningMeanStd`` (``obs_rms.pkl``), or a folder of ``obs_rms.pkl`` / ``ret_rms.pkl``, in
        safe mode (no code from the file runs), and wrap ``venv`` with them.

        :param load_path: a file (path or binary file object) or a folder
        :param venv: the environment to wrap (None: detached, see :meth:`set_venv`)
        :return: the wrapper
        :raises NormalizationStatisticsError: invalid statistics, or of another observation shape
        """
        shape = None if venv is None else tuple(venv.observation_space.shape or ())
        if isinstance(load_path, (str, os.PathLike)) and os.path.isdir(load_path):
            return cls.from_statistics(read_sb2_statistics(load_path, shape), venv)
        return cls.from_statistics(load_statistics(load_path, shape), venv)


__all__ = ["NormalizationStatisticsError", "VecNormalize"]
