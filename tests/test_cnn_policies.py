"""CNN policies: Stable Baselines 2's layout, a NumPy reference forward pass, round trips and exact resume.

The reference below is written from Stable Baselines 2's documented ``nature_cnn`` (``conv``
with VALID padding on NHWC images, biases stored as ``(1, filters, 1, 1)``, ``conv_to_fc``
flattening rows, columns then channels) and its ``FeedForwardPolicy`` classes; files are laid out
as Stable Baselines 2 wrote them (policy pickled by reference, ``gym`` spaces, no metadata).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import types
import warnings
import zipfile
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from image_env import ImageChoiceEnv
from tensorflow.python.framework import config as tf_config

from stable_baselines_io.a2c import A2C
from stable_baselines_io.common.cnn_policies import CnnPolicy
from stable_baselines_io.conversion import list_parameter_names
from stable_baselines_io.dqn import DQN
from stable_baselines_io.dqn.cnn_policies import CnnPolicy as DQNCnnPolicy
from stable_baselines_io.dqn.cnn_policies import LnCnnPolicy
from stable_baselines_io.exceptions import UnknownPolicyKwargsError, UnsupportedSpaceError
from stable_baselines_io.format import names
from stable_baselines_io.ppo import PPO

IMAGE = (40, 44, 2)  # not square, two channels: a transposed layout would not fit
# 40 -> 9 -> 3 -> 1 rows, 44 -> 10 -> 4 -> 2 columns: fc1 sees 1 * 2 * 64 features
FC1_INPUTS = 1 * 2 * 64
N_ACTIONS = 3


def image_env(continuous: bool = False) -> ImageChoiceEnv:
    return ImageChoiceEnv(height=IMAGE[0], width=IMAGE[1], channels=IMAGE[2], n_positions=N_ACTIONS,
                          continuous=continuous)


# --- Stable Baselines 2's layout, written out by hand ---------------------------------------------


def sb2_nature_cnn_shapes(scope: str) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (f"{scope}/c1/w:0", (8, 8, IMAGE[2], 32)), (f"{scope}/c1/b:0", (1, 32, 1, 1)),
        (f"{scope}/c2/w:0", (4, 4, 32, 64)), (f"{scope}/c2/b:0", (1, 64, 1, 1)),
        (f"{scope}/c3/w:0", (3, 3, 64, 64)), (f"{scope}/c3/b:0", (1, 64, 1, 1)),
        (f"{scope}/fc1/w:0", (FC1_INPUTS, 512)), (f"{scope}/fc1/b:0", (512,)),
    ]


def sb2_actor_critic_shapes(continuous: bool) -> list[tuple[str, tuple[int, ...]]]:
    n_outputs = 2 if continuous else N_ACTIONS
    heads = [("model/vf/w:0", (512, 1)), ("model/vf/b:0", (1,)),
             ("model/pi/w:0", (512, n_outputs)), ("model/pi/b:0", (n_outputs,))]
    if continuous:
        heads.append(("model/pi/logstd:0", (1, n_outputs)))
    heads += [("model/q/w:0", (512, n_outputs)), ("model/q/b:0", (n_outputs,))]
    return sb2_nature_cnn_shapes("model") + heads


def sb2_dqn_shapes(dueling: bool, layer_norm: bool, layers: tuple[int, ...] = (64, 64)) -> list[tuple[str, tuple]]:
    shapes: list[tuple[str, tuple[int, ...]]] = [("deepq/eps:0", ())]
    for network in ("deepq/model", "deepq/target_q_func/model"):
        shapes += sb2_nature_cnn_shapes(f"{network}/action_value")
        shapes += [(f"{network}/action_value/fully_connected/weights:0", (512, N_ACTIONS)),
                   (f"{network}/action_value/fully_connected/biases:0", (N_ACTIONS,))]
        if dueling:
            inputs = 512
            for index, size in enumerate(layers):
                suffix = f"_{index}" if index else ""
                shapes += [(f"{network}/state_value/fully_connected{suffix}/weights:0", (inputs, size)),
                           (f"{network}/state_value/fully_connected{suffix}/biases:0", (size,))]
                if layer_norm:
                    shapes += [(f"{network}/state_value/LayerNorm{suffix}/beta:0", (size,)),
                               (f"{network}/state_value/LayerNorm{suffix}/gamma:0", (size,))]
                inputs = size
            shapes += [(f"{network}/state_value/fully_connected_{len(layers)}/weights:0", (inputs, 1)),
                       (f"{network}/state_value/fully_connected_{len(layers)}/biases:0", (1,))]
    return shapes


def random_parameters(shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, np.ndarray]:
    """Random float32 parameters of the given shapes: weights scaled by their fan-in, small biases."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in shapes:
        is_weight = name.endswith(("/w:0", "/weights:0"))
        scale = np.sqrt(2.0 / np.prod(shape[:-1])) if is_weight else 0.05
        params[name] = (rng.normal(size=shape) * scale).astype(np.float32)
        if name.endswith("gamma:0"):
            params[name] += 1.0
    return params


# --- the NumPy reference --------------------------------------------------------------------------


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def numpy_conv(images: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """VALID NHWC convolution: every ``k x k`` window at multiples of ``stride``, times the kernel."""
    size = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nhwcij,ijcf->nhwf", windows, kernel.astype(np.float64)) + bias.reshape(1, 1, 1, -1)


def numpy_nature_cnn(params: dict[str, np.ndarray], scope: str, observations: np.ndarray,
                     space: gymnasium.spaces.Box) -> np.ndarray:
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    features = (observations.astype(np.float64) - low) / (high - low)
    for layer, stride in (("c1", 4), ("c2", 2), ("c3", 1)):
        features = relu(numpy_conv(features, params[f"{scope}/{layer}/w:0"], params[f"{scope}/{layer}/b:0"], stride))
    flat = features.reshape(len(features), -1)
    return relu(flat @ params[f"{scope}/fc1/w:0"] + params[f"{scope}/fc1/b:0"])


def numpy_actor_critic_actions(params: dict[str, np.ndarray], observations: np.ndarray,
                               space: gymnasium.spaces.Box, continuous: bool) -> np.ndarray:
    outputs = numpy_nature_cnn(params, "model", observations, space) @ params["model/pi/w:0"] + params["model/pi/b:0"]
    return outputs if continuous else np.argmax(outputs, axis=1)


def numpy_layer_norm(x: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-12) * gamma + beta


def numpy_dqn_actions(params: dict[str, np.ndarray], observations: np.ndarray, space: gymnasium.spaces.Box,
                      dueling: bool, layer_norm: bool) -> np.ndarray:
    scope = "deepq/model"
    features = numpy_nature_cnn(params, f"{scope}/action_value", observations, space)
    head = f"{scope}/action_value/fully_connected"
    action_scores = features @ params[f"{head}/weights:0"] + params[f"{head}/biases:0"]
    if not dueling:
        return np.argmax(action_scores, axis=1)
    state = features
    for index in range(2):
        suffix = f"_{index}" if index else ""
        layer = f"{scope}/state_value/fully_connected{suffix}"
        state = state @ params[f"{layer}/weights:0"] + params[f"{layer}/biases:0"]
        if layer_norm:
            norm = f"{scope}/state_value/LayerNorm{suffix}"
            state = numpy_layer_norm(state, params[f"{norm}/beta:0"], params[f"{norm}/gamma:0"])
        state = relu(state)
    state_value = state @ params[f"{scope}/state_value/fully_connected_2/weights:0"] + \
        params[f"{scope}/state_value/fully_connected_2/biases:0"]
    q_values = state_value + action_scores - action_scores.mean(axis=1, keepdims=True)
    return np.argmax(q_values, axis=1)


# --- files as Stable Baselines 2 wrote them --------------------------------------------------------


def gym_pickle(qualified_name: str, state: dict[str, Any]) -> dict[str, str]:
    """A ``data`` entry holding a pickled ``gym`` object of ``qualified_name`` with ``state`` (gym is not
    installed: a stand-in class of that name is pickled by reference)."""
    module_name, _, class_name = qualified_name.rpartition(".")
    parts = module_name.split(".")
    packages = [".".join(parts[: index + 1]) for index in range(len(parts))]
    previous = {package: sys.modules.get(package) for package in packages}
    try:
        for package in packages:
            sys.modules[package] = types.ModuleType(package)
        stand_in = type(class_name, (), {"__module__": module_name})
        setattr(sys.modules[module_name], class_name, stand_in)
        instance = object.__new__(stand_in)
        instance.__dict__.update(state)
        payload = pickle.dumps(instance, protocol=2)
    finally:
        for package, module in previous.items():
            if module is None:
                sys.modules.pop(package, None)
            else:
                sys.modules[package] = module
    return {":type:": f"<class '{qualified_name}'>", ":serialized:": base64.b64encode(payload).decode()}


def gym_space(space: gymnasium.Space) -> dict[str, str]:
    random_state = np.random.RandomState(0)
    if isinstance(space, gymnasium.spaces.Discrete):
        return gym_pickle("gym.spaces.discrete.Discrete",
                          {"n": int(space.n), "shape": (), "dtype": np.dtype(np.int64), "np_random": random_state})
    return gym_pickle("gym.spaces.box.Box", {
        "dtype": space.dtype, "shape": space.shape, "low": space.low, "high": space.high,
        "bounded_below": np.isfinite(space.low), "bounded_above": np.isfinite(space.high),
        "np_random": random_state})


def write_sb2_file(path: Path, model: Any, policy: str, params: dict[str, np.ndarray]) -> Path:
    """``model``'s settings with Stable Baselines 2's policy reference, gym spaces and ``params``."""
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer) as ours:
        data = json.loads(ours.read("data"))
    module, _, name = policy.rpartition(".")
    reference = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    data["policy"] = {":type:": "<class 'abc.ABCMeta'>", ":serialized:": base64.b64encode(reference).decode()}
    data["observation_space"] = gym_space(model.observation_space)
    data["action_space"] = gym_space(model.action_space)
    arrays = io.BytesIO()
    np.savez(arrays, **params)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data))
        archive.writestr("parameter_list", json.dumps(list(params)))
        archive.writestr("parameters", arrays.getvalue())
    return path


def random_images(count: int, seed: int) -> np.ndarray:
    """Blocky random images (8x8 blocks of one random value) plus noise: structure a CNN responds to."""
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(0, 255, (count, IMAGE[0] // 8 + 1, IMAGE[1] // 8 + 1, IMAGE[2]))
    images = blocks.repeat(8, axis=1).repeat(8, axis=2)[:, : IMAGE[0], : IMAGE[1]]
    return np.clip(images + rng.normal(0, 10, images.shape), 0, 255).astype(np.uint8)


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [PPO, A2C])
@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "box"])
def test_actor_critic_cnn_has_stable_baselines_2_names_shapes_and_dtypes(algorithm: type, continuous: bool) -> None:
    model = algorithm("CnnPolicy", image_env(continuous), seed=0)
    params = model.get_parameters()
    assert [(name, array.shape) for name, array in params.items()] == sb2_actor_critic_shapes(continuous)
    assert {array.dtype for array in params.values()} == {np.dtype(np.float32)}
    assert isinstance(model.policy_net, CnnPolicy)


@pytest.mark.parametrize("policy, kwargs, dueling, layer_norm", [
    ("CnnPolicy", {}, True, False),
    ("CnnPolicy", {"dueling": False}, False, False),
    ("LnCnnPolicy", {}, True, True),
])
def test_dqn_cnn_has_stable_baselines_2_names_and_shapes(policy: str, kwargs: dict, dueling: bool,
                                                         layer_norm: bool) -> None:
    model = DQN(policy, image_env(), policy_kwargs=kwargs, seed=0)
    params = model.get_parameters()
    assert [(name, array.shape) for name, array in params.items()] == sb2_dqn_shapes(dueling, layer_norm)


def test_convolution_kernels_start_orthogonal_with_gain_sqrt_2() -> None:
    model = PPO("CnnPolicy", image_env(), seed=0)
    kernel = model.get_parameters()["model/c2/w:0"].reshape(-1, 64).astype(np.float64)
    np.testing.assert_allclose(kernel.T @ kernel, 2.0 * np.eye(64), atol=1e-5)
    assert not model.get_parameters()["model/c1/b:0"].any()


@pytest.mark.parametrize("algorithm, continuous", [(PPO, False), (PPO, True), (A2C, False)],
                         ids=["ppo-discrete", "ppo-box", "a2c-discrete"])
def test_stable_baselines_2_actor_critic_cnn_file_acts_as_the_numpy_reference(tmp_path: Path, algorithm: type,
                                                                               continuous: bool) -> None:
    params = random_parameters(sb2_actor_critic_shapes(continuous), seed=1)
    path = write_sb2_file(tmp_path / "sb2.zip", algorithm("CnnPolicy", image_env(continuous), seed=0),
                          "stable_baselines.common.policies.CnnPolicy", params)
    loaded = algorithm.load(path)  # safe mode

    assert isinstance(loaded.policy_net, CnnPolicy)
    observations = random_images(64, seed=2)
    actions, _ = loaded.predict(observations, deterministic=True)
    expected = numpy_actor_critic_actions(params, observations, loaded.observation_space, continuous)
    if continuous:
        np.testing.assert_allclose(actions, np.clip(expected, -1, 1), atol=1e-5)
        raw = loaded.policy_net.deterministic_actions(observations).numpy()
        np.testing.assert_allclose(raw, expected, atol=1e-5)
    else:
        np.testing.assert_array_equal(actions, expected)
        assert len(set(actions.tolist())) > 1  # the reference is not trivially constant


@pytest.mark.parametrize("policy, kwargs, dueling, layer_norm", [
    ("CnnPolicy", {}, True, False),
    ("CnnPolicy", {"dueling": False}, False, False),
    ("LnCnnPolicy", {}, True, True),
])
def test_stable_baselines_2_dqn_cnn_file_acts_as_the_numpy_reference(tmp_path: Path, policy: str, kwargs: dict,
                                                                      dueling: bool, layer_norm: bool) -> None:
    params = random_parameters(sb2_dqn_shapes(dueling, layer_norm), seed=3)
    path = write_sb2_file(tmp_path / "sb2.zip", DQN(policy, image_env(), policy_kwargs=kwargs, seed=0),
                          f"stable_baselines.deepq.policies.{policy}", params)
    loaded = DQN.load(path)

    assert type(loaded.q_net) is (LnCnnPolicy if layer_norm else DQNCnnPolicy)
    observations = random_images(64, seed=4)
    actions, _ = loaded.predict(observations, deterministic=True)
    expected = numpy_dqn_actions(params, observations, loaded.observation_space, dueling, layer_norm)
    np.testing.assert_array_equal(actions, expected)
    assert len(set(actions.tolist())) > 1


def test_a_wrongly_shaped_convolution_bias_is_reported_by_name(tmp_path: Path) -> None:
    params = random_parameters(sb2_actor_critic_shapes(False), seed=1)
    params["model/c1/b:0"] = params["model/c1/b:0"].reshape(1, 1, 1, 32)
    path = write_sb2_file(tmp_path / "sb2.zip", PPO("CnnPolicy", image_env(), seed=0),
                          "stable_baselines.common.policies.CnnPolicy", params)
    with pytest.raises(ValueError, match=r"model/c1/b:0.*\(1, 1, 1, 32\).*\(1, 32, 1, 1\)|"
                                         r"model/c1/b:0.*\(1, 32, 1, 1\).*\(1, 1, 1, 32\)"):
        PPO.load(path)


@pytest.mark.parametrize("algorithm, policy", [(PPO, "CnnPolicy"), (A2C, "CnnPolicy"), (DQN, "LnCnnPolicy")])
@pytest.mark.parametrize("cloudpickle", [False, True], ids=["zip", "cloudpickle"])
def test_cnn_agents_round_trip(tmp_path: Path, algorithm: type, policy: str, cloudpickle: bool) -> None:
    kwargs = dict(learning_starts=8, buffer_size=64, batch_size=8) if algorithm is DQN else dict(n_steps=8)
    model = algorithm(policy, image_env(), seed=0, **kwargs).learn(16)
    path = tmp_path / "agent.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(path, cloudpickle=cloudpickle)
        loaded = algorithm.load(path, safe_mode=not cloudpickle)

    assert type(loaded.policy) is type(model.policy) or loaded.policy is model.policy
    expected = model.get_parameters()
    actual = loaded.get_parameters()
    assert list(actual) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    observations = random_images(16, seed=5)
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0],
                                  model.predict(observations, deterministic=True)[0])


@pytest.fixture()
def op_determinism() -> Any:
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


@pytest.mark.usefixtures("op_determinism")
@pytest.mark.parametrize("algorithm, policy", [(PPO, "CnnPolicy"), (A2C, "CnnPolicy"), (DQN, "CnnPolicy")])
def test_cnn_training_resumes_bit_exactly(tmp_path: Path, algorithm: type, policy: str) -> None:
    if algorithm is DQN:
        kwargs: dict[str, Any] = dict(learning_starts=8, buffer_size=64, batch_size=8, target_network_update_freq=8)
        first, second = 20, 12
    else:
        kwargs = dict(n_steps=8)
        first, second = 16, 8
    uninterrupted = algorithm(policy, image_env(), seed=0, **kwargs).learn(first + second)

    env = image_env()
    # stopped by a callback, so that DQN's exploration schedule keeps the horizon of the whole run
    interrupted = algorithm(policy, env, seed=0, **kwargs).learn(
        first + second, callback=lambda local_vars, _: local_vars["self"].num_timesteps < first)
    assert interrupted.num_timesteps == first
    interrupted.save(tmp_path / "agent.zip", **({"include_replay_buffer": True} if algorithm is DQN else {}))
    resumed = algorithm.load(tmp_path / "agent.zip", env=env, force_reset=False)
    resumed.learn(second, reset_num_timesteps=False)

    expected = uninterrupted.get_parameters()
    actual = resumed.get_parameters()
    different = [name for name in expected if not np.array_equal(actual[name], expected[name])]
    assert not different, f"different arrays: {different}"
    assert resumed.num_timesteps == uninterrupted.num_timesteps == first + second


def test_names_table_maps_stable_baselines_2_cnn_policies() -> None:
    assert names.by_sb2_pickle_name("stable_baselines.common.policies", "CnnPolicy").registered_name == \
        "actor_critic.CnnPolicy"
    assert names.by_sb2_pickle_name("stable_baselines.deepq.policies", "CnnPolicy").registered_name == "dqn.CnnPolicy"
    entry = names.by_sb2_pickle_name("stable_baselines.deepq.policies", "LnCnnPolicy")
    assert entry.registered_name == "dqn.LnCnnPolicy" and entry.layer_norm_default and entry.cnn


@pytest.mark.parametrize("policy, expected", [
    ("actor_critic.CnnPolicy", [name for name, _ in sb2_actor_critic_shapes(False)]),
    ("dqn.LnCnnPolicy", [name for name, _ in sb2_dqn_shapes(True, True)]),
])
def test_parameters_stored_as_a_bare_list_are_named_in_stable_baselines_2_order(policy: str,
                                                                                  expected: list[str]) -> None:
    from stable_baselines_io.format.registry import resolve_registered

    data = {"policy": resolve_registered(policy), "policy_kwargs": {}, "action_space": gymnasium.spaces.Discrete(3)}
    assert list_parameter_names(data, len(expected)) == expected


@pytest.mark.parametrize("policy_class", [CnnPolicy, DQNCnnPolicy])
def test_cnn_policies_refuse_observations_that_are_not_images(policy_class: type) -> None:
    with pytest.raises(UnsupportedSpaceError, match=r"CNN policies need image observations.*Box.*\(4,\)"):
        policy_class(gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Discrete(2))
    with pytest.raises(UnsupportedSpaceError, match=r"\(20, 20, 1\).*too small.*at least 36x36"):
        policy_class(gymnasium.spaces.Box(0, 255, (20, 20, 1), dtype=np.uint8), gymnasium.spaces.Discrete(2))


def test_cnn_policy_kwargs_errors_and_warnings() -> None:
    space = gymnasium.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"CnnPolicy ignores \['net_arch'\]"):
        CnnPolicy(space, gymnasium.spaces.Discrete(2), net_arch=[8])
    with pytest.raises(UnknownPolicyKwargsError, match=r"\['layer_norm'\].*LnCnnPolicy always"):
        LnCnnPolicy(space, gymnasium.spaces.Discrete(2), layer_norm=False)
    with pytest.raises(UnknownPolicyKwargsError, match=r"\['filters'\]"):
        CnnPolicy(space, gymnasium.spaces.Discrete(2), filters=3)


def test_uint8_images_are_scaled_by_the_space_bounds() -> None:
    from stable_baselines_io.common.cnn import scale_images

    space = gymnasium.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
    images = np.full((1, 36, 36, 1), 51, np.uint8)
    np.testing.assert_array_equal(scale_images(tf.constant(images), space).numpy(), np.float32(51) / np.float32(255))
    unbounded = gymnasium.spaces.Box(-np.inf, np.inf, (36, 36, 1), dtype=np.float32)
    np.testing.assert_array_equal(scale_images(tf.constant(images.astype(np.float32)), unbounded).numpy(), 51.0)


@pytest.mark.parametrize("module_name", [
    "stable_baselines_io.interop", "stable_baselines_io.common.cnn", "stable_baselines_io.common.cnn_policies",
    "stable_baselines_io.dqn.cnn_policies", "stable_baselines_io.common.vec_frame_stack",
    "stable_baselines_io.common.atari_wrappers",
])
def test_docstring_examples_of_the_cnn_modules(module_name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} failed"
