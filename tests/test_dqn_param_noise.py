"""DQN agents trained by Stable Baselines 2 with ``param_noise=True`` load to act.

SB2's ``build_act_with_param_noise`` built two copies of the online network,
``deepq/perturbed_model/model/...`` and ``deepq/adaptive_model/model/...``, between the online
network and the target network in ``get_trainable_vars("deepq")`` (its parameter list); its
``param_noise_scale`` and ``param_noise_threshold`` were not trainable and so not saved. The file
here is written in that layout from a real SB2 DQN file's data, with arrays drawn at random.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io import DQN
from stable_baselines_io.conversion import list_parameter_names
from stable_baselines_io.exceptions import UnsupportedFeatureError
from stable_baselines_io.interop import dqn_parameter_shapes

SB2_DQN = "dqn__CartPole-v1__deep-q-learning.zip"
POLICY_KWARGS = {"layers": [32, 16], "dueling": False}


def sb2_param_noise_file(sb2_fixture_dir: Path, path: Path) -> dict[str, np.ndarray]:
    """Write a param_noise DQN file in SB2's layout; return its arrays by name, in file order."""
    with zipfile.ZipFile(sb2_fixture_dir / SB2_DQN) as real:
        data = json.loads(real.read("data"))
    data["param_noise"] = True
    data["policy_kwargs"] = POLICY_KWARGS
    shapes = dqn_parameter_shapes(POLICY_KWARGS, 4, 2, param_noise=True)
    rng = np.random.default_rng(5)
    params = {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}
    arrays = io.BytesIO()
    np.savez(arrays, **params)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data, indent=4))
        archive.writestr("parameters", arrays.getvalue())
        archive.writestr("parameter_list", json.dumps(list(params), indent=4))
    return params


def numpy_q_values(params: dict[str, np.ndarray], network: str, observations: np.ndarray) -> np.ndarray:
    """SB2's DQN ``mlp`` (ReLU hidden layers, no dueling) of ``deepq/<network>``."""
    hidden = observations
    for index in range(len(POLICY_KWARGS["layers"])):
        suffix = f"_{index}" if index else ""
        layer = f"deepq/{network}/action_value/fully_connected{suffix}"
        hidden = np.maximum(hidden @ params[f"{layer}/weights:0"] + params[f"{layer}/biases:0"], 0.0)
    last = f"deepq/{network}/action_value/fully_connected_{len(POLICY_KWARGS['layers'])}"
    return hidden @ params[f"{last}/weights:0"] + params[f"{last}/biases:0"]


def test_layout_follows_sb2_creation_order() -> None:
    names = list(dqn_parameter_shapes(POLICY_KWARGS, 4, 2, param_noise=True))
    networks = list(dict.fromkeys(name.rsplit("/action_value/", 1)[0] for name in names[1:]))
    assert names[0] == "deepq/eps:0"
    assert networks == ["deepq/model", "deepq/perturbed_model/model", "deepq/adaptive_model/model",
                        "deepq/target_q_func/model"]
    assert len(names) == 1 + 4 * 6


def test_sb2_param_noise_file_acts_with_the_online_network(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    params = sb2_param_noise_file(sb2_fixture_dir, tmp_path / "dqn_param_noise.zip")
    model = DQN.load(tmp_path / "dqn_param_noise.zip", safe_mode=True)
    assert model.param_noise is True
    assert list(model.get_parameters()) == list(params)
    observations = np.random.default_rng(0).normal(size=(256, 4)).astype(np.float32)
    online = numpy_q_values(params, "model", observations).argmax(axis=1)
    perturbed = numpy_q_values(params, "perturbed_model/model", observations).argmax(axis=1)
    actions, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, online)
    assert not np.array_equal(actions, perturbed)  # the check tells the networks apart

    # The perturbation variables are kept: a save holds every SB2 array, and loads back the same.
    model.save(tmp_path / "round_trip")
    again = DQN.load(tmp_path / "round_trip.zip")
    for name, array in params.items():
        np.testing.assert_array_equal(again.get_parameters()[name], array, err_msg=name)
    with pytest.raises(UnsupportedFeatureError, match=r"cannot learn.*loads to act, with deepq/model"):
        again.set_env("CartPole-v1")
        again.learn(100)


def test_parameter_list_of_old_files_is_named_with_the_perturbation_copies() -> None:
    from stable_baselines_io.dqn.policies import MlpPolicy

    data = {"policy": MlpPolicy, "policy_kwargs": POLICY_KWARGS, "param_noise": True}
    names = list_parameter_names(data, 25)
    assert names == list(dqn_parameter_shapes(POLICY_KWARGS, 4, 2, param_noise=True))
