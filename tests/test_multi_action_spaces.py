"""MultiDiscrete and MultiBinary actions: Stable Baselines 2 files with these spaces load in safe
mode and act as a NumPy forward pass of SB2's ``MlpPolicy`` computes from the stored arrays.

The files are written here in Stable Baselines 2.10's layout: the PPO2 data of a real SB2 file,
the action space cloudpickled as ``gym.spaces`` objects (gym is not installed: stand-in classes
are pickled under gym's module names), ``parameter_list`` and ``parameters`` with SB2's names and
shapes (``pi`` outputs ``sum(nvec)`` logits, one block per dimension, or ``n`` log-odds).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import pickle
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import PPO
from stable_baselines_io.common.distributions import BernoulliDistribution, MultiCategoricalDistribution
from stable_baselines_io.common.policies import MlpPolicy, action_head
from stable_baselines_io.exceptions import AlgorithmMismatchError, UnsupportedSpaceError
from stable_baselines_io.interop import actor_critic_action_outputs, actor_critic_parameter_shapes

OBSERVATION_SIZE = 4  # the real file's CartPole observations
LAYERS = 64  # SB2's default net_arch: [dict(pi=[64, 64], vf=[64, 64])]
NVEC = [3, 2, 4]
N_BITS = 3
SB2_GYM_MODULES = {"MultiDiscrete": "gym.spaces.multi_discrete", "MultiBinary": "gym.spaces.multi_binary"}


@contextlib.contextmanager
def _gym_space_class(name: str) -> Iterator[type]:
    """A stand-in class that pickles as ``gym.spaces.<module>.<name>``, importable while it writes."""
    module_name = SB2_GYM_MODULES[name]
    names = ("gym", "gym.spaces", module_name)
    saved = {module: sys.modules.get(module) for module in names}
    space_class = type(name, (), {"__module__": module_name})
    for module in names:
        sys.modules[module] = types.ModuleType(module)
    setattr(sys.modules[module_name], name, space_class)
    try:
        yield space_class
    finally:
        for module, previous in saved.items():
            if previous is None:
                sys.modules.pop(module, None)
            else:
                sys.modules[module] = previous


def _sb2_space_entry(name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The data entry of a gym space as SB2 wrote it: the object cloudpickled with its ``__dict__``
    (gym 0.x: the space's fields, ``shape``, ``dtype`` and a seeded ``np_random``)."""
    with _gym_space_class(name) as space_class:
        space = space_class()
        space.__dict__.update(attributes, np_random=np.random.RandomState(0))
        payload = pickle.dumps(space, protocol=4)
    return {":type:": f"<class '{SB2_GYM_MODULES[name]}.{name}'>",
            ":serialized:": base64.b64encode(payload).decode("ascii"),
            **{key: repr(value) for key, value in attributes.items()}}


def _sb2_parameters(n_outputs: int) -> dict[str, np.ndarray]:
    """SB2 ``MlpPolicy`` arrays, in SB2's order, drawn at random (large enough for varied actions)."""
    shapes = actor_critic_parameter_shapes({}, OBSERVATION_SIZE, n_outputs, continuous_actions=False)
    rng = np.random.default_rng(7)
    return {name: rng.normal(scale=1.0, size=shape).astype(np.float32) for name, shape in shapes.items()}


def write_sb2_ppo2_file(sb2_fixture_dir: Path, path: Path, action_space: dict[str, Any],
                        params: dict[str, np.ndarray]) -> Path:
    """A PPO2 file in SB2's layout: a real SB2 file's data with another action space and parameters."""
    with zipfile.ZipFile(sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip") as real:
        data = json.loads(real.read("data"))
    data["action_space"] = action_space
    arrays = io.BytesIO()
    np.savez(arrays, **params)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data, indent=4))
        archive.writestr("parameters", arrays.getvalue())
        archive.writestr("parameter_list", json.dumps(list(params), indent=4))
    return path


def numpy_logits(params: dict[str, np.ndarray], observations: np.ndarray) -> np.ndarray:
    """SB2's ``MlpPolicy`` policy path: two tanh layers, then the linear ``pi`` layer."""
    latent = observations
    for index in range(2):
        latent = np.tanh(latent @ params[f"model/pi_fc{index}/w:0"] + params[f"model/pi_fc{index}/b:0"])
    return latent @ params["model/pi/w:0"] + params["model/pi/b:0"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _observations() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(64, OBSERVATION_SIZE)).astype(np.float32)


@pytest.fixture()
def multi_discrete_file(sb2_fixture_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    params = _sb2_parameters(sum(NVEC))
    entry = _sb2_space_entry("MultiDiscrete", {"nvec": np.array(NVEC, dtype=np.int64), "shape": (len(NVEC),),
                                               "dtype": np.dtype(np.int64)})
    return write_sb2_ppo2_file(sb2_fixture_dir, tmp_path / "ppo2_multi_discrete.zip", entry, params), params


@pytest.fixture()
def multi_binary_file(sb2_fixture_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    params = _sb2_parameters(N_BITS)
    entry = _sb2_space_entry("MultiBinary", {"n": N_BITS, "shape": (N_BITS,), "dtype": np.dtype(np.int8)})
    return write_sb2_ppo2_file(sb2_fixture_dir, tmp_path / "ppo2_multi_binary.zip", entry, params), params


def test_sb2_multi_discrete_file_acts_as_the_numpy_forward_pass(
        multi_discrete_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, params = multi_discrete_file
    model = PPO.load(path, safe_mode=True)
    assert model.action_space == gymnasium.spaces.MultiDiscrete(NVEC)
    assert list(model.get_parameters()) == list(params)
    observations = _observations()
    blocks = np.split(numpy_logits(params, observations), np.cumsum(NVEC)[:-1], axis=1)
    expected_actions = np.stack([block.argmax(axis=1) for block in blocks], axis=1)
    actions, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, expected_actions)
    assert len({tuple(action) for action in actions}) > 1  # the check is not vacuous
    probabilities = model.action_probability(observations)
    for received, block in zip(probabilities, blocks, strict=True):
        np.testing.assert_allclose(received, _softmax(block), rtol=1e-5, atol=1e-6)
    # The probability of given actions multiplies the per-dimension probabilities, as SB2 did.
    given = np.stack([np.arange(len(observations)) % n for n in NVEC], axis=1)
    expected = np.prod([_softmax(block)[np.arange(len(observations)), given[:, index]]
                        for index, block in enumerate(blocks)], axis=0)
    np.testing.assert_allclose(model.action_probability(observations, actions=given)[:, 0], expected, rtol=1e-5,
                               atol=1e-12)


def test_sb2_multi_binary_file_acts_as_the_numpy_forward_pass(
        multi_binary_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, params = multi_binary_file
    model = PPO.load(path, safe_mode=True)
    assert model.action_space == gymnasium.spaces.MultiBinary(N_BITS)
    observations = _observations()
    probabilities = 1.0 / (1.0 + np.exp(-numpy_logits(params, observations)))
    actions, _ = model.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actions, np.round(probabilities).astype(np.int64))
    assert 0 < actions.mean() < 1
    proba = model.action_probability(observations)
    np.testing.assert_allclose(proba, probabilities, rtol=1e-5, atol=1e-6)
    given = (np.arange(len(observations))[:, None] >> np.arange(N_BITS)) % 2
    # From the float32 probabilities, as SB2: 1 - p loses digits when p is close to 1.
    expected = np.prod(np.where(given == 1, proba, 1.0 - proba), axis=1)
    np.testing.assert_allclose(model.action_probability(observations, actions=given)[:, 0], expected, rtol=1e-5,
                               atol=1e-12)


def test_a_pi_layer_of_the_wrong_width_names_the_expected_shape(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    params = _sb2_parameters(NVEC[0])  # one logit per choice of the first dimension only
    entry = _sb2_space_entry("MultiDiscrete", {"nvec": np.array(NVEC, dtype=np.int64), "shape": (len(NVEC),),
                                               "dtype": np.dtype(np.int64)})
    path = write_sb2_ppo2_file(sb2_fixture_dir, tmp_path / "wrong.zip", entry, params)
    with pytest.raises(AlgorithmMismatchError, match=r"model/pi/w:0.*\(64, [39]\).*\(64, [39]\)"):
        PPO.load(path, safe_mode=True)


@pytest.mark.parametrize("space, n_outputs, spec_shape", [
    (gymnasium.spaces.MultiDiscrete([3, 2, 4]), 9, (None, 3)),
    (gymnasium.spaces.MultiBinary(5), 5, (None, 5)),
    (gymnasium.spaces.Discrete(4), 4, (None,)),
])
def test_pi_and_q_widths_follow_stable_baselines_2(space: gymnasium.Space, n_outputs: int,
                                                   spec_shape: tuple[int | None, ...]) -> None:
    width, spec = action_head(space)
    assert width == n_outputs and tuple(spec.shape) == spec_shape and spec.dtype == tf.int64
    assert actor_critic_action_outputs(space) == (n_outputs, False)
    policy = MlpPolicy(gymnasium.spaces.Box(-1, 1, (2,)), space, net_arch=[8])
    shapes = {variable.name: tuple(variable.shape) for variable in policy.get_parameter_list()}
    assert shapes == dict(actor_critic_parameter_shapes({"net_arch": [8]}, 2, n_outputs, False))
    assert shapes["model/pi/w:0"] == shapes["model/q/w:0"] == (8, n_outputs)


def test_unsupported_action_spaces_are_refused_by_name() -> None:
    observation_space = gymnasium.spaces.Box(-1, 1, (2,))
    with pytest.raises(UnsupportedSpaceError, match=r"MultiDiscrete action spaces must start at 0, received "
                                                    r"MultiDiscrete\(\[3 2\], start=\[1 0\]\)"):
        MlpPolicy(observation_space, gymnasium.spaces.MultiDiscrete([3, 2], start=[1, 0]))
    with pytest.raises(UnsupportedSpaceError, match=r"Discrete action spaces must start at 0"):
        MlpPolicy(observation_space, gymnasium.spaces.Discrete(3, start=1))
    with pytest.raises(UnsupportedSpaceError, match=r"support Discrete, MultiDiscrete, MultiBinary and Box action "
                                                    r"spaces, received Tuple"):
        MlpPolicy(observation_space, gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)]))
    assert actor_critic_action_outputs(gymnasium.spaces.Tuple([gymnasium.spaces.Discrete(2)])) is None


def test_distributions_sum_log_probabilities_and_entropies_over_dimensions() -> None:
    logits = tf.constant([[0.1, 0.5, -0.3, 1.0, -1.0], [2.0, 0.0, 0.0, 0.3, 0.3]])
    multi = MultiCategoricalDistribution(logits, [3, 2])
    actions = tf.constant([[2, 0], [0, 1]], dtype=tf.int64)
    blocks = [_softmax(logits.numpy()[:, :3]), _softmax(logits.numpy()[:, 3:])]
    expected = -np.log(blocks[0][[0, 1], [2, 0]]) - np.log(blocks[1][[0, 1], [0, 1]])
    np.testing.assert_allclose(multi.neglogp(actions), expected, rtol=1e-6)
    np.testing.assert_allclose(multi.entropy(), sum(-(block * np.log(block)).sum(axis=1) for block in blocks),
                               rtol=1e-6)
    np.testing.assert_array_equal(multi.mode(), [[1, 0], [0, 0]])
    samples = multi.sample(tf.random.Generator.from_seed(0))
    assert samples.shape == (2, 2) and samples.dtype == tf.int64

    bernoulli = BernoulliDistribution(tf.constant([[0.0, 2.0, -2.0]]))
    p = 1.0 / (1.0 + np.exp(-np.array([0.0, 2.0, -2.0])))
    np.testing.assert_array_equal(bernoulli.mode(), [[0, 1, 0]])  # 0.5 rounds to 0, as SB2's tf.round
    np.testing.assert_allclose(bernoulli.neglogp(tf.constant([[1, 1, 0]])), [-np.log(p[0] * p[1] * (1 - p[2]))],
                               rtol=1e-6)
    np.testing.assert_allclose(bernoulli.entropy(), [-(p * np.log(p) + (1 - p) * np.log(1 - p)).sum()], rtol=1e-6)
    draws = bernoulli.sample(tf.random.Generator.from_seed(0)).numpy()
    assert draws.dtype == np.int64 and set(np.unique(draws)) <= {0, 1}
