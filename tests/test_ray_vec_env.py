"""RayVecEnv: environments in Ray actors behave as the in-process VecEnv, bit for bit."""

from __future__ import annotations

import functools
import json
import time
import zipfile
from typing import Any

import gymnasium
import numpy as np
import pytest

from stable_baselines_io.a2c import A2C
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.common.vec_normalize import VecNormalize
from stable_baselines_io.distributed.ray_vec_env import ENV_STATE_HEADER_MEMBER, RayVecEnv, make_ray_vec_env
from stable_baselines_io.dqn import DQN
from stable_baselines_io.exceptions import RayActorDiedError, UnsupportedFeatureError
from stable_baselines_io.format.normalization import statistics_to_arrays
from stable_baselines_io.ppo import PPO

N_ENVS = 4
CARTPOLE = functools.partial(gymnasium.make, "CartPole-v1")
SMALL = dict(policy_kwargs=dict(net_arch=[16]), seed=3)
DQN_SMALL = dict(policy_kwargs=dict(layers=[16]), seed=3)
ALGORITHMS = {
    "ppo": (PPO, dict(n_steps=16, nminibatches=2, noptepochs=2, **SMALL), 2 * 16 * N_ENVS),
    "a2c": (A2C, dict(n_steps=5, **SMALL), 4 * 5 * N_ENVS),
    "dqn": (DQN, dict(learning_starts=16, batch_size=8, buffer_size=500, target_network_update_freq=16,
                      exploration_fraction=0.5, **DQN_SMALL), 24 * N_ENVS),
}


@pytest.fixture(scope="module")
def ray_env(ray_cluster: Any) -> Any:
    """One RayVecEnv for the module (starting actors is what costs time); each test seeds or resets it."""
    env = RayVecEnv([CARTPOLE] * N_ENVS, envs_per_actor=2, num_cpus_per_actor=0.5)
    yield env
    env.close()


def local_env() -> VecEnv:
    return VecEnv([CARTPOLE() for _ in range(N_ENVS)])


def test_steps_are_those_of_the_in_process_vec_env(ray_env: RayVecEnv, same: Any) -> None:
    local = local_env()
    assert ray_env.observation_space == local.observation_space and ray_env.action_space == local.action_space
    assert ray_env.spec.id == "CartPole-v1"
    assert ray_env.actor_slices == [(0, 2), (2, 4)]
    for env in (ray_env, local):
        env.seed(7)
    same(ray_env.reset(), local.reset())
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(60):
        actions = rng.integers(2, size=N_ENVS)
        ray_result, local_result = ray_env.step(actions), local.step(actions)
        same(list(ray_result), list(local_result))
        finished += sum("episode" in info for info in local_result[4])
        same(ray_env.get_episode_stats(), local.get_episode_stats())
    assert finished > 0  # the auto-reset and terminal_observation path was compared too
    assert ray_env.action_space.sample() == local.action_space.sample()


def test_episode_stats_are_set_per_actor(ray_env: RayVecEnv, same: Any) -> None:
    stats = {"returns": np.array([1.0, 2.0, 3.0, 4.0]), "lengths": np.array([1, 2, 3, 4])}
    ray_env.set_episode_stats(stats)
    same(ray_env.get_episode_stats(), stats)
    with pytest.raises(ValueError, match="episode stats for 3 environments, this VecEnv has 4"):
        ray_env.set_episode_stats({"returns": np.zeros(3), "lengths": np.zeros(3)})


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_training_ends_with_the_same_weights_as_in_process(ray_env: RayVecEnv, algorithm: str, same: Any) -> None:
    model_class, hyperparameters, steps = ALGORITHMS[algorithm]
    local = model_class("MlpPolicy", local_env(), **hyperparameters)
    remote = model_class("MlpPolicy", ray_env, **hyperparameters)
    # Two learn calls: the second continues the environments (no reset), as force_reset=False does.
    for model in (local, remote):
        model.learn(steps // 2).learn(steps // 2, reset_num_timesteps=False)
    same(dict(remote.get_parameters()), dict(local.get_parameters()))
    same(remote._last_obs, local._last_obs)  # noqa: SLF001
    assert list(remote.ep_info_buf) == list(local.ep_info_buf)


def test_load_with_force_reset_false_continues_the_actors(ray_env: RayVecEnv, tmp_path: Any, same: Any) -> None:
    model_class, hyperparameters, steps = ALGORITHMS["ppo"]
    local = model_class("MlpPolicy", local_env(), **hyperparameters).learn(steps)
    first = model_class("MlpPolicy", ray_env, **hyperparameters).learn(steps // 2)
    first.save(tmp_path / "agent.zip")
    resumed = PPO.load(tmp_path / "agent.zip", env=ray_env, force_reset=False)
    resumed.learn(steps // 2, reset_num_timesteps=False)
    same(dict(resumed.get_parameters()), dict(local.get_parameters()))
    assert PPO.load(tmp_path / "agent.zip").get_env() is None


def test_environment_state_round_trips_through_a_file(ray_env: RayVecEnv, tmp_path: Any, same: Any) -> None:
    ray_env.seed(1)
    ray_env.reset()
    actions = np.random.default_rng(1).integers(2, size=(30, N_ENVS))
    for step_actions in actions[:10]:
        ray_env.step(step_actions)
    ray_env.save_env_state(tmp_path / "envs.zip")
    first = [ray_env.step(step_actions) for step_actions in actions[10:]]
    ray_env.load_env_state(tmp_path / "envs.zip")
    second = [ray_env.step(step_actions) for step_actions in actions[10:]]
    same([list(result) for result in second], [list(result) for result in first])


def test_environment_state_of_another_layout_is_refused(ray_env: RayVecEnv, tmp_path: Any) -> None:
    with zipfile.ZipFile(tmp_path / "envs.zip", "w") as archive:
        archive.writestr(ENV_STATE_HEADER_MEMBER, json.dumps({"num_envs": 4, "actor_slices": [[0, 4]]}))
    with pytest.raises(ValueError, match=r"of 4 environments in actors \[\(0, 4\)\]; this RayVecEnv has 4 in actors "
                                         r"\[\(0, 2\), \(2, 4\)\]"):
        ray_env.load_env_state(tmp_path / "envs.zip")


def test_an_exception_in_an_environment_keeps_its_type(ray_env: RayVecEnv) -> None:
    ray_env.reset()
    with pytest.raises(AssertionError, match="invalid"):
        ray_env.step(np.full(N_ENVS, 5))


def test_a_dead_actor_is_named_by_its_environments_and_close_still_works(ray_cluster: Any) -> None:
    env = make_ray_vec_env("CartPole-v1", n_envs=3, envs_per_actor=2, num_cpus_per_actor=0.5)
    env.reset()
    actors = list(env._actors)  # noqa: SLF001
    ray_cluster.kill(actors[1])
    _wait_until_dead(ray_cluster, actors[1])
    with pytest.raises(RayActorDiedError, match="the Ray actor holding environment 2 died: its state") as caught:
        env.step(np.zeros(3, dtype=np.int64))
    assert caught.value.env_indices == (2,)
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="this RayVecEnv is closed"):
        env.reset()
    _wait_until_dead(ray_cluster, actors[0])  # close killed the other actor too (ray.kill does not wait)


def _wait_until_dead(ray: Any, actor: Any, seconds: float = 60.0) -> None:
    """``ray.kill`` returns before the actor is gone: a step sent at once may still be answered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ray.get(actor.reset.remote(), timeout=seconds)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the killed actor still answered after {seconds} s")


def test_arguments_and_driver_side_limits_are_checked(ray_env: RayVecEnv) -> None:
    with pytest.raises(ValueError, match="needs at least one environment factory"):
        RayVecEnv([])
    with pytest.raises(ValueError, match="envs_per_actor must be at least 1, received 0"):
        RayVecEnv([CARTPOLE], envs_per_actor=0)
    with pytest.raises(ValueError, match=r"expected one action per environment \(4\), received 2"):
        ray_env.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(UnsupportedFeatureError, match="live in Ray actors"):
        _ = ray_env.envs
    with pytest.raises(ValueError, match="env_kwargs applies to an env id"):
        make_ray_vec_env(CARTPOLE, env_kwargs={"render_mode": None})


def test_actors_that_cannot_be_placed_time_out_with_the_resources_named(ray_cluster: Any) -> None:
    with pytest.raises(TimeoutError, match="did not start within 1.0 s: each asks for 4 CPU and the cluster has 2"):
        RayVecEnv([CARTPOLE], num_cpus_per_actor=4, start_timeout=1.0)


def test_without_ray_initialised_or_installed_the_errors_say_what_to_do(run_python: Any) -> None:
    not_initialised = run_python(
        "import gymnasium\n"
        "from stable_baselines_io.distributed import RayVecEnv\n"
        "try:\n"
        "    RayVecEnv([lambda: gymnasium.make('CartPole-v1')])\n"
        "except RuntimeError as error:\n"
        "    print(type(error).__name__, error)\n")
    assert "RayNotInitializedError Ray is not initialised: call ray.init() first" in not_initialised.stdout
    assert "address='local'" in not_initialised.stdout and "address='auto'" in not_initialised.stdout
    not_installed = run_python(
        "import sys\n"
        "sys.modules['ray'] = None\n"
        "from stable_baselines_io.distributed import RayVecEnv, RayEvaluator\n"
        "for build in (lambda: RayVecEnv([object]), lambda: RayEvaluator('CartPole-v1')):\n"
        "    try:\n"
        "        build()\n"
        "    except ImportError as error:\n"
        "        print(type(error).__name__, error)\n")
    assert not_installed.stdout.count("RayDependencyError this feature needs the ray package") == 2
    assert 'pip install "stable-baselines-io[ray]"' in not_installed.stdout


@pytest.mark.parametrize("algorithm", ["ppo", "dqn"])
def test_vec_normalize_over_ray_actors_trains_as_over_the_in_process_vec_env(ray_env: RayVecEnv, algorithm: str,
                                                                             same: Any) -> None:
    model_class, hyperparameters, steps = ALGORITHMS[algorithm]
    local = model_class("MlpPolicy", VecNormalize(local_env()), **hyperparameters)
    remote = model_class("MlpPolicy", VecNormalize(ray_env), **hyperparameters)
    for model in (local, remote):
        model.learn(steps // 2).learn(steps // 2, reset_num_timesteps=False)
    same(dict(remote.get_parameters()), dict(local.get_parameters()))
    remote_statistics, local_statistics = remote.get_vec_normalize(), local.get_vec_normalize()
    assert remote_statistics is not None and local_statistics is not None
    same(statistics_to_arrays(remote_statistics.get_statistics(include_returns=True)),
         statistics_to_arrays(local_statistics.get_statistics(include_returns=True)))
    assert local_statistics.obs_rms.count > steps  # the statistics moved: normalization took part
    same(remote._last_obs, local._last_obs)  # noqa: SLF001
