"""``evaluate_policy`` with Stable Baselines 2's signature, on a gymnasium env or a VecEnv."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest

from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import RewardThresholdError


class Countdown(gymnasium.Env):
    """Reward 1 per step; the episode terminates after ``length`` steps."""

    observation_space = gymnasium.spaces.Box(0.0, 100.0, (1,), dtype=np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, length: int):
        self.length = length
        self.steps = 0
        self.renders = 0
        self.reset_seeds: list[int | None] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.reset_seeds.append(seed)
        self.steps = 0
        return np.array([self.length], dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        return np.array([self.length - self.steps], dtype=np.float32), 1.0, self.steps >= self.length, False, {}

    def render(self) -> None:
        self.renders += 1


class ConstantAgent:
    """Stable Baselines 2's predict signature; records what it is given."""

    def __init__(self) -> None:
        self.masks: list[Any] = []

    def predict(self, observation: np.ndarray, state: Any = None, mask: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        self.masks.append(mask)
        batched = np.asarray(observation).ndim == 2
        return (np.zeros(len(observation), dtype=np.int64) if batched else np.int64(0)), state


class Sb3StyleAgent:
    """Stable-Baselines3's predict signature (``episode_start``)."""

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        return np.zeros(len(observation), dtype=np.int64), state


def test_returns_mean_and_std_or_every_episode() -> None:
    env = Countdown(3)
    mean_reward, std_reward = evaluate_policy(ConstantAgent(), env, n_eval_episodes=4)
    assert (mean_reward, std_reward) == (3.0, 0.0)
    assert env.reset_seeds == [0, 1, 2, 3]
    rewards, lengths = evaluate_policy(ConstantAgent(), env, n_eval_episodes=2, return_episode_rewards=True, seed=None)
    assert rewards == [3.0, 3.0] and lengths == [3, 3]
    assert env.reset_seeds[-2:] == [None, None]
    rewards, lengths = evaluate_policy(ConstantAgent(), env, n_eval_episodes=1, return_episode_rewards=True,
                                       max_episode_steps=2)
    assert (rewards, lengths) == ([2.0], [2])


def test_vec_env_episodes_are_distributed_over_the_environments() -> None:
    short, long = Countdown(1), Countdown(5)
    agent = ConstantAgent()
    rewards, lengths = evaluate_policy(agent, VecEnv([short, long]), n_eval_episodes=4, return_episode_rewards=True)
    # Counting the first 4 episodes to end would give four of the short env: each plays 2.
    assert sorted(rewards) == [1.0, 1.0, 5.0, 5.0] and sorted(lengths) == [1, 1, 5, 5]
    assert short.reset_seeds[0] == 0 and long.reset_seeds[0] == 1
    np.testing.assert_array_equal(agent.masks[0], [True, True])
    np.testing.assert_array_equal(agent.masks[1], [True, False])
    rewards, _ = evaluate_policy(Sb3StyleAgent(), VecEnv([Countdown(2), Countdown(4), Countdown(6)]),
                                 n_eval_episodes=5, return_episode_rewards=True)
    assert sorted(rewards) == [2.0, 4.0, 4.0, 6.0, 6.0]
    sync = gymnasium.vector.SyncVectorEnv([lambda: Countdown(2), lambda: Countdown(3)])
    assert evaluate_policy(ConstantAgent(), sync, n_eval_episodes=2) == (2.5, 0.5)
    with pytest.raises(ValueError, match="max_episode_steps applies to a single gymnasium env"):
        evaluate_policy(ConstantAgent(), VecEnv([Countdown(1)]), max_episode_steps=3)


def test_callback_and_render_run_after_every_step() -> None:
    env = Countdown(3)
    seen: list[int] = []
    evaluate_policy(ConstantAgent(), env, n_eval_episodes=2, render=True,
                    callback=lambda local_vars, global_vars: seen.append(local_vars["episode_length"]))
    assert seen == [1, 2, 3, 1, 2, 3] and env.renders == 6
    envs = [Countdown(2), Countdown(2)]
    steps: list[int] = []
    evaluate_policy(ConstantAgent(), VecEnv(envs), n_eval_episodes=2, render=True,
                    callback=lambda local_vars, _: steps.append(int(local_vars["current_lengths"].max())))
    assert steps == [1, 0] and [env.renders for env in envs] == [2, 2]


def test_reward_threshold_is_an_assertion_error() -> None:
    assert evaluate_policy(ConstantAgent(), Countdown(3), n_eval_episodes=1, reward_threshold=2.9) == (3.0, 0.0)
    with pytest.raises(AssertionError, match=r"mean reward 3.00 over 1 episodes is not above the threshold 3.00"):
        evaluate_policy(ConstantAgent(), Countdown(3), n_eval_episodes=1, reward_threshold=3.0)
    with pytest.raises(RewardThresholdError):
        evaluate_policy(ConstantAgent(), Countdown(3), n_eval_episodes=1, reward_threshold=10)
    with pytest.raises(ValueError, match="n_eval_episodes must be at least 1, received 0"):
        evaluate_policy(ConstantAgent(), Countdown(3), n_eval_episodes=0)


def test_env_id_and_a_real_model() -> None:
    from stable_baselines_io import PPO

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, seed=0, policy_kwargs={"net_arch": [8]})
    first = evaluate_policy(model, "CartPole-v1", n_eval_episodes=3)
    assert first == evaluate_policy(model, "CartPole-v1", n_eval_episodes=3)
    rewards, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=3, return_episode_rewards=True)
    assert len(rewards) == 3
