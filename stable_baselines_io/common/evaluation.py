"""Evaluating an agent: Stable Baselines 2's ``evaluate_policy``, on a gymnasium env or a VecEnv,
with seeded episodes so that two evaluations of the same agent agree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import gymnasium
import numpy as np

from stable_baselines_io.common.vec_env import VecEnv, make_vec_env
from stable_baselines_io.common.vec_normalize import VecNormalize
from stable_baselines_io.exceptions import RewardThresholdError

#: Called as ``callback(locals(), globals())`` after every step, as in Stable Baselines.
EvalCallback = Callable[[dict[str, Any], dict[str, Any]], Any]


class Predictor(Protocol):
    """Anything with Stable Baselines' ``predict`` signature. The episode starts are passed by
    position, so Stable-Baselines3 models (``episode_start``) work too."""

    def predict(self, observation: np.ndarray, state: Any = None, mask: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]: ...


def evaluate_policy(
    model: Predictor,
    env: gymnasium.Env | VecEnv | gymnasium.vector.VectorEnv | str | Callable[[], gymnasium.Env],
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    render: bool = False,
    callback: EvalCallback | None = None,
    reward_threshold: float | None = None,
    return_episode_rewards: bool = False,
    *,
    seed: int | None = 0,
    max_episode_steps: int | None = None,
    ray_workers: int | None = None,
    ray_address: str | None = None,
) -> tuple[float, float] | tuple[list[float], list[int]]:
    """Play ``n_eval_episodes`` episodes and report their returns.

    With a gymnasium env (or an env id, made with ``gymnasium.make``), episode ``i`` starts from
    ``env.reset(seed=seed + i)``. With a :class:`~stable_baselines_io.common.vec_env.VecEnv` (or a
    gymnasium ``SyncVectorEnv``) of ``n`` environments, environment ``j`` plays
    ``(n_eval_episodes + j) // n`` episodes (so the count is exact and no environment's short
    episodes are over-represented, as in Stable-Baselines3); the environments are seeded with
    ``seed + j`` at the first reset and then reset themselves.

    Normalization (:class:`~stable_baselines_io.common.vec_normalize.VecNormalize`) is applied
    once, with the model's statistics where it has them: a model trained with a VecNormalize
    environment can be evaluated on the raw environment (``EvalCallback`` needs no wrapper), and
    a VecNormalize evaluation environment reports the original rewards, not the normalized ones.

    >>> mean_reward, std_reward = evaluate_policy(model, "CartPole-v1", n_eval_episodes=5)  # doctest: +SKIP

    :param model: the agent
    :param env: a gymnasium env, an env id, a VecEnv or a gymnasium ``SyncVectorEnv``
    :param n_eval_episodes: number of episodes
    :param deterministic: greedy actions
    :param render: render the environment(s) after every step
    :param callback: ``callback(locals(), globals())`` after every step
    :param reward_threshold: raise :class:`~stable_baselines_io.exceptions.RewardThresholdError`
        (an ``AssertionError``) unless the mean reward is above it
    :param return_episode_rewards: return every episode's return and length instead of the mean
        and standard deviation
    :param seed: seed of the first episode (None: do not seed)
    :param max_episode_steps: end an episode after this many steps (gymnasium env only; default:
        the env's own limit)
    :param ray_workers: play the episodes on this many Ray workers (``env`` is then an env id or a
        factory; see :func:`~stable_baselines_io.distributed.ray_evaluation.distributed_evaluate_policy`:
        the same episode returns as the local evaluation of a gymnasium env, for the same seed)
    :param ray_address: with ``ray_workers``, the cluster to connect to when Ray is not initialised
        (``"auto"``, ``"local"``, ``"ray://..."``)
    :return: ``(mean_reward, std_reward)``, or ``(episode_rewards, episode_lengths)``
    """
    if n_eval_episodes < 1:
        raise ValueError(f"n_eval_episodes must be at least 1, received {n_eval_episodes}")
    if ray_workers is not None:
        if callback is not None or render:
            raise ValueError("callback and render run beside the environment: they are not available with ray_workers")
        if isinstance(env, (gymnasium.Env, VecEnv, gymnasium.vector.VectorEnv)):
            raise TypeError(f"with ray_workers, env must be an env id or a factory building the env in each worker, "
                            f"received {type(env).__name__}")
        from stable_baselines_io.distributed.ray_evaluation import distributed_evaluate_policy

        return distributed_evaluate_policy(model, env, n_eval_episodes, deterministic, reward_threshold,
                                           return_episode_rewards, seed=seed, max_episode_steps=max_episode_steps,
                                           ray_workers=ray_workers, address=ray_address)
    env, prepare = _normalization_for(model, env)
    if isinstance(env, (VecEnv, gymnasium.vector.VectorEnv)):
        if max_episode_steps is not None:
            raise ValueError("max_episode_steps applies to a single gymnasium env; wrap each env of a VecEnv in "
                             "gymnasium.wrappers.TimeLimit instead")
        rewards, lengths = _play_vec_env(model, make_vec_env(env), n_eval_episodes, deterministic, render,
                                         callback, seed, prepare)
    else:
        owned = isinstance(env, str) or not isinstance(env, gymnasium.Env)
        environment = gymnasium.make(env) if isinstance(env, str) else env if isinstance(env, gymnasium.Env) else env()
        try:
            rewards, lengths = play_episodes(model, environment, episode_seeds(seed, range(n_eval_episodes)),
                                             deterministic, render, callback, max_episode_steps, prepare)
        finally:
            if owned:
                environment.close()
    return summarize_episodes(rewards, lengths, reward_threshold, return_episode_rewards)


def summarize_episodes(rewards: list[float], lengths: list[int], reward_threshold: float | None,
                       return_episode_rewards: bool) -> tuple[float, float] | tuple[list[float], list[int]]:
    """What :func:`evaluate_policy` returns for the episodes played (and its threshold check).

    :param rewards: each episode's return
    :param lengths: each episode's length
    :param reward_threshold: raise unless the mean reward is above it (None: no check)
    :param return_episode_rewards: return the lists instead of the mean and standard deviation
    :return: ``(mean_reward, std_reward)``, or ``(rewards, lengths)``
    """
    mean_reward, std_reward = float(np.mean(rewards)), float(np.std(rewards))
    if reward_threshold is not None and not mean_reward > reward_threshold:
        raise RewardThresholdError(f"mean reward {mean_reward:.2f} over {len(rewards)} episodes is not above the "
                                   f"threshold {reward_threshold:.2f}")
    if return_episode_rewards:
        return rewards, lengths
    return mean_reward, std_reward


def _normalization_for(model: Predictor, env: Any) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """The environment to play and what to apply to its observations before ``predict``, so that
    the model sees observations normalized once, with its own statistics where it has them.

    - a model that normalizes in ``predict`` (it holds statistics, its env is not a VecNormalize)
      playing a VecNormalize: the wrapped environment is played, with raw observations;
    - a model whose env is a VecNormalize (``predict`` takes normalized observations) playing an
      environment that is not one: observations are normalized with the model's statistics;
    - otherwise the environment and its observations as they are.

    :param model: the agent
    :param env: the evaluation environment
    :return: ``(environment, prepare)``
    """
    normalizes_itself = getattr(model, "_normalizes_observations", lambda: False)()
    get_statistics = getattr(model, "get_vec_normalize", None)
    statistics = get_statistics() if callable(get_statistics) else None
    if normalizes_itself and isinstance(env, VecNormalize) and env.venv is not None:
        return env.venv, _unchanged
    if statistics is not None and not normalizes_itself and statistics.norm_obs and not isinstance(env, VecNormalize):
        return env, statistics.normalize_obs
    return env, _unchanged


def _unchanged(observations: np.ndarray) -> np.ndarray:
    return observations


def episode_seeds(seed: int | None, episodes: Iterable[int]) -> list[int | None]:
    """The reset seed of each episode: episode ``i`` starts from ``reset(seed=seed + i)``.

    :param seed: the first episode's seed (None: no seeding)
    :param episodes: the episode indices
    :return: one seed (or None) per episode
    """
    return [None if seed is None else seed + episode for episode in episodes]


def play_episodes(model: Predictor, env: gymnasium.Env, seeds: Sequence[int | None], deterministic: bool,
                  render: bool = False, callback: EvalCallback | None = None,
                  max_episode_steps: int | None = None,
                  prepare: Callable[[np.ndarray], np.ndarray] = _unchanged) -> tuple[list[float], list[int]]:
    """Play one episode per seed in a gymnasium env.

    :param model: the agent
    :param env: the environment
    :param seeds: the reset seed of each episode
    :param deterministic: greedy actions
    :param render: render after every step
    :param callback: ``callback(locals(), globals())`` after every step
    :param max_episode_steps: end an episode after this many steps (None: the env's own limit)
    :param prepare: applied to each observation before ``predict`` (see :func:`_normalization_for`)
    :return: each episode's return and length
    """
    episode_rewards, episode_lengths = [], []
    for episode, episode_seed in enumerate(seeds):  # noqa: B007 (callbacks read locals()["episode"])
        observation, _ = env.reset(seed=episode_seed)
        state, episode_start = None, True
        episode_reward, episode_length, done = 0.0, 0, False
        while not done:
            action, state = model.predict(prepare(observation), state, np.array([episode_start]),
                                          deterministic=deterministic)
            observation, reward, terminated, truncated, _ = env.step(action)
            episode_reward += float(reward)
            episode_length += 1
            episode_start = False
            done = bool(terminated or truncated) or (max_episode_steps is not None
                                                     and episode_length >= max_episode_steps)
            if callback is not None:
                callback(locals(), globals())
            if render:
                env.render()
        episode_rewards.append(episode_reward)
        episode_lengths.append(episode_length)
    return episode_rewards, episode_lengths


def _play_vec_env(model: Predictor, env: VecEnv, n_eval_episodes: int, deterministic: bool, render: bool,
                  callback: EvalCallback | None, seed: int | None,
                  prepare: Callable[[np.ndarray], np.ndarray] = _unchanged) -> tuple[list[float], list[int]]:
    n_envs = env.num_envs
    episode_targets = np.array([(n_eval_episodes + index) // n_envs for index in range(n_envs)])
    episode_counts = np.zeros(n_envs, dtype=np.int64)
    current_rewards = np.zeros(n_envs, dtype=np.float64)
    current_lengths = np.zeros(n_envs, dtype=np.int64)
    episode_rewards: list[float] = []
    episode_lengths: list[int] = []
    if seed is not None:
        env.seed(seed)
    observations = env.reset()
    states, episode_starts = None, np.ones(n_envs, dtype=bool)
    while (episode_counts < episode_targets).any():
        actions, states = model.predict(prepare(observations), states, episode_starts, deterministic=deterministic)
        observations, rewards, terminated, truncated, _ = env.step(actions)
        if isinstance(env, VecNormalize):
            rewards = env.get_original_reward()  # the episode returns, not the normalized rewards
        current_rewards += rewards
        current_lengths += 1
        episode_starts = terminated | truncated
        for index in np.flatnonzero(episode_starts):
            if episode_counts[index] < episode_targets[index]:
                episode_rewards.append(float(current_rewards[index]))
                episode_lengths.append(int(current_lengths[index]))
                episode_counts[index] += 1
            current_rewards[index], current_lengths[index] = 0.0, 0
        if callback is not None:
            callback(locals(), globals())
        if render:
            for environment in env.envs:
                environment.render()
    return episode_rewards, episode_lengths
