"""The one table of built-in names: every reader agrees with it, and its Stable Baselines 2
parameter names are the variables the policies really create."""

from __future__ import annotations

import pytest

from stable_baselines_io import DQN, PPO
from stable_baselines_io.common.preprocessing import flat_dim
from stable_baselines_io.format import names, registry
from stable_baselines_io.interop import (
    actor_critic_parameter_names,
    actor_critic_parameter_shapes,
    detect_algorithm,
    dqn_parameter_names,
    dqn_parameter_shapes,
)


@pytest.mark.parametrize("entry", names.BUILTIN_NAMES, ids=lambda entry: entry.registered_name)
def test_every_builtin_name_resolves_both_ways(entry):
    cls = registry.resolve_registered(entry.registered_name)
    assert f"{cls.__module__}:{cls.__qualname__}" == entry.import_path
    assert registry.registered_name(cls) == entry.registered_name
    assert registry.class_at(entry.module, entry.qualname) is cls
    for module, qualname in entry.sb2_pickle_names:
        assert names.by_sb2_pickle_name(module, qualname) is entry


def test_sb2_aliases_are_the_algorithms_policy_aliases():
    for algorithm, schemes in ((PPO, (names.ACTOR_CRITIC_SCHEME, names.RECURRENT_SCHEME)), (DQN, (names.DQN_SCHEME,))):
        table = {alias: registry.resolve_registered(entry.registered_name) for entry in names.BUILTIN_NAMES
                 if entry.parameter_scheme in schemes for alias in entry.sb2_aliases}
        assert table == dict(algorithm.policy_aliases)


@pytest.mark.filterwarnings("ignore:Usage of the `layers` policy kwarg is deprecated:DeprecationWarning")
@pytest.mark.parametrize("env, policy_kwargs", [
    ("CartPole-v1", {}),
    ("Pendulum-v1", {"net_arch": [32, {"pi": [16], "vf": [8, 8]}]}),
    ("CartPole-v1", {"layers": [8, 8, 8]}),
], ids=["discrete default", "continuous shared and split", "layers"])
def test_actor_critic_names_are_the_real_variable_names(env, policy_kwargs):
    model = PPO("MlpPolicy", env, policy_kwargs=policy_kwargs)
    real = {variable.name: tuple(variable.shape) for variable in model.get_parameter_list()}
    continuous = env == "Pendulum-v1"
    assert actor_critic_parameter_names(policy_kwargs, continuous_actions=continuous) == list(real)
    n_outputs = model.action_space.shape[0] if continuous else int(model.action_space.n)
    assert actor_critic_parameter_shapes(policy_kwargs, flat_dim(model.observation_space), n_outputs,
                                         continuous) == real
    assert detect_algorithm({}, list(real)) == "ppo"


@pytest.mark.parametrize("policy, policy_kwargs", [
    ("MlpPolicy", {}),
    ("MlpPolicy", {"layers": [16], "dueling": False}),
    ("LnMlpPolicy", {"layers": [8, 8]}),
    ("MlpPolicy", {"layer_norm": True, "dueling": True}),
])
def test_dqn_names_are_the_real_variable_names(policy, policy_kwargs):
    model = DQN(policy, "CartPole-v1", policy_kwargs=policy_kwargs)
    real = {variable.name: tuple(variable.shape) for variable in model.get_parameter_list()}
    entry = next(entry for entry in names.BUILTIN_NAMES if entry.parameter_scheme == names.DQN_SCHEME
                 and policy in entry.sb2_aliases)
    assert dqn_parameter_names(policy_kwargs, layer_norm_default=entry.layer_norm_default) == list(real)
    assert dqn_parameter_shapes(policy_kwargs, flat_dim(model.observation_space), int(model.action_space.n),
                                entry.layer_norm_default) == real
    assert detect_algorithm({}, list(real)) == "dqn"
