"""``load`` without building: a loaded model acts from constants and builds its variables on demand.

See :mod:`stable_baselines_io.common.deferred_setup`. Exact resume through a deferred load is in
``test_exact_resume_ppo.py`` / ``test_exact_resume_dqn.py`` (every load there is deferred).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io.a2c import A2C
from stable_baselines_io.common.base_class import BaseRLModel
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.common.stored_values import StoredConstant, StoredInitialValues, lazy_variable
from stable_baselines_io.common.tf_util import PREDICT_EAGER_CALLS
from stable_baselines_io.dqn import DQN
from stable_baselines_io.ppo import PPO

OBSERVATIONS = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)


def is_deferred(model: BaseRLModel) -> bool:
    return "_deferred_setup" in vars(model)


def saved(tmp_path: Path, algorithm: type[BaseRLModel], **kwargs: Any) -> tuple[BaseRLModel, Path]:
    model = algorithm("MlpPolicy", "CartPole-v1", seed=3, **kwargs)
    if algorithm is DQN:
        model.learn(300)
    else:
        model.learn(128)
    path = tmp_path / "agent.zip"
    model.save(path)
    return model, path


def load_built(algorithm: type[BaseRLModel], path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
               ) -> BaseRLModel:
    """The model a load without deferral makes."""
    with monkeypatch.context() as patch:
        patch.setattr(algorithm, "_defer_setup_on_load", False)
        model = algorithm.load(path, **kwargs)
    assert not is_deferred(model)
    return model


ALGORITHMS = [pytest.param(PPO, dict(n_steps=64, nminibatches=2), id="ppo"),
              pytest.param(A2C, dict(n_steps=16), id="a2c"),
              pytest.param(DQN, dict(learning_starts=100), id="dqn")]


@pytest.mark.parametrize(("algorithm", "kwargs"), ALGORITHMS)
def test_deterministic_predictions_come_from_the_file_without_building(
        algorithm: type[BaseRLModel], kwargs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original, path = saved(tmp_path, algorithm, **kwargs)
    loaded = algorithm.load(path)
    assert is_deferred(loaded)
    actions = [loaded.predict(observation, deterministic=True)[0] for observation in OBSERVATIONS]
    batch_actions, _ = loaded.predict(OBSERVATIONS, deterministic=True)
    assert is_deferred(loaded), "deterministic predictions must not build the model"
    built = load_built(algorithm, path, monkeypatch)
    np.testing.assert_array_equal(actions, [built.predict(observation, deterministic=True)[0]
                                            for observation in OBSERVATIONS])
    np.testing.assert_array_equal(batch_actions, built.predict(OBSERVATIONS, deterministic=True)[0])
    np.testing.assert_array_equal(batch_actions, original.predict(OBSERVATIONS, deterministic=True)[0])


@pytest.mark.parametrize(("algorithm", "kwargs"), ALGORITHMS)
def test_the_model_is_built_after_the_eager_predictions_and_keeps_acting_alike(
        algorithm: type[BaseRLModel], kwargs: dict[str, Any], tmp_path: Path) -> None:
    original, path = saved(tmp_path, algorithm, **kwargs)
    loaded = algorithm.load(path)
    observations = np.random.default_rng(1).normal(size=(PREDICT_EAGER_CALLS + 3, 4)).astype(np.float32)
    actions = []
    for index, observation in enumerate(observations):
        assert is_deferred(loaded) == (index <= PREDICT_EAGER_CALLS)
        actions.append(loaded.predict(observation, deterministic=True)[0])
    assert not is_deferred(loaded)
    np.testing.assert_array_equal(actions, [original.predict(observation, deterministic=True)[0]
                                            for observation in observations])


@pytest.mark.parametrize(("algorithm", "kwargs"), ALGORITHMS)
def test_sampled_actions_build_first_and_sample_as_a_built_load(
        algorithm: type[BaseRLModel], kwargs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = saved(tmp_path, algorithm, **kwargs)
    loaded = algorithm.load(path)
    sampled = [loaded.predict(observation)[0] for observation in OBSERVATIONS]
    assert not is_deferred(loaded)
    built = load_built(algorithm, path, monkeypatch)
    np.testing.assert_array_equal(sampled, [built.predict(observation)[0] for observation in OBSERVATIONS])


@pytest.mark.parametrize(("algorithm", "kwargs"), ALGORITHMS)
def test_what_the_setup_makes_builds_the_model_on_first_access(
        algorithm: type[BaseRLModel], kwargs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original, path = saved(tmp_path, algorithm, **kwargs)
    loaded = algorithm.load(path)
    assert loaded.num_timesteps == original.num_timesteps  # the training state is there without building
    assert is_deferred(loaded)
    parameters = loaded.get_parameters()
    assert not is_deferred(loaded)
    expected = original.get_parameters()
    assert list(parameters) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(parameters[name], expected[name])
    built = load_built(algorithm, path, monkeypatch)
    assert set(vars(loaded)) == set(vars(built))
    for name, variable in built.get_state_variables().items():
        np.testing.assert_array_equal(loaded.get_state_variables()[name].numpy(), variable.numpy(), err_msg=name)


def test_a_missing_attribute_is_an_attribute_error_after_building(tmp_path: Path) -> None:
    _, path = saved(tmp_path, PPO, n_steps=64, nminibatches=2)
    loaded = PPO.load(path)
    with pytest.raises(AttributeError, match="'PPO' object has no attribute 'no_such_thing'"):
        loaded.no_such_thing  # noqa: B018
    assert not is_deferred(loaded)
    assert isinstance(loaded.policy_net, MlpPolicy)


def test_building_later_neither_reseeds_the_global_generators_nor_loses_changes(tmp_path: Path) -> None:
    _, path = saved(tmp_path, DQN, learning_starts=100)
    loaded = DQN.load(path)
    stored_rng_state = loaded.__dict__["_deferred_setup"].kept["rng"].bit_generator.state
    loaded.exploration_final_eps = 0.5
    loaded.num_timesteps = 7
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.RandomState(123).rand(), random.Random(123).random())
    loaded.q_net  # noqa: B018 (builds)
    assert not is_deferred(loaded)
    assert (np.random.rand(), random.random()) == expected
    assert (loaded.exploration_final_eps, loaded.num_timesteps) == (0.5, 7)
    assert loaded.rng.bit_generator.state == stored_rng_state


def test_a_policy_that_cannot_be_set_up_on_constants_loads_built(tmp_path: Path) -> None:
    class HandlePolicy(MlpPolicy):
        """Reads a variable's resource handle while it is built, which a constant does not have."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.pi_handle = self.pi.w.handle

    model = PPO(HandlePolicy, "CartPole-v1", seed=0, n_steps=64, nminibatches=2)
    model.save(tmp_path / "agent.zip")
    loaded = PPO.load(tmp_path / "agent.zip", safe_mode=False, policy=HandlePolicy)
    assert not is_deferred(loaded)
    np.testing.assert_array_equal(loaded.predict(OBSERVATIONS, deterministic=True)[0],
                                  model.predict(OBSERVATIONS, deterministic=True)[0])


def test_a_recurrent_policy_is_built_at_its_first_prediction(tmp_path: Path) -> None:
    model = PPO("MlpLstmPolicy", "CartPole-v1", seed=0, n_steps=16, nminibatches=1, policy_kwargs=dict(n_lstm=8))
    model.save(tmp_path / "agent.zip")
    loaded = PPO.load(tmp_path / "agent.zip")
    assert is_deferred(loaded)
    actions, states = loaded.predict(OBSERVATIONS[:1], deterministic=True)
    assert not is_deferred(loaded)
    expected, expected_states = model.predict(OBSERVATIONS[:1], deterministic=True)
    np.testing.assert_array_equal(actions, expected)
    np.testing.assert_array_equal(states, expected_states)


def test_constant_mode_makes_named_constants_and_leaves_generators_alone() -> None:
    generator = tf.random.Generator.from_seed(1)
    state = generator.state.numpy()
    from stable_baselines_io.common.stored_values import InitialDraw

    with StoredInitialValues({"layer/w:0": np.ones(2, np.float32)}, as_constants=True) as stored:
        draw = InitialDraw(lambda: np.zeros(2, np.float32), generator, n_draws=2)
        weights = lazy_variable(draw, (2,), "layer/w")
        other = lazy_variable(lambda: np.full(3, 2.0, np.float32), (3,), "layer/b")
    assert isinstance(weights, StoredConstant) and isinstance(other, StoredConstant)
    assert (weights.name, other.name) == ("layer/w:0", "layer/b:0")
    assert weights.numpy().tolist() == [1.0, 1.0] and other.numpy().tolist() == [2.0, 2.0, 2.0]
    assert stored.used == {"layer/w:0"} and stored.covers([weights]) and not stored.covers([other])
    np.testing.assert_array_equal(generator.state.numpy(), state)
    assert (tf.constant([[1.0, 2.0]]) @ tf.reshape(weights, (2, 1))).numpy().tolist() == [[3.0]]
    other.assign(np.zeros(3, np.float32))
    assert other.numpy().tolist() == [0.0, 0.0, 0.0]


def test_load_sets_tensorflows_global_seed_only_when_it_changes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Setting it flushes TensorFlow's kernel cache: a sweep of loads with one seed must not pay that each time."""
    _, path = saved(tmp_path, PPO, n_steps=64, nminibatches=2)  # seed 3
    calls: list[Any] = []
    real_set_seed = tf.random.set_seed
    monkeypatch.setattr(tf.random, "set_seed", lambda seed: (calls.append(seed), real_set_seed(seed)))
    real_set_seed(1)
    PPO.load(path)
    assert calls == [3]
    PPO.load(path)
    PPO("MlpPolicy", "CartPole-v1", seed=3)
    assert calls == [3]
    model = PPO.load(path)
    model.set_random_seed(3)  # the public method always resets TensorFlow's seed, as before
    assert calls == [3, 3]
    first = tf.random.uniform((2,)).numpy()
    model.set_random_seed(3)
    np.testing.assert_array_equal(tf.random.uniform((2,)).numpy(), first)
