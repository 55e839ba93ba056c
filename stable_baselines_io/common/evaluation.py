"""Evaluating an agent: mean and standard deviation of episode returns on seeded episodes."""

from __future__ import annotations

from typing import Protocol

import gymnasium
import numpy as np


class Predictor(Protocol):
    """Anything with Stable Baselines' ``predict`` signature."""

    def predict(self, observation: np.ndarray, state: object = None, mask: object = None,
                deterministic: bool = False) -> tuple[np.ndarray, object]: ...


def evaluate_policy(
    model: Predictor,
    env: gymnasium.Env | str,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    seed: int = 0,
    max_episode_steps: int | None = None,
) -> tuple[float, float, list[float]]:
    """Play ``n_eval_episodes`` episodes; episode ``i`` starts from ``env.reset(seed=seed + i)``.

    :param model: the agent
    :param env: a gymnasium env or env id (made with ``gymnasium.make``)
    :param n_eval_episodes: number of episodes
    :param deterministic: greedy actions
    :param seed: seed of the first episode
    :param max_episode_steps: stop an episode after this many steps (default: the env's limit)
    :return: ``(mean_return, std_return, returns)``
    """
    if n_eval_episodes < 1:
        raise ValueError(f"n_eval_episodes must be at least 1, received {n_eval_episodes}")
    environment = gymnasium.make(env) if isinstance(env, str) else env
    returns = []
    for episode in range(n_eval_episodes):
        observation, _ = environment.reset(seed=seed + episode)
        episode_return, steps, done = 0.0, 0, False
        while not done:
            action, _ = model.predict(observation, deterministic=deterministic)
            observation, reward, terminated, truncated, _ = environment.step(action)
            episode_return += float(reward)
            steps += 1
            done = terminated or truncated or (max_episode_steps is not None and steps >= max_episode_steps)
        returns.append(episode_return)
    if isinstance(env, str):
        environment.close()
    return float(np.mean(returns)), float(np.std(returns)), returns
