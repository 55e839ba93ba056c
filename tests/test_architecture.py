"""Inferring a library policy from stored arrays' names and shapes (:mod:`stable_baselines_io.architecture`):
every layout the library's policies build is recognised, from names or from the order of shapes; an
ambiguous or impossible layout is an error that says what to pass; no TensorFlow is needed."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stable_baselines_io.architecture import (
    declared_architecture,
    infer_policy,
    matches_arrays,
)
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.dqn.policies import MlpPolicy as DQNPolicy
from stable_baselines_io.exceptions import PolicyInferenceError
from stable_baselines_io.format.names import ACTOR_CRITIC_SCHEME, DQN_SCHEME
from stable_baselines_io.interop import acting_policy_params, sb2_algorithm

SIZES = st.sampled_from([3, 5, 8, 13])
NET_ARCHS = st.tuples(st.lists(SIZES, max_size=2), st.lists(SIZES, max_size=3), st.lists(SIZES, max_size=3))
OBSERVATIONS = gymnasium.spaces.Box(-1.0, 1.0, (6,), np.float32)


def _shapes(variables: list[Any]) -> OrderedDict[str, tuple[int, ...]]:
    return OrderedDict((variable.name, tuple(variable.shape)) for variable in variables)


def _actor_critic(net_arch: list[Any], continuous: bool) -> tuple[OrderedDict[str, tuple[int, ...]], int]:
    action_space = gymnasium.spaces.Box(-1, 1, (2,), np.float32) if continuous else gymnasium.spaces.Discrete(3)
    policy = MlpPolicy(OBSERVATIONS, action_space, net_arch=net_arch)
    return _shapes(policy.get_parameter_list()), 2 if continuous else 3


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NET_ARCHS, st.booleans())
def test_every_actor_critic_layout_is_recognised_by_its_names(arch: tuple[list[int], list[int], list[int]],
                                                              continuous: bool) -> None:
    shared, pi, vf = arch
    net_arch = [*shared, {"pi": pi, "vf": vf}]
    shapes, outputs = _actor_critic(net_arch, continuous)
    inferred = infer_policy(ACTOR_CRITIC_SCHEME, shapes, outputs, continuous)
    assert inferred.policy_kwargs == {"net_arch": net_arch, "act_fun": "tanh"}
    assert inferred.assumed == {"act_fun": "tanh"}
    assert matches_arrays(ACTOR_CRITIC_SCHEME, inferred.policy_kwargs, shapes, outputs, continuous)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NET_ARCHS, st.booleans())
def test_a_list_of_shapes_is_read_as_its_layout_or_lists_every_layout_it_could_be(
        arch: tuple[list[int], list[int], list[int]], continuous: bool) -> None:
    shared, pi, vf = arch
    net_arch = [*shared, {"pi": pi, "vf": vf}]
    shapes, outputs = _actor_critic(net_arch, continuous)
    try:
        inferred = infer_policy(ACTOR_CRITIC_SCHEME, list(shapes.values()), outputs, continuous)
    except PolicyInferenceError as error:
        assert "different" in str(error) and f"policy_kwargs={{'net_arch': {net_arch}}}" in str(error)
    else:
        assert inferred.policy_kwargs["net_arch"] == net_arch


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SIZES, max_size=3), st.booleans(), st.booleans())
def test_every_dqn_layout_is_recognised_from_names_and_from_the_list(layers: list[int], dueling: bool,
                                                                     layer_norm: bool) -> None:
    online = DQNPolicy(OBSERVATIONS, gymnasium.spaces.Discrete(4), layers=layers, dueling=dueling,
                       layer_norm=layer_norm)
    target = DQNPolicy(OBSERVATIONS, gymnasium.spaces.Discrete(4), layers=layers, dueling=dueling,
                       layer_norm=layer_norm, scope="deepq/target_q_func/model")
    shapes = OrderedDict([("deepq/eps:0", ()), *_shapes(online.get_parameter_list()).items(),
                          *_shapes(target.get_parameter_list()).items()])
    # without hidden layers there is nothing to normalise: both settings build the same network
    expected = {"layers": layers, "dueling": dueling, "layer_norm": layer_norm and bool(layers), "act_fun": "relu"}
    assert infer_policy(DQN_SCHEME, shapes, 4).policy_kwargs == expected
    assert infer_policy(DQN_SCHEME, list(shapes.values()), 4).policy_kwargs == expected


def test_activation_comes_from_the_stored_or_given_kwargs_never_from_the_arrays() -> None:
    shapes, outputs = _actor_critic([{"pi": [5], "vf": [5]}], continuous=False)
    stored = infer_policy(ACTOR_CRITIC_SCHEME, shapes, outputs, stored_kwargs={"act_fun": "relu"})
    assert stored.policy_kwargs["act_fun"] == "relu" and stored.assumed == {}
    given_kwargs = infer_policy(ACTOR_CRITIC_SCHEME, shapes, outputs, stored_kwargs={"act_fun": "relu"},
                                given_kwargs={"act_fun": "elu"})
    assert given_kwargs.policy_kwargs["act_fun"] == "elu"
    assumed = infer_policy(ACTOR_CRITIC_SCHEME, shapes, outputs)
    assert "act_fun='tanh': Stable Baselines 2's default" in assumed.describe()


def test_given_kwargs_that_contradict_the_arrays_leave_no_layout() -> None:
    shapes, outputs = _actor_critic([{"pi": [5], "vf": [5]}], continuous=False)
    with pytest.raises(PolicyInferenceError, match=r"no .*MlpPolicy layout and with the given policy_kwargs="
                                                   r"\{'net_arch': \[8\]\}.*model/pi_fc0/w:0 \(6, 5\)"):
        infer_policy(ACTOR_CRITIC_SCHEME, shapes, outputs, given_kwargs={"net_arch": [8]}, stored_class="my.Policy")
    with pytest.raises(PolicyInferenceError, match=r"my\.Policy is not this library's"):
        infer_policy(DQN_SCHEME, [(6, 5), (5,)], 3, stored_class="my.Policy")
    with pytest.raises(ValueError, match="unknown parameter scheme 'cnn'"):
        infer_policy("cnn", shapes, outputs)


def test_declared_architecture_fills_in_stable_baselines_2_defaults() -> None:
    assert declared_architecture(ACTOR_CRITIC_SCHEME, None) == {
        "net_arch": [{"pi": [64, 64], "vf": [64, 64]}], "act_fun": "tanh"}
    assert declared_architecture(ACTOR_CRITIC_SCHEME, {"layers": []}) == {
        "net_arch": [{"pi": [], "vf": []}], "act_fun": "tanh"}
    assert declared_architecture(DQN_SCHEME, {"layers": [32]}, layer_norm_default=True) == {
        "layers": [32], "dueling": True, "layer_norm": True, "act_fun": "relu"}


def test_stable_baselines_2_algorithms_are_told_apart_by_their_data_keys() -> None:
    assert sb2_algorithm({"timesteps_per_batch": 1, "max_kl": 0.01, "cg_iters": 10}).name == "TRPO"
    assert sb2_algorithm({"timesteps_per_batch": 1, "max_kl": 0.01, "cg_iters": 10, "using_gail": True}).name == "GAIL"
    assert sb2_algorithm(["q_coef", "replay_ratio", "rprop_alpha", "lr_schedule"]).loaded_by == "A2C"
    assert sb2_algorithm(["alpha", "lr_schedule"]).name == "A2C"
    assert sb2_algorithm(["n_sampled_goal", "goal_selection_strategy", "exploration_fraction"]).loaded_by is None
    assert sb2_algorithm(["gamma"]) is None


def test_acting_policy_params_keep_a_mapping_without_copies_unchanged() -> None:
    params = OrderedDict([("model/pi/w:0", np.ones((2, 2))), ("model/pi/b:0", np.ones(2))])
    assert acting_policy_params(params, 2, None) == params
    assert acting_policy_params(None, 2, None) is None
    assert acting_policy_params([np.ones(1)] * 3, 2, None) == [np.ones(1)] * 3  # reported by the caller's check


def test_the_inference_runs_without_tensorflow(run_python: Any) -> None:
    result = run_python("""
import json, sys
from stable_baselines_io.architecture import infer_policy
inferred = infer_policy("dqn", [(), (4, 8), (8,), (8, 2), (2,), (4, 8), (8,), (8, 2), (2,)], 2)
print(json.dumps([inferred.policy_kwargs, "tensorflow" in sys.modules]))
""")
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        {"layers": [8], "dueling": False, "layer_norm": False, "act_fun": "relu"}, False]


@pytest.mark.parametrize("module_name", ["stable_baselines_io.architecture", "stable_baselines_io.interop"])
def test_docstring_examples(module_name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
