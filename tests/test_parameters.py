"""``load_parameters`` / ``set_parameters``: casts within a kind as Stable Baselines did, loud errors
that are ``ValueError``, ``RuntimeError`` (and ``KeyError`` for unknown names), nothing changed on error."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import DQN, PPO
from stable_baselines_io.common.save_load import SaveLoadMixin, cast_for_variable
from stable_baselines_io.exceptions import ParameterMismatchError, UnknownParameterError


@pytest.fixture(scope="module")
def ppo_model() -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", n_steps=16, seed=0, policy_kwargs={"net_arch": [8]})


class Counter(SaveLoadMixin):
    """A SaveLoadMixin user with an integer variable, to test casts into int."""

    def __init__(self) -> None:
        self.count = tf.Variable(np.zeros((2,), dtype=np.int32), name="count")
        self.scale = tf.Variable(np.ones((), dtype=np.float32), name="scale")

    def get_parameter_list(self) -> list[tf.Variable]:
        return [self.count, self.scale]


def test_float64_lists_and_numpy_scalars_are_cast(ppo_model: PPO) -> None:
    params = ppo_model.get_parameters()
    given = OrderedDict((name, (value + 1).astype(np.float64)) for name, value in params.items())
    given["model/vf/b:0"] = [float(given["model/vf/b:0"][0])]  # a Python list
    ppo_model.load_parameters(given)
    for name, value in ppo_model.get_parameters().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, np.asarray(given[name], dtype=np.float32))
    counter = Counter()
    counter.set_parameters({"count:0": [3, 4], "scale:0": np.float64(2.5)})
    assert counter.count.numpy().tolist() == [3, 4] and counter.count.dtype == tf.int32
    assert counter.scale.numpy() == np.float32(2.5)
    counter.set_parameters({"count:0": np.array([5, 6], dtype=np.int64), "scale:0": 7})  # int into float: exact
    assert counter.count.numpy().tolist() == [5, 6] and counter.scale.numpy() == 7.0


def test_lossy_casts_are_refused_all_at_once_and_change_nothing() -> None:
    counter = Counter()
    counter.set_parameters({"count:0": [1, 2], "scale:0": 3.0})
    with pytest.raises(ParameterMismatchError) as error:
        counter.load_parameters({"count:0": np.array([1.5, 2.0]), "scale:0": 1e300})
    message = str(error.value)
    assert "'count:0': expected dtype int32, received float64, which cannot be cast to it without loss" in message
    assert "'scale:0': received float64 values outside the range of the variable's dtype float32" in message
    assert isinstance(error.value, ValueError) and isinstance(error.value, RuntimeError)
    assert not isinstance(error.value, KeyError)
    with pytest.raises(ParameterMismatchError, match="outside the range of the variable's dtype int32"):
        counter.load_parameters({"count:0": np.array([2**40, 0], dtype=np.int64), "scale:0": 1.0})
    with pytest.raises(ParameterMismatchError, match=r"'count:0': expected an array of shape \(2,\), received list"):
        counter.load_parameters({"count:0": [[1, 2], [3]], "scale:0": 1.0})
    assert counter.count.numpy().tolist() == [1, 2] and counter.scale.numpy() == 3.0


def test_missing_names_raise_runtime_error_as_stable_baselines(ppo_model: PPO) -> None:
    params = ppo_model.get_parameters()
    del params["model/q/w:0"]
    with pytest.raises(RuntimeError, match=r"missing parameter names \['model/q/w:0'\]"):
        ppo_model.load_parameters(params)
    ppo_model.set_parameters(params, exact_match=False)


def test_unknown_names_are_also_a_key_error_with_a_plain_message(ppo_model: PPO) -> None:
    before = ppo_model.get_parameters()
    params = {name: value + 1 for name, value in before.items()}
    params["model/unknown:0"] = np.zeros(1, dtype=np.float32)
    del params["model/q/b:0"]
    with pytest.raises(KeyError) as error:
        ppo_model.set_parameters(params)
    assert isinstance(error.value, UnknownParameterError)
    assert isinstance(error.value, RuntimeError) and isinstance(error.value, ValueError)
    message = str(error.value)
    assert message.startswith("cannot load parameters, nothing was changed: "
                              "unknown parameter names ['model/unknown:0']")
    assert "missing parameter names ['model/q/b:0']" in message
    for name, value in ppo_model.get_parameters().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_with_another_algorithms_file_still_names_the_mismatch(tmp_path, ppo_model: PPO) -> None:
    dqn = DQN("MlpPolicy", "CartPole-v1", learning_starts=10, seed=0, policy_kwargs={"layers": [8]})
    dqn.save(tmp_path / "dqn")
    with pytest.raises(RuntimeError, match="unknown parameter names"):
        ppo_model.set_parameters(tmp_path / "dqn.zip")


def test_cast_for_variable_keeps_the_same_dtype_without_copy() -> None:
    array = np.zeros((2, 2), dtype=np.float32)
    cast, problem = cast_for_variable(array, (2, 2), np.dtype(np.float32))
    assert problem is None and cast is array
    _, problem = cast_for_variable(np.zeros(3, dtype=bool), (3,), np.dtype(np.float32))
    assert problem is None
    _, problem = cast_for_variable(np.array(["a"]), (1,), np.dtype(np.float32))
    assert problem is not None and "received <U1" in problem
