"""Real Stable Baselines 2.x files (``../shared/fixtures/sb2``) load in safe mode through the format layer."""

from __future__ import annotations

import base64
import io
import json
import sys
import warnings
import zipfile
from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest

from stable_baselines_io.exceptions import UnsafeObjectError
from stable_baselines_io.format import load_from_file, read_agent_file, registry
from stable_baselines_io.schedules import ConstantSchedule

PPO_ZIP = "ppo2__CartPole-v1__TrailerReverse.zip"
DQN_ZIP = "dqn__CartPole-v1__deep-q-learning.zip"
PPO_CARTPOLE_PKL = "ppo2__CartPole-v1.pkl"
PPO_PENDULUM_PKL = "ppo2__Pendulum-v0.pkl"
ZIP_FILES = [PPO_ZIP, DQN_ZIP]
PKL_FILES = [PPO_CARTPOLE_PKL, PPO_PENDULUM_PKL]

FLOAT32_MAX = np.finfo(np.float32).max
CARTPOLE_HIGH = np.array([4.8, FLOAT32_MAX, 24 * 2 * np.pi / 360, FLOAT32_MAX], dtype=np.float32)
CARTPOLE_OBSERVATION = gym.spaces.Box(-CARTPOLE_HIGH, CARTPOLE_HIGH, dtype=np.float32)
PENDULUM_OBSERVATION = gym.spaces.Box(np.array([-1.0, -1.0, -8.0], dtype=np.float32),
                                      np.array([1.0, 1.0, 8.0], dtype=np.float32), dtype=np.float32)
SPACES = {
    PPO_ZIP: (CARTPOLE_OBSERVATION, gym.spaces.Discrete(2)),
    DQN_ZIP: (CARTPOLE_OBSERVATION, gym.spaces.Discrete(2)),
    PPO_CARTPOLE_PKL: (CARTPOLE_OBSERVATION, gym.spaces.Discrete(2)),
    PPO_PENDULUM_PKL: (PENDULUM_OBSERVATION, gym.spaces.Box(-2.0, 2.0, (1,), np.float32)),
}
SCHEDULES = {PPO_ZIP: (0.00025, 0.2), PPO_CARTPOLE_PKL: (0.0003, 0.2), PPO_PENDULUM_PKL: (0.0003, 0.2)}
POLICIES = {PPO_ZIP: "actor_critic.MlpPolicy", DQN_ZIP: "dqn.MlpPolicy", PPO_CARTPOLE_PKL: "actor_critic.MlpPolicy",
            PPO_PENDULUM_PKL: "actor_critic.MlpPolicy"}


def load(path, **kwargs):
    """``load_from_file``, expecting the legacy-format DeprecationWarning exactly for .pkl files."""
    if path.suffix == ".pkl":
        with pytest.warns(DeprecationWarning, match="legacy cloudpickle"):
            return load_from_file(path, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return load_from_file(path, **kwargs)


def zip_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("name", ZIP_FILES)
def test_zip_files_give_ordered_params_in_parameter_list_order(sb2_fixture_dir, name):
    members = zip_members(sb2_fixture_dir / name)
    parameter_list = json.loads(members["parameter_list"])
    data, params = load(sb2_fixture_dir / name)
    assert type(params) is OrderedDict
    assert list(params) == parameter_list
    with np.load(io.BytesIO(members["parameters"])) as npz:  # Stable Baselines 2's own reader
        for parameter in parameter_list:
            assert params[parameter].dtype == npz[parameter].dtype
            np.testing.assert_array_equal(params[parameter], npz[parameter])
    agent_file = read_agent_file(sb2_fixture_dir / name)
    assert agent_file.file_format == "zip"
    assert agent_file.metadata == {}


def test_ppo_zip_parameters(sb2_fixture_dir):
    _, params = load(sb2_fixture_dir / PPO_ZIP)
    assert len(params) == 14
    assert params["model/pi_fc0/w:0"].shape == (4, 64)
    assert params["model/vf/w:0"].shape == (64, 1)
    assert params["model/pi/w:0"].shape == (64, 2)
    assert params["model/pi_fc0/w:0"].dtype == np.float32


def test_dqn_zip_parameters_and_data(sb2_fixture_dir):
    data, params = load(sb2_fixture_dir / DQN_ZIP)
    assert len(params) == 25
    assert params["deepq/eps:0"].shape == ()
    assert params["deepq/model/action_value/fully_connected_2/weights:0"].shape == (64, 2)
    assert data["learning_rate"] == 0.0005
    assert (data["exploration_fraction"], data["exploration_final_eps"], data["gamma"]) == (0.1, 0.02, 0.99)
    assert data["double_q"] is True and data["param_noise"] is False


@pytest.mark.parametrize("name, count", [(PPO_CARTPOLE_PKL, 14), (PPO_PENDULUM_PKL, 15)])
def test_pkl_files_give_list_params(sb2_fixture_dir, name, count):
    data, params = load(sb2_fixture_dir / name)
    assert type(params) is list
    assert len(params) == count
    assert all(type(value) is np.ndarray for value in params)
    # get_parameter_list() order: pi_fc0, vf_fc0, pi_fc1, vf_fc1, vf, pi (w, b each), [pi/logstd], q (w, b)
    inputs, outputs = (4, 2) if "CartPole" in name else (3, 1)
    hidden = [(inputs, 64), (64,), (inputs, 64), (64,), (64, 64), (64,), (64, 64), (64,), (64, 1), (1,)]
    logstd = [] if count == 14 else [(1, outputs)]
    expected = [*hidden, (64, outputs), (outputs,), *logstd, (64, outputs), (outputs,)]
    assert [value.shape for value in params] == expected
    with pytest.warns(DeprecationWarning):
        assert read_agent_file(sb2_fixture_dir / name).file_format == "cloudpickle"


@pytest.mark.parametrize("name", SPACES)
def test_spaces_are_gymnasium_spaces(sb2_fixture_dir, name):
    data, _ = load(sb2_fixture_dir / name)
    expected_observation, expected_action = SPACES[name]
    for key, expected in (("observation_space", expected_observation), ("action_space", expected_action)):
        space = data[key]
        assert type(space) is type(expected), key
        assert space == expected, key
        assert space.dtype == expected.dtype, key
        assert space.shape == expected.shape, key


@pytest.mark.parametrize("name", SCHEDULES)
def test_constant_schedules_are_recovered(sb2_fixture_dir, name):
    data, _ = load(sb2_fixture_dir / name)
    learning_rate, cliprange = SCHEDULES[name]
    assert data["learning_rate"] == ConstantSchedule(learning_rate)
    assert data["cliprange"] == ConstantSchedule(cliprange)
    assert data["learning_rate"](0.5) == learning_rate


@pytest.mark.parametrize("name", POLICIES)
def test_policy_class_maps_to_the_library_class(sb2_fixture_dir, name):
    data, _ = load(sb2_fixture_dir / name)
    assert registry.registered_name(data["policy"]) == POLICIES[name]


@pytest.mark.parametrize("name", SCHEDULES)
def test_custom_objects_replace_the_schedules(sb2_fixture_dir, name):
    data, _ = load(sb2_fixture_dir / name, custom_objects={"learning_rate": 0.001, "cliprange": 0.1})
    assert data["learning_rate"] == 0.001
    assert data["cliprange"] == 0.1
    assert data["gamma"] == 0.99


def test_other_data_values(sb2_fixture_dir):
    data, _ = load(sb2_fixture_dir / PPO_ZIP)
    assert (data["gamma"], data["n_steps"], data["n_envs"], data["nminibatches"]) == (0.99, 128, 4, 4)
    assert data["policy_kwargs"] == {}
    data, _ = load(sb2_fixture_dir / PPO_PENDULUM_PKL)
    assert (data["n_steps"], data["n_envs"], data["noptepochs"]) == (2048, 8, 10)


def renamed_schedule_module_copy(source, target, keys=("learning_rate", "cliprange"), other_code=False):
    """A copy of ``source`` whose schedule pickles name another module than Stable Baselines' own,
    and with ``other_code`` return None (LOAD_CONST 0) instead of their closure value (LOAD_DEREF 0)."""
    members = zip_members(source)
    data = json.loads(members["data"])
    for key in keys:
        payload = base64.b64decode(data[key][":serialized:"])
        renamed = payload.replace(b"stable_baselines.ppo2.ppo2", b"my_baselines_fork.ppo2.ppo")
        if other_code:
            renamed = renamed.replace(b"C\x04\x88\x00S\x00", b"C\x04d\x00S\x00")
        assert len(renamed) == len(payload) and renamed != payload
        data[key][":serialized:"] = base64.b64encode(renamed).decode("ascii")
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, json.dumps(data) if name == "data" else content)
    return target


def test_schedule_from_another_module_is_read_by_its_code(sb2_fixture_dir, tmp_path):
    data, _ = load_from_file(renamed_schedule_module_copy(sb2_fixture_dir / PPO_ZIP, tmp_path / "fork.zip"))
    assert (data["learning_rate"], data["cliprange"]) == (ConstantSchedule(0.00025), ConstantSchedule(0.2))


def test_schedule_whose_code_is_not_a_schedule_is_refused_naming_the_key(sb2_fixture_dir, tmp_path):
    path = renamed_schedule_module_copy(sb2_fixture_dir / PPO_ZIP, tmp_path / "fork.zip", other_code=True)
    with pytest.raises(UnsafeObjectError, match=r"data key 'learning_rate'.*my_baselines_fork.*custom_objects"
                                                r".*fork\.zip"):
        load_from_file(path)
    with pytest.raises(UnsafeObjectError, match=r"data key 'cliprange'"):
        load_from_file(path, custom_objects={"learning_rate": 0.001})
    data, _ = load_from_file(path, custom_objects={"learning_rate": 0.001, "cliprange": 0.1})
    assert (data["learning_rate"], data["cliprange"]) == (0.001, 0.1)


def test_no_stable_baselines_or_gym_module_is_imported(sb2_fixture_dir):
    for name in [*ZIP_FILES, *PKL_FILES]:
        load(sb2_fixture_dir / name)
    imported = [module for module in sys.modules
                if module.split(".")[0] in {"gym", "stable_baselines", "cloudpickle_fast"}]
    assert imported == []
