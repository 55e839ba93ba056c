"""Loading builds variables from the stored arrays (no initializer runs) and defers the optimizer."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from image_env import ImageChoiceEnv

from stable_baselines_io import DQN
from stable_baselines_io.common import policies
from stable_baselines_io.common.cnn_policies import CnnPolicy
from stable_baselines_io.common.recurrent_policies import CnnLnLstmPolicy, MlpLstmPolicy
from stable_baselines_io.common.stored_values import InitialDraw, StoredInitialValues, lazy_variable
from stable_baselines_io.common.tf_util import generator_from_seed
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import ParameterMismatchError
from stable_baselines_io.format.archive import TRAINING_ARRAYS_MEMBER
from stable_baselines_io.ppo import PPO


def never_called() -> np.ndarray:
    raise AssertionError("the initializer ran although the file has the variable")


def test_a_stored_array_replaces_a_callable_initializer_without_running_it() -> None:
    with StoredInitialValues({"layer/w:0": np.full((2, 3), 7.0)}) as stored:
        variable = lazy_variable(never_called, (2, 3), "layer/w")
    np.testing.assert_array_equal(variable.numpy(), np.full((2, 3), 7.0, np.float32))
    assert variable.dtype == tf.float32  # float64 cast within its kind, as load_parameters casts
    assert stored.used == {"layer/w:0"} and stored.covers([variable])


def test_a_variable_the_file_lacks_or_cannot_fit_keeps_its_initializer() -> None:
    with StoredInitialValues({"layer/b:0": np.ones(5, np.float32)}) as stored:
        wrong_shape = lazy_variable(lambda: np.zeros(3, np.float32), (3,), "layer/b")
        absent = lazy_variable(lambda: np.zeros(2, np.float32), (2,), "other/b")
    np.testing.assert_array_equal(wrong_shape.numpy(), np.zeros(3))
    np.testing.assert_array_equal(absent.numpy(), np.zeros(2))
    assert stored.used == set() and not stored.covers([wrong_shape])


def test_a_skipped_draw_advances_the_generator_as_the_draw_would() -> None:
    drawn, skipped = tf.random.Generator.from_seed(3), tf.random.Generator.from_seed(3)
    lazy_variable(InitialDraw(lambda: drawn.normal((4, 5), dtype=tf.float64), drawn, 20), (4, 5), "net/w",
                  dtype=tf.float64)
    with StoredInitialValues({"net/w:0": np.zeros((4, 5))}):
        lazy_variable(InitialDraw(never_called, skipped, 20), (4, 5), "net/w", dtype=tf.float64)
    np.testing.assert_array_equal(skipped.state.numpy(), drawn.state.numpy())


@pytest.fixture
def saved_ppo(tmp_path: Path) -> tuple[PPO, Path]:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, nminibatches=1, noptepochs=1,
                policy_kwargs=dict(net_arch=[8]), seed=0).learn(16)
    model.save(tmp_path / "agent.zip")
    return model, tmp_path / "agent.zip"


def test_load_draws_no_weights_and_builds_no_optimizer(saved_ppo: tuple[PPO, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = saved_ppo
    monkeypatch.setattr(policies, "orthogonal_init", lambda *args: never_called())
    loaded = PPO.load(path)
    assert loaded._optimizer is None  # noqa: SLF001
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(loaded.get_parameters()[name], value)
    # the optimizer is built with the stored state on first use
    assert loaded.optimizer.iterations.numpy() == model.optimizer.iterations.numpy() == 1


def test_a_bad_stored_optimizer_slot_fails_at_load_naming_it(saved_ppo: tuple[PPO, Path], tmp_path: Path) -> None:
    _, path = saved_ppo
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == TRAINING_ARRAYS_MEMBER:
                arrays = dict(np.load(io.BytesIO(content)))
                arrays["model/pi/w/Adam:0"] = np.zeros((3, 3), np.float32)
                buffer = io.BytesIO()
                np.savez(buffer, **arrays)
                content = buffer.getvalue()
            target.writestr(info, content)
    with pytest.raises(ParameterMismatchError, match=r"'model/pi/w/Adam:0': expected shape \(8, 2\)"):
        PPO.load(bad)


IMAGES = gymnasium.spaces.Box(0, 255, (36, 36, 1), np.uint8)
#: Policies whose variables go beyond Linear layers: convolutions, LSTM weights, layer norms, logstd.
BEYOND_LINEAR = [
    (CnnPolicy, IMAGES, gymnasium.spaces.Discrete(3), {}),
    (MlpLstmPolicy, gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Box(-1, 1, (2,)), dict(n_lstm=4)),
    (CnnLnLstmPolicy, IMAGES, gymnasium.spaces.MultiDiscrete([2, 3]), dict(n_lstm=4)),
]


def _no_weight_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policies, "orthogonal_init", lambda *args: never_called())


@pytest.mark.parametrize("policy_class, observation_space, action_space, kwargs", BEYOND_LINEAR,
                         ids=[case[0].__name__ for case in BEYOND_LINEAR])
def test_cnn_and_recurrent_policies_from_stored_arrays_draw_nothing_and_advance_the_generator(
        policy_class: type, observation_space: gymnasium.Space, action_space: gymnasium.Space,
        kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    new = policy_class(observation_space, action_space, generator=tf.random.Generator.from_seed(4), **kwargs)
    arrays = {variable.name: variable.numpy() + 1.0 for variable in new.get_parameter_list()}
    _no_weight_draws(monkeypatch)
    generator = tf.random.Generator.from_seed(4)
    with StoredInitialValues(arrays) as stored:
        loaded = policy_class(observation_space, action_space, generator=generator, **kwargs)
    assert stored.covers(loaded.get_parameter_list()) and stored.used == set(arrays)
    for variable in loaded.get_parameter_list():
        np.testing.assert_array_equal(variable.numpy(), arrays[variable.name])
    np.testing.assert_array_equal(generator.state.numpy(), new.generator.state.numpy())


@pytest.mark.parametrize("algorithm, policy, env", [
    (PPO, "CnnPolicy", lambda: ImageChoiceEnv(height=36, width=36, channels=1, n_positions=2)),
    (DQN, "CnnPolicy", lambda: ImageChoiceEnv(height=36, width=36, channels=1, n_positions=2)),
    (PPO, "MlpLstmPolicy", lambda: gymnasium.make("CartPole-v1")),
], ids=["ppo-cnn", "dqn-cnn", "ppo-lstm"])
def test_loading_cnn_and_recurrent_agents_runs_no_initializer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              algorithm: type, policy: str, env: Any) -> None:
    extra = dict(learning_starts=0, buffer_size=64) if algorithm is DQN else dict(n_steps=4, nminibatches=1)
    kwargs = dict(n_lstm=4) if "Lstm" in policy else None
    model = algorithm(policy, VecEnv([env()]), seed=0, policy_kwargs=kwargs, **extra).learn(8)
    model.save(tmp_path / "agent.zip")
    _no_weight_draws(monkeypatch)
    loaded = algorithm.load(tmp_path / "agent.zip")
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(loaded.get_parameters()[name], value)


@pytest.mark.parametrize("seed", [0, 7, 2**62, 2**64 - 1, 2**64 + 5, 2**200 + 3, -1, -(2**63), np.int64(42)])
def test_generator_from_seed_matches_tensorflow_from_seed(seed):
    ours, reference = generator_from_seed(seed), tf.random.Generator.from_seed(int(seed))

    assert ours.state.numpy().tolist() == reference.state.numpy().tolist()
    assert ours.algorithm == reference.algorithm
    np.testing.assert_array_equal(ours.normal([5]).numpy(), reference.normal([5]).numpy())


@pytest.mark.parametrize("net_arch", [[8, dict(pi=[16, 4], vf=[6])], [dict(pi=[], vf=[5])], [12]])
def test_acting_computes_only_the_policy_latent(net_arch) -> None:
    policy = policies.MlpPolicy(gymnasium.spaces.Box(-1, 1, (3,)), gymnasium.spaces.Discrete(4), net_arch=net_arch,
                                generator=tf.random.Generator.from_seed(1))
    observations = tf.constant(np.random.default_rng(0).normal(size=(9, 3)), tf.float32)

    np.testing.assert_array_equal(policy.pi_latent(observations).numpy(), policy.latent(observations)[0].numpy())
    distribution, _ = policy.forward(observations)
    eager = policy.deterministic_actions(observations).numpy()
    policy.deterministic_actions.eager_calls_left = 0
    np.testing.assert_array_equal(eager, distribution.mode().numpy())
    np.testing.assert_array_equal(policy.deterministic_actions(observations).numpy(), eager)
    np.testing.assert_array_equal(policy.action_proba(observations).numpy(), distribution.probabilities().numpy())


def test_docstring_examples_of_tf_util_and_stored_values() -> None:
    import doctest

    from stable_baselines_io.common import stored_values, tf_util

    for module in (tf_util, stored_values):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
