"""The model layer checks what a file gives it before building anything (``common/data_checks.py``)."""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.common import data_checks
from stable_baselines_io.common.data_checks import (
    MAX_BUILT_PARAMETERS,
    check_loaded_agent,
    check_parameter_shapes,
    check_policy_kwargs,
    check_replay_buffer_description,
    check_value,
    expected_parameter_shapes,
)
from stable_baselines_io.exceptions import AlgorithmMismatchError, CorruptAgentFileError
from stable_baselines_io.format import registry

CARTPOLE_OBS = gymnasium.spaces.Box(-np.inf, np.inf, (4,), np.float32)
ACTOR_CRITIC = registry.resolve_registered("actor_critic.MlpPolicy")
DQN_POLICY = registry.resolve_registered("dqn.MlpPolicy")


@pytest.mark.parametrize("key, value, match", [
    ("n_envs", 10**6, r"'n_envs' must be an integer in \[1, 4096\], received 1000000"),
    ("n_envs", True, "'n_envs' must be an integer"),
    ("seed", -1, "'seed' must be an integer"),
    ("verbose", "1", "'verbose' must be an integer.*received '1'"),
    ("gamma", 1.5, r"'gamma' must be a number in \[0.0, 1.0\]"),
    ("gamma", [0.9], "received list"),
    ("learning_rate", float("nan"), "a finite number or a schedule"),
    ("learning_rate", "fast", "a finite number or a schedule"),
    ("buffer_size", 2**40, "'buffer_size' must be an integer"),
    ("batch_size", 0, "'batch_size' must be an integer"),
    ("double_q", 1, "'double_q' must be a bool"),
    ("observation_space", {"low": 0}, "a gymnasium space"),
    ("alpha", 2.0, r"'alpha' must be a number in \[0.0, 1.0\]"),
    ("momentum", -0.5, r"'momentum' must be a number in \[0.0, 1.0\]"),
    ("epsilon", "tiny", "'epsilon' must be a number"),
    ("lr_schedule", "exponential", r"'lr_schedule' must be one of \['constant', 'linear', .*received 'exponential'"),
    ("lr_schedule", 1, "'lr_schedule' must be one of"),
    ("vf_coef", -1.0, "'vf_coef' must be a number"),
    ("n_steps", 0, "'n_steps' must be an integer"),
])
def test_wrong_values_are_refused_naming_the_key(key, value, match):
    with pytest.raises(CorruptAgentFileError, match=rf"{match}.*file 'agent.zip', member 'data'"):
        check_value(key, value, source="agent.zip")


@pytest.mark.parametrize("key, value", [
    ("n_envs", 4096), ("seed", None), ("seed", np.int64(2**32 - 1)), ("gamma", 1), ("learning_rate", np.float32(3e-4)),
    ("learning_rate", lambda progress: progress), ("cliprange_vf", None), ("ent_coef", -0.01), ("unknown", object()),
    ("alpha", 0.99), ("momentum", 0.0), ("epsilon", 1e-5), ("lr_schedule", "middle_drop"), ("max_grad_norm", None),
])
def test_values_of_real_agents_pass(key, value):
    check_value(key, value)


@pytest.mark.parametrize("policy_kwargs, match", [
    ([64, 64], "a dict with string keys"),
    ({"net_arch": [65537]}, r"policy_kwargs\['net_arch'\]\[0\] must be a layer size in \[1, 65536\]"),
    ({"net_arch": [64] * 70}, "at most 64 layer sizes"),
    ({"net_arch": [{"pi": [64]}, 64]}, "the last entry"),
    ({"net_arch": [{"pi": [64], "qf": [64]}]}, "the last entry"),
    ({"net_arch": [{"pi": [0]}]}, r"\[0\]\['pi'\]\[0\] must be a layer size"),
    ({"layers": [64.0]}, r"policy_kwargs\['layers'\]\[0\] must be a layer size.*received 64.0"),
    ({"layers": "64"}, "a list of at most 64 layer sizes"),
    ({"act_fun": 3}, "an activation name or function"),
    ({"dueling": "yes"}, r"policy_kwargs\['dueling'\] must be a bool"),
])
def test_policy_kwargs_are_checked(policy_kwargs, match):
    with pytest.raises(CorruptAgentFileError, match=match):
        check_policy_kwargs(policy_kwargs)


def test_policy_kwargs_of_real_agents_pass():
    check_policy_kwargs({"net_arch": [256, {"pi": [64, 64], "vf": [128]}], "act_fun": "relu"})
    check_policy_kwargs({"layers": [64, 64], "dueling": False, "layer_norm": np.bool_(True)})
    check_policy_kwargs(None)


def test_stored_parameters_must_have_the_described_shapes():
    data = {"policy": ACTOR_CRITIC, "observation_space": CARTPOLE_OBS, "action_space": gymnasium.spaces.Discrete(2),
            "policy_kwargs": {"net_arch": [8]}}
    expected = expected_parameter_shapes(data)
    assert expected == OrderedDict([("model/shared_fc0/w:0", (4, 8)), ("model/shared_fc0/b:0", (8,)),
                                    ("model/vf/w:0", (8, 1)), ("model/vf/b:0", (1,)), ("model/pi/w:0", (8, 2)),
                                    ("model/pi/b:0", (2,)), ("model/q/w:0", (8, 2)), ("model/q/b:0", (2,))])
    params = OrderedDict((name, np.zeros(shape, np.float32)) for name, shape in expected.items())
    check_parameter_shapes(expected, params)
    check_parameter_shapes(expected, list(params.values()))
    params["model/pi/w:0"] = np.zeros((8, 3), np.float32)
    params["extra:0"] = np.zeros(1)
    del params["model/q/b:0"]
    with pytest.raises(AlgorithmMismatchError, match=r"missing parameters \['model/q/b:0'\].*unexpected parameters "
                                                     r"\['extra:0'\].*'model/pi/w:0': the network has shape \(8, 2\), "
                                                     r"the file \(8, 3\)"):
        check_parameter_shapes(expected, params, source="agent.zip")


def test_a_network_without_stored_weights_is_bounded():
    data = {"policy": DQN_POLICY, "observation_space": gymnasium.spaces.Discrete(2**40),
            "action_space": gymnasium.spaces.Discrete(2), "policy_kwargs": {"layers": [65536]}}
    with pytest.raises(CorruptAgentFileError, match=f"more than the {MAX_BUILT_PARAMETERS:,}"):
        check_loaded_agent(data, None)


def test_user_policies_and_unsupported_spaces_are_left_to_the_policy():
    assert expected_parameter_shapes({"policy": object, "observation_space": CARTPOLE_OBS,
                                      "action_space": gymnasium.spaces.Discrete(2)}) is None
    assert expected_parameter_shapes({"policy": DQN_POLICY, "observation_space": CARTPOLE_OBS,
                                      "action_space": gymnasium.spaces.Box(-1, 1, (2,))}) is None


@pytest.mark.parametrize("change, match", [
    ({"pos": 11}, r"_replay_buffer_metadata\['pos'\] must be an integer in \[0, 10\]"),
    ({"buffer_size": 2**40}, "'buffer_size' must be an integer"),
    ({"observation_shape": [4] * 40}, "at most 32 sizes"),
    ({"action_dtype": "object"}, "a plain numeric dtype name"),
])
def test_replay_buffer_descriptions_are_checked(change, match):
    description = {"class": "ReplayBuffer", "buffer_size": 10, "pos": 3, "size": 3, "observation_shape": [4],
                   "observation_dtype": "float32", "action_shape": [], "action_dtype": "int64"}
    check_replay_buffer_description(description)
    with pytest.raises(CorruptAgentFileError, match=rf"{match}.*member 'training_state'"):
        check_replay_buffer_description({**description, **change})


def test_space_sampler_states_are_checked_completely():
    state = gymnasium.spaces.Discrete(2, seed=1).np_random.bit_generator.state
    check_loaded_agent({}, None, {"_space_random_states": {"action_space": state}})
    hostile = {"bit_generator": "MT19937", "state": {"key": np.zeros(624, np.uint32), "pos": 10**6}}
    with pytest.raises(CorruptAgentFileError, match=r"invalid state for action_space.*position.*training_state"):
        check_loaded_agent({}, None, {"_space_random_states": {"action_space": hostile}})
    with pytest.raises(CorruptAgentFileError, match="'shuffle_rng' must be Generator, received RandomState"):
        check_loaded_agent({}, None, {"shuffle_rng": np.random.RandomState(0)})


# --- through load: nothing is built before the checks pass -------------------------------------------


def rewrite_data(path: Path, destination: Path, **changes) -> Path:
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    data = json.loads(members["data"])
    data.update(changes)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(destination, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return destination


@pytest.fixture(scope="module")
def saved_agents(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("agents")
    PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [16]}, seed=0).save(folder / "ppo.zip")
    DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"layers": [16]}, seed=0).save(folder / "dqn.zip")
    A2C("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [16]}, seed=0).save(folder / "a2c.zip")
    return {"ppo": folder / "ppo.zip", "dqn": folder / "dqn.zip", "a2c": folder / "a2c.zip"}


@pytest.fixture
def nothing_built(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built before the file's values were checked")

    for algorithm in (PPO, DQN, A2C):
        monkeypatch.setattr(algorithm, "_from_data", classmethod(refuse))


@pytest.mark.parametrize("algorithm, changes, error, match", [
    ("ppo", {"n_envs": 100_000}, CorruptAgentFileError, "'n_envs' must be an integer"),
    ("ppo", {"policy_kwargs": {"net_arch": [65536, 65536]}}, AlgorithmMismatchError,
     r"'model/shared_fc0/w:0': the network has shape \(4, 65536\), the file \(4, 16\)"),
    ("ppo", {"gamma": "0.99"}, CorruptAgentFileError, "'gamma' must be a number"),
    ("dqn", {"policy_kwargs": {"layers": [16], "dueling": False}}, AlgorithmMismatchError,
     "unexpected parameters.*state_value"),
    ("dqn", {"buffer_size": -1}, CorruptAgentFileError, "'buffer_size' must be an integer"),
    ("a2c", {"lr_schedule": "sideways"}, CorruptAgentFileError, "'lr_schedule' must be one of"),
    ("a2c", {"alpha": 7}, CorruptAgentFileError, "'alpha' must be a number"),
    ("a2c", {"n_envs": 0}, CorruptAgentFileError, "'n_envs' must be an integer"),
    ("a2c", {"policy_kwargs": {"net_arch": [32]}}, AlgorithmMismatchError,
     r"'model/shared_fc0/w:0': the network has shape \(4, 32\), the file \(4, 16\)"),
])
def test_load_checks_before_building(saved_agents, nothing_built, tmp_path, algorithm, changes, error, match):
    path = rewrite_data(saved_agents[algorithm], tmp_path / "tampered.zip", **changes)
    with pytest.raises(error, match=match):
        {"ppo": PPO, "dqn": DQN, "a2c": A2C}[algorithm].load(path)


def test_untampered_files_pass_the_checks(saved_agents, monkeypatch):
    checked = []
    original = data_checks.check_parameter_shapes

    def spy(expected, params, source=None):
        checked.append(len(expected))
        original(expected, params, source)

    monkeypatch.setattr(data_checks, "check_parameter_shapes", spy)
    assert isinstance(PPO.load(saved_agents["ppo"]), PPO)
    assert isinstance(DQN.load(saved_agents["dqn"]), DQN)
    assert isinstance(A2C.load(saved_agents["a2c"]), A2C)
    assert checked == [8, 17, 8]
