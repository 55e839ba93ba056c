"""Distributed evaluation: the same episode returns as the local evaluation, weights sent only when new."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import pytest

from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.vec_env import make_vec_env
from stable_baselines_io.common.vec_normalize import VecNormalize
from stable_baselines_io.distributed.ray_evaluation import RayEvaluator
from stable_baselines_io.exceptions import RewardThresholdError
from stable_baselines_io.ppo import PPO

N_EPISODES = 5
# Short episodes keep the test fast; the limit is the env's own (a TimeLimit wrapper).
SHORT_CARTPOLE = functools.partial(gymnasium.make, "CartPole-v1", max_episode_steps=40)


@pytest.fixture(scope="module")
def model() -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", n_steps=32, nminibatches=2, noptepochs=1,
               policy_kwargs=dict(net_arch=[16]), seed=0).learn(32)


@pytest.fixture(scope="module")
def evaluator(ray_cluster: Any) -> Any:
    with RayEvaluator(SHORT_CARTPOLE, n_workers=2, num_cpus_per_worker=0.5) as pool:
        yield pool


def test_same_episode_rewards_as_local_evaluation(model: PPO, evaluator: RayEvaluator) -> None:
    local = evaluate_policy(model, SHORT_CARTPOLE(), N_EPISODES, return_episode_rewards=True, seed=10)
    distributed = evaluator.evaluate(model, N_EPISODES, return_episode_rewards=True, seed=10)
    assert distributed == local
    assert len(set(local[1])) > 1  # different episodes, so the order was checked too
    mean, std = evaluator.evaluate(model, N_EPISODES, seed=10)
    assert (mean, std) == evaluate_policy(model, SHORT_CARTPOLE(), N_EPISODES, seed=10)
    with pytest.raises(RewardThresholdError, match=f"over {N_EPISODES} episodes is not above the threshold 1000.00"):
        evaluator.evaluate(model, N_EPISODES, reward_threshold=1000.0)


def test_unchanged_weights_are_not_sent_again(model: PPO, evaluator: RayEvaluator) -> None:
    evaluator.evaluate(model, 2)
    version, loads = evaluator.weights_version, [stats["weight_loads"] for stats in evaluator.worker_stats()]
    evaluator.evaluate(model, 2)
    assert evaluator.weights_version == version
    assert [stats["weight_loads"] for stats in evaluator.worker_stats()] == loads
    model.learn(32, reset_num_timesteps=False)
    local = evaluate_policy(model, SHORT_CARTPOLE(), 2, return_episode_rewards=True)
    assert evaluator.evaluate(model, 2, return_episode_rewards=True) == local
    assert evaluator.weights_version == version + 1
    assert evaluator.worker_stats() == [{"weights_version": version + 1, "weight_loads": count + 1}
                                        for count in loads]


def test_evaluate_policy_with_ray_workers(model: PPO, ray_cluster: Any) -> None:
    local = evaluate_policy(model, "CartPole-v1", 2, return_episode_rewards=True, max_episode_steps=30)
    assert evaluate_policy(model, "CartPole-v1", 2, return_episode_rewards=True, max_episode_steps=30,
                           ray_workers=1) == local


def test_ray_workers_refuse_what_cannot_travel(model: PPO) -> None:
    with pytest.raises(TypeError, match="with ray_workers, env must be an env id or a factory .* received CartPoleEnv"):
        evaluate_policy(model, gymnasium.make("CartPole-v1").unwrapped, ray_workers=2)
    with pytest.raises(ValueError, match="callback and render run beside the environment"):
        evaluate_policy(model, "CartPole-v1", render=True, ray_workers=2)
    with pytest.raises(ValueError, match="n_workers must be at least 1, received 0"):
        RayEvaluator("CartPole-v1", n_workers=0)


def test_a_factory_works_locally_too(model: PPO) -> None:
    assert evaluate_policy(model, SHORT_CARTPOLE, 2) == evaluate_policy(model, SHORT_CARTPOLE(), 2)


def test_normalization_statistics_travel_with_the_weights(evaluator: RayEvaluator, tmp_path: Any) -> None:
    normalized = PPO("MlpPolicy", VecNormalize(make_vec_env("CartPole-v1", 1)), n_steps=32, nminibatches=2,
                     noptepochs=1, policy_kwargs=dict(net_arch=[16]), seed=0).learn(64)
    statistics = normalized.get_vec_normalize()
    assert statistics is not None
    statistics.obs_rms.mean += 0.5  # far from the raw observations' mean: normalizing changes the actions
    # model.env is the VecNormalize: the local evaluation normalizes with its statistics
    local = evaluate_policy(normalized, SHORT_CARTPOLE(), N_EPISODES, return_episode_rewards=True, seed=3)
    assert evaluator.evaluate(normalized, N_EPISODES, return_episode_rewards=True, seed=3) == local
    version = evaluator.weights_version
    unnormalized = evaluate_policy(_same_weights_without_statistics(normalized), SHORT_CARTPOLE(), N_EPISODES,
                                   return_episode_rewards=True, seed=3)
    assert unnormalized != local  # the statistics matter for this model

    statistics.obs_rms.mean -= 1.0  # new statistics, same weights: a new version
    local = evaluate_policy(normalized, SHORT_CARTPOLE(), N_EPISODES, return_episode_rewards=True, seed=3)
    assert evaluator.evaluate(normalized, N_EPISODES, return_episode_rewards=True, seed=3) == local
    assert evaluator.weights_version == version + 1

    # a loaded model holds its statistics and normalizes in predict
    normalized.save(tmp_path / "normalized.zip")
    loaded = PPO.load(tmp_path / "normalized.zip")
    assert evaluator.evaluate(loaded, N_EPISODES, return_episode_rewards=True, seed=3) == local
    assert evaluate_policy(loaded, SHORT_CARTPOLE(), N_EPISODES, return_episode_rewards=True, seed=3) == local


def _same_weights_without_statistics(model: PPO) -> PPO:
    copy = PPO("MlpPolicy", "CartPole-v1", n_steps=32, nminibatches=2, noptepochs=1, policy_kwargs=dict(net_arch=[16]))
    copy.load_parameters(model.get_parameters())
    return copy
