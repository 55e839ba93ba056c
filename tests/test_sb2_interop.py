"""Stable Baselines 2 agents from the wild: they load in safe mode and act exactly as they did.

The reference rewards come from ``shared/fixtures/sb2/SOURCES.md`` (20 episodes, reset with seeds
0..19, deterministic actions). No test imports ``stable_baselines``, ``gym`` or TensorFlow 1.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from stable_baselines_io import DQN, PPO
from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.conversion import convert_file
from stable_baselines_io.dqn.policies import LnMlpPolicy
from stable_baselines_io.dqn.policies import MlpPolicy as DQNMlpPolicy
from stable_baselines_io.exceptions import InferredPolicyWarning

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# file, algorithm, gymnasium env, reference mean reward (SOURCES.md)
FIXTURES = [
    ("ppo2__CartPole-v1__TrailerReverse.zip", PPO, "CartPole-v1", 455.35),
    ("dqn__CartPole-v1__deep-q-learning.zip", DQN, "CartPole-v1", 125.45),
    ("ppo2__CartPole-v1.pkl", PPO, "CartPole-v1", 500.0),
    ("ppo2__Pendulum-v0.pkl", PPO, "Pendulum-v1", -151.58),
]
IDS = [fixture[0] for fixture in FIXTURES]


def _load(cls: type, path: Path | str, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cls.load(path, **kwargs)


def _mean_reward(model: Any, env_id: str) -> float:
    returns, _ = evaluate_policy(model, env_id, n_eval_episodes=20, deterministic=True, return_episode_rewards=True,
                                 seed=0)
    assert len(returns) == 20
    return float(np.mean(returns))


@pytest.mark.parametrize("name, algorithm, env_id, reference", FIXTURES, ids=IDS)
def test_fixture_reproduces_reference_reward_in_safe_mode(sb2_fixture_dir: Path, name: str, algorithm: type,
                                                          env_id: str, reference: float) -> None:
    model = _load(algorithm, sb2_fixture_dir / name, safe_mode=True)
    assert round(_mean_reward(model, env_id), 2) == reference


@pytest.mark.parametrize("name, algorithm, env_id, reference", FIXTURES, ids=IDS)
def test_converted_fixture_holds_no_pickle_and_reproduces_reward(sb2_fixture_dir: Path, tmp_path: Path, name: str,
                                                                 algorithm: type, env_id: str,
                                                                 reference: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        convert_file(sb2_fixture_dir / name, tmp_path / "converted")
    with zipfile.ZipFile(tmp_path / "converted.zip") as archive:
        data_text = archive.read("data").decode()
        assert ":serialized:" not in data_text
        metadata = json.loads(archive.read("metadata"))
    assert metadata["algorithm"] == algorithm.__name__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converted file is a zip: no legacy-format warning
        model = algorithm.load(tmp_path / "converted.zip", safe_mode=True)
    assert round(_mean_reward(model, env_id), 2) == reference


@pytest.mark.parametrize("name, algorithm, env_id", [fixture[:3] for fixture in FIXTURES], ids=IDS)
def test_learning_continues_after_loading_a_stable_baselines_2_agent(sb2_fixture_dir: Path, name: str,
                                                                     algorithm: type, env_id: str) -> None:
    overrides = {"n_steps": 32, "nminibatches": 2} if algorithm is PPO else {"learning_starts": 10}
    model = _load(algorithm, sb2_fixture_dir / name, env=gymnasium.make(env_id), **overrides)
    assert model.n_envs == 1
    before = model.get_parameters()
    model.learn(200)
    after = model.get_parameters()
    assert model.num_timesteps >= 192
    assert any(not np.array_equal(before[key], after[key]) for key in before)


def test_actor_critic_file_of_another_algorithm_plays_through_load_parameters(sb2_fixture_dir: Path) -> None:
    """A2C, ACER, ACKTR and TRPO files share PPO2's policy: PPO plays them via load_parameters(path)."""
    reference = _load(PPO, sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip")
    player = PPO("MlpPolicy", "CartPole-v1", seed=5)
    player.load_parameters(sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip")
    observations = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_array_equal(player.predict(observations, deterministic=True)[0],
                                  reference.predict(observations, deterministic=True)[0])


def _global_pickle(module: str, name: str) -> str:
    """Base64 of a pickle that refers to ``module.name`` by reference, as cloudpickle wrote classes."""
    return base64.b64encode(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b".").decode()


def _sb2_style_dqn_file(tmp_path: Path, policy_module: str, policy_name: str,
                        policy_kwargs: dict[str, Any]) -> tuple[Path, DQN]:
    """A DQN file laid out as Stable Baselines 2 wrote it: policy pickled by reference, no metadata."""
    policy = LnMlpPolicy if policy_name == "LnMlpPolicy" else DQNMlpPolicy
    model = DQN(policy, "CartPole-v1", policy_kwargs=policy_kwargs, seed=3)
    model.save(tmp_path / "ours")
    with zipfile.ZipFile(tmp_path / "ours.zip") as ours:
        data = json.loads(ours.read("data"))
        data["policy"] = {":type:": "<class 'abc.ABCMeta'>", ":serialized:": _global_pickle(policy_module, policy_name)}
        members = {name: ours.read(name) for name in ("parameter_list", "parameters")}
    path = tmp_path / "sb2_style.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data))
        for name, content in members.items():
            archive.writestr(name, content)
    return path, model


@pytest.mark.parametrize("policy_name, policy_kwargs", [
    ("MlpPolicy", {}),
    ("MlpPolicy", {"dueling": False, "layers": [32]}),
    ("MlpPolicy", {"layer_norm": True, "layers": [16, 16, 16]}),
    ("LnMlpPolicy", {}),
])
def test_dqn_files_with_every_policy_option_load(tmp_path: Path, policy_name: str,
                                                 policy_kwargs: dict[str, Any]) -> None:
    path, original = _sb2_style_dqn_file(tmp_path, "stable_baselines.deepq.policies", policy_name, policy_kwargs)
    loaded = DQN.load(path)
    assert list(loaded.get_parameters()) == list(original.get_parameters())
    observations = np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0],
                                  original.predict(observations, deterministic=True)[0])


def test_users_own_policy_class_is_rebuilt_from_its_arrays_or_replaced(tmp_path: Path) -> None:
    path, original = _sb2_style_dqn_file(tmp_path, "utils", "CustomDQNPolicy", {"layers": [32], "dueling": False})
    with pytest.warns(InferredPolicyWarning, match=r"utils\.CustomDQNPolicy.*dqn\.policies\.MlpPolicy.*"
                                                  r"'layers': \[32\], 'dueling': False, 'layer_norm': False, "
                                                  r"'act_fun': 'relu'"):
        inferred = DQN.load(path)
    replacement_kwargs = {"layers": [32], "dueling": False}
    for loaded in (inferred,
                   DQN.load(path, custom_objects={"policy": DQNMlpPolicy, "policy_kwargs": replacement_kwargs}),
                   DQN.load(path, policy=DQNMlpPolicy, policy_kwargs=replacement_kwargs)):
        observations = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
        np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0],
                                      original.predict(observations, deterministic=True)[0])


def test_tensorflow_activation_in_policy_kwargs_is_read_by_name(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    source = sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip"
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    data = json.loads(members["data"])
    # {"act_fun": tf.nn.relu} as cloudpickle wrote it: a dict holding a global by reference
    payload = (b"\x80\x02}q\x00X\x07\x00\x00\x00act_funq\x01ctensorflow.python.ops.gen_nn_ops\nrelu\nq\x02s.")
    data["policy_kwargs"] = {":type:": "<class 'dict'>", ":serialized:": base64.b64encode(payload).decode()}
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(tmp_path / "relu.zip", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    model = PPO.load(tmp_path / "relu.zip")
    assert model.policy_kwargs == {"act_fun": "relu"}


def test_tools_run_without_tensorflow_gym_or_stable_baselines(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    script = f"""
import sys, warnings
warnings.simplefilter("ignore")
from stable_baselines_io.cli import main
for name in {[fixture[0] for fixture in FIXTURES]!r}:
    main(["inspect", {str(sb2_fixture_dir)!r} + "/" + name])
    converted = {str(tmp_path)!r} + "/" + name.split(".")[0] + "-converted"
    main(["convert", {str(sb2_fixture_dir)!r} + "/" + name, converted])
    main(["inspect", converted])
imported = [name for name in ("tensorflow", "gym", "stable_baselines") if name in sys.modules]
print("IMPORTED", imported)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    assert "keys that need pickle: learning_rate, cliprange, policy, observation_space, action_space" in result.stdout
    assert "model/pi/logstd:0" in result.stdout  # list params of the Pendulum file got their names
    assert result.stdout.count("keys that need pickle: none") == len(FIXTURES)


def test_inspect_reports_what_safe_mode_would_do(sb2_fixture_dir: Path) -> None:
    from stable_baselines_io.inspection import inspect_file

    report = inspect_file(io.BytesIO((sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip").read_bytes()))
    assert "learning_rate = pickled <class 'function'>" in report
    assert "safe mode rebuilds it: ConstantSchedule(value=0.00025)" in report
    assert "pickle names: stable_baselines.common.policies.MlpPolicy" in report
    assert "model/pi_fc0/w:0  (4, 64)" in report
    assert "algorithm: ppo" in report
