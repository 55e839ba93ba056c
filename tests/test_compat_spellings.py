"""Stable Baselines 2 and Stable-Baselines3 spellings: ``n_cpu_tf_sess``, ``policy_kwargs`` errors,
NumPy-valued schedules, ``set_env(force_reset=...)``."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.common.tf_util import configure_tf_threads
from stable_baselines_io.exceptions import EnvApiMismatchError, UnknownPolicyKwargsError
from stable_baselines_io.schedules import ConstantSchedule, get_schedule_fn

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_n_cpu_tf_sess_sets_the_threads_of_the_first_model_in_a_process() -> None:
    code = (
        "import warnings, tensorflow as tf\n"
        "from stable_baselines_io import PPO, DQN\n"
        "model = PPO('MlpPolicy', 'CartPole-v1', n_steps=16, n_cpu_tf_sess=1)\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads())\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    DQN('MlpPolicy', 'CartPole-v1', n_cpu_tf_sess=1)\n"
        "    DQN('MlpPolicy', 'CartPole-v1', n_cpu_tf_sess=2)\n"
        "print([str(w.message) for w in caught])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    threads, messages = result.stdout.strip().splitlines()
    assert threads == "1 1"
    assert "n_cpu_tf_sess=2 is not applied: TensorFlow has already initialized its thread pools" in messages
    assert messages.count("n_cpu_tf_sess") == 1


@pytest.mark.parametrize("algorithm", [PPO, A2C, DQN])
def test_n_cpu_tf_sess_is_saved_and_validated(tmp_path: Path, algorithm: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TensorFlow is already running in this process
        model = algorithm("MlpPolicy", "CartPole-v1", n_cpu_tf_sess=3)
        model.save(tmp_path / "agent")
        assert algorithm.load(tmp_path / "agent").n_cpu_tf_sess == 3
    with pytest.warns(UserWarning, match="n_cpu_tf_sess=5 is not applied"):
        algorithm.load(tmp_path / "agent", n_cpu_tf_sess=5)
    assert configure_tf_threads(None) and configure_tf_threads(0)
    with pytest.raises(ValueError, match="n_cpu_tf_sess must be a positive number of threads or None, received -1"):
        configure_tf_threads(-1)


@pytest.mark.parametrize("algorithm, kwargs", [(PPO, {"net_arch": [8], "dueling": True}), (DQN, {"net_arch": [8]})])
def test_unknown_policy_kwargs_are_a_value_error(algorithm: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^Unknown keywords for policy: \[") as error:
        algorithm("MlpPolicy", "CartPole-v1", policy_kwargs=kwargs)
    assert isinstance(error.value, UnknownPolicyKwargsError) and isinstance(error.value, TypeError)


def test_numpy_schedules_are_cast_to_float() -> None:
    schedule = get_schedule_fn(lambda progress: np.float64(1e-3 * progress))
    assert type(schedule(0.5)) is float and schedule(0.5) == 5e-4
    assert get_schedule_fn(np.float32(0.25)) == ConstantSchedule(0.25)
    with pytest.raises(TypeError, match=r"returned 'fast' for progress_remaining=1.0: expected a number"):
        get_schedule_fn(lambda progress: "fast")(1.0)
    with pytest.raises(TypeError, match="expected a number or a schedule callable, received True"):
        get_schedule_fn(True)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, noptepochs=1, seed=0,
                learning_rate=lambda progress: np.float64(3e-4 * progress),
                cliprange=lambda progress: np.float64(0.2))
    model.learn(total_timesteps=32)
    assert model.optimizer.learning_rate.numpy() == np.float32(3e-4 * 0.5)
    dqn = DQN("MlpPolicy", "CartPole-v1", learning_starts=8, seed=0, learning_rate=lambda p: np.float64(1e-3))
    dqn.learn(total_timesteps=16)
    assert dqn.optimizer.learning_rate.numpy() == np.float32(1e-3)


def test_set_env_force_reset(count_resets: Callable[[Any], list[int]]) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, seed=0).learn(total_timesteps=16)
    last_obs = model._last_obs.copy()
    resets = count_resets(model)
    model.set_env(model.get_env(), force_reset=False)
    np.testing.assert_array_equal(model._last_obs, last_obs)
    model.learn(total_timesteps=16, reset_num_timesteps=False)
    assert resets == []
    model.set_env(model.get_env())
    assert model._last_obs is None
    model.learn(total_timesteps=16)
    assert resets == [1]


def test_save_exclude_and_include(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, seed=0, gamma=0.5)
    model.my_note = "hello"  # type: ignore[attr-defined]
    model.save(tmp_path / "agent", include=["my_note"], exclude=["gamma"])
    loaded = PPO.load(tmp_path / "agent")
    assert loaded.gamma == 0.99  # excluded: the constructor's default
    assert loaded.my_note == "hello"  # type: ignore[attr-defined]
    loaded.my_note = "changed"  # type: ignore[attr-defined]
    loaded.save(tmp_path / "again")
    assert PPO.load(tmp_path / "again").my_note == "changed"  # type: ignore[attr-defined]


def test_save_include_of_a_missing_attribute_is_an_error(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, seed=0)
    with pytest.raises(AttributeError, match="PPO has no attribute 'nothing_here' to include"):
        model.save(tmp_path / "agent", include=["nothing_here"])
    assert not (tmp_path / "agent.zip").exists()



def test_predict_on_a_gymnasium_reset_tuple_is_a_clear_error() -> None:
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    model = PPO("MlpPolicy", env, n_steps=16, nminibatches=1, seed=0)
    reset_result = env.reset(seed=0)
    with pytest.raises(EnvApiMismatchError, match=r"predict\(\) received an \(observation, info\) tuple"):
        model.predict(reset_result)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pass the observation alone"):
        model.action_probability(reset_result)  # type: ignore[arg-type]
    action, _ = model.predict(reset_result[0])
    assert env.action_space.contains(int(action))
