"""A2C: Stable Baselines 2's names and optimizer, its files (legacy and zip), exact resume.

Learning CartPole-v1 is measured by ``benchmarks/bench_learning.py --algo a2c``, not here.
"""

from __future__ import annotations

import base64
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from stable_baselines_io import A2C, PPO
from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.optimizers import RMSProp
from stable_baselines_io.conversion import convert_file
from stable_baselines_io.exceptions import AlgorithmMismatchError
from stable_baselines_io.format.archive import TRAINING_ARRAYS_MEMBER, TRAINING_STATE_MEMBER
from stable_baselines_io.schedules import LR_SCHEDULE_FACTORS

SB2_A2C_FILE = "zoo/a2c/CartPole-v1.pkl"
#: references.json / SOURCES.md: 20 episodes, reset with seeds 0..19, deterministic actions.
SB2_A2C_REFERENCE_REWARD = 500.0
#: The data keys Stable Baselines 2.10's A2C.save wrote, in its order.
SB2_A2C_DATA_KEYS = ["gamma", "n_steps", "vf_coef", "ent_coef", "max_grad_norm", "learning_rate", "alpha", "epsilon",
                     "lr_schedule", "verbose", "policy", "observation_space", "action_space", "n_envs",
                     "n_cpu_tf_sess", "seed", "_vectorize_action", "policy_kwargs"]
HYPERPARAMETERS = dict(n_steps=8, ent_coef=0.02, vf_coef=0.4, max_grad_norm=0.6, policy_kwargs=dict(net_arch=[32]),
                       seed=0)
N_BATCH = 8
N = 12 * N_BATCH
M = 5 * N_BATCH


@pytest.fixture(scope="module")
def op_determinism() -> Any:
    """Deterministic TensorFlow ops for the tests that ask for it, then the setting as it was."""
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


def _load_quietly(cls: type, path: Path, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy format's warning
        return cls.load(path, **kwargs)


def _mean_reward(model: Any) -> float:
    returns, _ = evaluate_policy(model, "CartPole-v1", n_eval_episodes=20, deterministic=True,
                                 return_episode_rewards=True, seed=0)
    assert len(returns) == 20
    return float(np.mean(returns))


# --- Stable Baselines 2's A2C -------------------------------------------------------------------


def test_hyperparameters_have_stable_baselines_2_names_and_defaults() -> None:
    model = A2C("MlpPolicy", "CartPole-v1")
    defaults = dict(gamma=0.99, n_steps=5, vf_coef=0.25, ent_coef=0.01, max_grad_norm=0.5, learning_rate=7e-4,
                    alpha=0.99, momentum=0.0, epsilon=1e-5, lr_schedule="constant")
    assert {name: getattr(model, name) for name in defaults} == defaults
    stored_by_sb2 = set(SB2_A2C_DATA_KEYS)
    assert stored_by_sb2 <= set(model._get_save_data())  # noqa: SLF001


def test_the_zoo_agent_loads_in_safe_mode_and_reproduces_its_reference_reward(sb2_fixture_dir: Path) -> None:
    model = _load_quietly(A2C, sb2_fixture_dir / SB2_A2C_FILE, safe_mode=True)
    assert (model.alpha, model.epsilon, model.lr_schedule, model.n_envs) == (0.99, 1e-5, "linear", 8)
    assert len(model.get_parameters()) == 14
    assert _mean_reward(model) == SB2_A2C_REFERENCE_REWARD


def test_the_converted_zoo_agent_is_an_a2c_file(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        convert_file(sb2_fixture_dir / SB2_A2C_FILE, tmp_path / "converted")
    with zipfile.ZipFile(tmp_path / "converted.zip") as archive:
        assert json.loads(archive.read("metadata"))["algorithm"] == "A2C"
    assert _mean_reward(A2C.load(tmp_path / "converted.zip")) == SB2_A2C_REFERENCE_REWARD


def _global_pickle(module: str, name: str) -> dict[str, str]:
    """A data entry holding a class pickled by reference, as Stable Baselines 2 wrote its policy."""
    payload = base64.b64encode(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b".").decode()
    return {":type:": "<class 'abc.ABCMeta'>", ":serialized:": payload}


def sb2_a2c_zip(model: A2C, sb2_fixture_dir: Path, path: Path) -> None:
    """Write ``model`` as Stable Baselines 2.10's ``A2C.save`` did: its data keys in its order, the
    policy and the gym spaces cloudpickled (the spaces as a real Stable Baselines 2 file holds them),
    ``parameter_list`` and ``parameters``, no metadata."""
    with zipfile.ZipFile(sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip") as real:
        real_data = json.loads(real.read("data"))
    values = {**model._get_save_data(), "verbose": 1, "n_cpu_tf_sess": None, "seed": None}  # noqa: SLF001
    data = {key: values[key] for key in SB2_A2C_DATA_KEYS}
    data["policy"] = _global_pickle("stable_baselines.common.policies", "MlpPolicy")
    data["observation_space"] = real_data["observation_space"]
    data["action_space"] = real_data["action_space"]
    buffer = path.with_suffix(".ours.zip")
    model.save(buffer)
    with zipfile.ZipFile(buffer) as ours, zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data, indent=4))
        for member in ("parameters", "parameter_list"):
            archive.writestr(member, ours.read(member))
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("parameter_list"))[0] == "model/pi_fc0/w:0"


def test_a_stable_baselines_2_zip_file_loads_and_acts_as_saved(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    original = A2C("MlpPolicy", "CartPole-v1", seed=4, lr_schedule="linear").learn(200)
    sb2_a2c_zip(original, sb2_fixture_dir, tmp_path / "a2c_cartpole.zip")

    loaded = A2C.load(tmp_path / "a2c_cartpole.zip", safe_mode=True)
    assert loaded.lr_schedule == "linear" and loaded.optimizer.iterations.numpy() == 0
    observations = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0],
                                  original.predict(observations, deterministic=True)[0])
    with pytest.raises(AlgorithmMismatchError, match=r"none of the data keys.*PPO file.*another algorithm"):
        PPO.load(tmp_path / "a2c_cartpole.zip")
    loaded.set_env("CartPole-v1")
    loaded.learn(2 * loaded.n_steps)
    assert loaded.optimizer.iterations.numpy() == 2


@pytest.mark.parametrize("saved, loader", [(A2C, PPO), (PPO, A2C)])
def test_loading_the_other_actor_critic_algorithms_file_is_a_clear_error(tmp_path: Path, saved: type,
                                                                         loader: type) -> None:
    saved("MlpPolicy", "CartPole-v1", n_steps=16, seed=0).save(tmp_path / "agent")
    with pytest.raises(AlgorithmMismatchError, match=f"saved by {saved.__name__}, another algorithm"):
        loader.load(tmp_path / "agent")


def test_legacy_stable_baselines_2_ppo_file_is_refused_by_a2c(sb2_fixture_dir: Path) -> None:
    with pytest.raises(AlgorithmMismatchError, match=r"\['alpha', 'lr_schedule'\].*A2C file"):
        _load_quietly(A2C, sb2_fixture_dir / "ppo2__CartPole-v1.pkl")


# --- RMSProp as TensorFlow 1 ----------------------------------------------------------------------


def test_rmsprop_follows_tensorflow_1_semantics() -> None:
    initial = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
    variable = tf.Variable(initial, name="layer/w")
    optimizer = RMSProp([variable], learning_rate=0.1, decay=0.9, momentum=0.5, epsilon=1e-5)
    assert [slot.name for slot in optimizer.state_variables()] == [
        "RMSProp/iterations:0", "RMSProp/learning_rate:0", "layer/w/RMSProp:0", "layer/w/RMSProp_1:0"]
    np.testing.assert_array_equal(optimizer.state_variables()[2].numpy(), np.ones((2, 2)))  # mean square: ones

    expected, mean_square, momentum = initial.astype(np.float64), np.ones((2, 2)), np.zeros((2, 2))
    for gradient in (np.array([[1.0, -2.0], [0.5, 0.0]]), np.array([[0.1, 0.2], [-3.0, 1.0]])):
        optimizer.apply_gradients([tf.constant(gradient, tf.float32)])
        mean_square = 0.9 * mean_square + 0.1 * gradient ** 2
        momentum = 0.5 * momentum + 0.1 * gradient / np.sqrt(mean_square + 1e-5)
        expected -= momentum
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)
    assert optimizer.iterations.numpy() == 2


def test_lr_schedule_names_of_stable_baselines_2() -> None:
    # Stable Baselines 2's factors at elapsed fraction p = 1 - progress_remaining.
    assert [LR_SCHEDULE_FACTORS["linear"](remaining) for remaining in (1.0, 0.25)] == [1.0, 0.25]
    assert [LR_SCHEDULE_FACTORS["middle_drop"](remaining) for remaining in (0.8, 0.5)] == [0.8, 0.075]
    assert [LR_SCHEDULE_FACTORS["double_linear_con"](remaining) for remaining in (0.75, 0.2)] == [0.5, 0.125]
    assert [LR_SCHEDULE_FACTORS["double_middle_drop"](remaining) for remaining in (0.9, 0.5, 0.1)] == [0.9, 0.075,
                                                                                                        0.125]
    model = A2C("MlpPolicy", "CartPole-v1", n_steps=8, lr_schedule="linear", seed=0)
    model.learn(4 * 8)  # the last update starts at progress_remaining 1/4
    assert model.optimizer.learning_rate.numpy() == np.float32(7e-4 * 0.25)
    with pytest.raises(ValueError, match="unknown lr_schedule 'cosine'"):
        A2C("MlpPolicy", "CartPole-v1", lr_schedule="cosine")


# --- exact resume ---------------------------------------------------------------------------------


def state_arrays(model: A2C) -> dict[str, np.ndarray]:
    return {name: variable.numpy() for name, variable in model.get_state_variables().items()}


def assert_arrays_equal(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(actual) == list(expected)
    different = [name for name in expected if not np.array_equal(actual[name], expected[name])]
    assert not different, f"different arrays: {different}"


def stop_at(steps: int) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    return lambda local_vars, _: local_vars["self"].num_timesteps < steps


@pytest.mark.parametrize("lr_schedule", ["constant", "linear"])
def test_a_stopped_run_resumes_bit_exactly(op_determinism: Any, tmp_path: Path, lr_schedule: str,
                                           count_resets: Callable[[Any], list[int]]) -> None:
    uninterrupted = A2C("MlpPolicy", gymnasium.make("CartPole-v1"), lr_schedule=lr_schedule, **HYPERPARAMETERS)
    uninterrupted.learn(N + M + 3 * N_BATCH, callback=stop_at(N + M))

    env = gymnasium.make("CartPole-v1")
    interrupted = A2C("MlpPolicy", env, lr_schedule=lr_schedule, **HYPERPARAMETERS)
    interrupted.learn(N + M + 3 * N_BATCH, callback=stop_at(N))
    assert interrupted.num_timesteps == N and not interrupted._episode_starts.any()  # noqa: SLF001 - mid-episode
    interrupted.save(tmp_path / "agent")
    resumed = A2C.load(tmp_path / "agent", env=env, force_reset=False)
    resets = count_resets(resumed)
    resumed.learn(M, reset_num_timesteps=False)

    assert resets == []
    assert_arrays_equal(resumed.get_parameters(), uninterrupted.get_parameters())
    assert_arrays_equal(state_arrays(resumed), state_arrays(uninterrupted))
    assert resumed.num_timesteps == uninterrupted.num_timesteps == N + M
    assert resumed._n_updates == uninterrupted._n_updates == (N + M) // N_BATCH  # noqa: SLF001
    assert resumed._total_timesteps == uninterrupted._total_timesteps  # noqa: SLF001
    np.testing.assert_array_equal(resumed._last_obs, uninterrupted._last_obs)  # noqa: SLF001
    assert list(resumed.ep_info_buf) == list(uninterrupted.ep_info_buf)


def test_the_file_holds_the_rmsprop_state_without_save_code_of_its_own(tmp_path: Path) -> None:
    model = A2C("MlpPolicy", "CartPole-v1", **HYPERPARAMETERS).learn(3 * N_BATCH)
    model.save(tmp_path / "agent")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        state = json.loads(archive.read(TRAINING_STATE_MEMBER))
        assert TRAINING_ARRAYS_MEMBER in archive.namelist()
    assert list(state) == list(A2C._state_attrs)  # noqa: SLF001
    assert "save" not in vars(A2C) and "load" not in vars(A2C)
    loaded = A2C.load(tmp_path / "agent")
    assert_arrays_equal(state_arrays(loaded), state_arrays(model))
    assert loaded.optimizer.iterations.numpy() == 3
    assert "model/pi/w/RMSProp_1:0" in state_arrays(loaded)
