"""Recurrent policies (``MlpLstmPolicy``, ``MlpLnLstmPolicy``, ``CnnLstmPolicy``) for PPO and A2C.

Files in Stable Baselines 2's exact layout (names, shapes, order, its data keys, the policy
pickled by reference) are written here with random weights, and the library's actions and states
are compared with a NumPy forward pass of Stable Baselines 2's ``LstmPolicy`` and ``lstm`` written
from its source (gates i, f, o, u; no forget bias; states zeroed where the mask is 1; layer
normalization of both gate terms and of the cell). Learning a partially observed CartPole is
measured by ``benchmarks/bench_recurrent.py``, not here.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from stable_baselines_io import A2C, PPO
from stable_baselines_io.common.data_checks import expected_parameter_shapes
from stable_baselines_io.common.recurrent_policies import CnnLstmPolicy, MlpLnLstmPolicy, MlpLstmPolicy
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    RecurrentBatchError,
    RecurrentStateError,
    UnsupportedExportError,
)
from stable_baselines_io.format.archive import TRAINING_STATE_MEMBER

SB2_PPO2_DATA_KEYS = ["gamma", "n_steps", "vf_coef", "ent_coef", "max_grad_norm", "learning_rate", "lam",
                      "nminibatches", "noptepochs", "cliprange", "cliprange_vf", "verbose", "policy",
                      "observation_space", "action_space", "n_envs", "n_cpu_tf_sess", "seed", "_vectorize_action",
                      "policy_kwargs"]
N_ENVS = 3
N_STEPS = 7


@pytest.fixture()
def op_determinism() -> Iterator[None]:
    """Deterministic TensorFlow ops for one test (exact resume), then the setting as it was."""
    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()


# --- Stable Baselines 2's layout and forward pass, in NumPy -----------------------------------------


def sb2_layout(n_inputs: int, n_outputs: int, continuous: bool, n_lstm: int, layer_norm: bool,
               net_arch: list[Any] | None, layers: list[int] | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of Stable Baselines 2's ``LstmPolicy`` variables in creation order (``policies.py``)."""
    layout: list[tuple[str, tuple[int, ...]]] = []

    def dense(name: str, inputs: int, outputs: int) -> int:
        layout.extend([(f"model/{name}/w:0", (inputs, outputs)), (f"model/{name}/b:0", (outputs,))])
        return outputs

    def lstm(inputs: int) -> int:
        layout.extend([("model/lstm1/wx:0", (inputs, 4 * n_lstm)), ("model/lstm1/wh:0", (n_lstm, 4 * n_lstm)),
                       ("model/lstm1/b:0", (4 * n_lstm,))])
        if layer_norm:
            layout.extend([(f"model/lstm1/{name}:0", (size,)) for name, size in
                           (("gx", 4 * n_lstm), ("bx", 4 * n_lstm), ("gh", 4 * n_lstm), ("bh", 4 * n_lstm),
                            ("gc", n_lstm), ("bc", n_lstm))])
        return n_lstm

    latent, pi_sizes, vf_sizes = n_inputs, [], []
    if net_arch is None:
        for index, size in enumerate(layers or [64, 64]):
            latent = dense(f"pi_fc{index}", latent, size)
        latent = lstm(latent)
    else:
        for index, layer in enumerate(net_arch):
            if layer == "lstm":
                latent = lstm(latent)
            elif isinstance(layer, dict):
                pi_sizes, vf_sizes = layer.get("pi", []), layer.get("vf", [])
            else:
                latent = dense(f"shared_fc{index}", latent, layer)
    pi_latent = vf_latent = latent
    for index, size in enumerate(pi_sizes):
        pi_latent = dense(f"pi_fc{index}", pi_latent, size)
    for index, size in enumerate(vf_sizes):
        vf_latent = dense(f"vf_fc{index}", vf_latent, size)
    dense("vf", vf_latent, 1)
    dense("pi", pi_latent, n_outputs)
    if continuous:
        layout.append(("model/pi/logstd:0", (1, n_outputs)))
    dense("q", vf_latent, n_outputs)
    return layout


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    variance = x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-5) * gain + bias


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sb2_forward(params: dict[str, np.ndarray], observations: np.ndarray, masks: np.ndarray, states: np.ndarray,
                layer_norm: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of Stable Baselines 2's ``LstmPolicy`` (float64): ``(pi output, values, new states)``."""

    def dense(name: str, x: np.ndarray) -> np.ndarray:
        return x @ params[f"model/{name}/w:0"] + params[f"model/{name}/b:0"]

    names = list(params)
    lstm_at = names.index("model/lstm1/wx:0")
    before = [name[len("model/"):-len("/w:0")] for name in names[:lstm_at] if name.endswith("/w:0")]
    after = [name[len("model/"):-len("/w:0")] for name in names[lstm_at:] if name.endswith("/w:0")
             and name.split("/")[1].startswith(("shared_fc", "pi_fc", "vf_fc"))]
    x = observations.astype(np.float64)
    for name in before:
        x = np.tanh(dense(name, x))
    n_lstm = params["model/lstm1/wh:0"].shape[0]
    cell, hidden = states[:, :n_lstm] * (1 - masks[:, None]), states[:, n_lstm:] * (1 - masks[:, None])
    x_gates, h_gates = x @ params["model/lstm1/wx:0"], hidden @ params["model/lstm1/wh:0"]
    if layer_norm:
        x_gates = _layer_norm(x_gates, params["model/lstm1/gx:0"], params["model/lstm1/bx:0"])
        h_gates = _layer_norm(h_gates, params["model/lstm1/gh:0"], params["model/lstm1/bh:0"])
    in_gate, forget_gate, out_gate, candidate = np.split(x_gates + h_gates + params["model/lstm1/b:0"], 4, axis=1)
    cell = _sigmoid(forget_gate) * cell + _sigmoid(in_gate) * np.tanh(candidate)
    normed = _layer_norm(cell, params["model/lstm1/gc:0"], params["model/lstm1/bc:0"]) if layer_norm else cell
    hidden = _sigmoid(out_gate) * np.tanh(normed)
    latent = pi_latent = vf_latent = hidden
    for name in after:
        if name.startswith("shared_fc"):
            latent = pi_latent = vf_latent = np.tanh(dense(name, latent))
        elif name.startswith("pi_fc"):
            pi_latent = np.tanh(dense(name, pi_latent))
        else:
            vf_latent = np.tanh(dense(name, vf_latent))
    return dense("pi", pi_latent), dense("vf", vf_latent)[:, 0], np.concatenate([cell, hidden], axis=1)


def _class_pickle(module: str, name: str) -> dict[str, str]:
    """A data entry holding a class pickled by reference, as Stable Baselines 2 wrote its policy."""
    payload = base64.b64encode(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b".").decode()
    return {":type:": "<class 'abc.ABCMeta'>", ":serialized:": payload}


def _space_entries(env_id: str | gymnasium.Env, sb2_fixture_dir: Path, tmp_path: Path) -> tuple[Any, Any]:
    """The spaces as data entries: CartPole's from a real Stable Baselines 2 file, others as this library writes."""
    if env_id == "CartPole-v1":
        with zipfile.ZipFile(sb2_fixture_dir / "ppo2__CartPole-v1__TrailerReverse.zip") as real:
            data = json.loads(real.read("data"))
    else:
        PPO("MlpPolicy", env_id).save(tmp_path / "spaces.zip")
        with zipfile.ZipFile(tmp_path / "spaces.zip") as ours:
            data = json.loads(ours.read("data"))
    return data["observation_space"], data["action_space"]


def write_sb2_ppo2_zip(path: Path, policy_name: str, policy_kwargs: dict[str, Any], params: dict[str, np.ndarray],
                       spaces: tuple[Any, Any]) -> None:
    """Write a PPO2 file as Stable Baselines 2.10's ``save`` did: its data keys, ``parameter_list``, ``parameters``."""
    values = dict(gamma=0.99, n_steps=128, vf_coef=0.5, ent_coef=0.01, max_grad_norm=0.5, learning_rate=2.5e-4,
                  lam=0.95, nminibatches=1, noptepochs=4, cliprange=0.2, cliprange_vf=None, verbose=0,
                  policy=_class_pickle("stable_baselines.common.policies", policy_name),
                  observation_space=spaces[0], action_space=spaces[1], n_envs=N_ENVS, n_cpu_tf_sess=None, seed=None,
                  _vectorize_action=False, policy_kwargs=policy_kwargs)
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({key: values[key] for key in SB2_PPO2_DATA_KEYS}, indent=4))
        archive.writestr("parameters", buffer.getvalue())
        archive.writestr("parameter_list", json.dumps(list(params), indent=4))


#: policy name, policy_kwargs, env id, observation size, action outputs, Box actions
SB2_CASES = [
    ("MlpLstmPolicy", dict(n_lstm=6, layers=[8]), "CartPole-v1", 4, 2, False),
    ("MlpLnLstmPolicy", dict(n_lstm=5, layers=[8, 7]), "CartPole-v1", 4, 2, False),
    ("MlpLstmPolicy", dict(n_lstm=4, net_arch=[5, "lstm", 6, dict(pi=[4], vf=[3])]), "Pendulum-v1", 3, 1, True),
    ("MlpLnLstmPolicy", dict(n_lstm=4, net_arch=["lstm", dict(vf=[3])]), "Pendulum-v1", 3, 1, True),
]
SB2_IDS = [f"{case[0]}-{case[2]}-{'net_arch' if 'net_arch' in case[1] else 'layers'}" for case in SB2_CASES]


@pytest.fixture(params=SB2_CASES, ids=SB2_IDS)
def sb2_file(request: pytest.FixtureRequest, sb2_fixture_dir: Path, tmp_path: Path) -> dict[str, Any]:
    policy_name, policy_kwargs, env_id, n_inputs, n_outputs, continuous = request.param
    rng = np.random.default_rng(len(request.node.name))
    layout = sb2_layout(n_inputs, n_outputs, continuous, policy_kwargs["n_lstm"], "Ln" in policy_name,
                        policy_kwargs.get("net_arch"), policy_kwargs.get("layers"))
    params = {name: rng.normal(scale=0.6, size=shape).astype(np.float32) for name, shape in layout}
    for name in params:
        if name.split("/")[-1][0] == "g":  # layer-norm gains around 1
            params[name] += 1.0
    path = tmp_path / f"{policy_name}.zip"
    write_sb2_ppo2_zip(path, policy_name, policy_kwargs, params, _space_entries(env_id, sb2_fixture_dir, tmp_path))
    return dict(path=path, params=params, layer_norm="Ln" in policy_name, continuous=continuous, env_id=env_id,
                n_inputs=n_inputs, policy_name=policy_name)


def test_the_legacy_layers_layout_is_stable_baselines_2s() -> None:
    assert sb2_layout(4, 2, False, 6, False, None, [8]) == [
        ("model/pi_fc0/w:0", (4, 8)), ("model/pi_fc0/b:0", (8,)),
        ("model/lstm1/wx:0", (8, 24)), ("model/lstm1/wh:0", (6, 24)), ("model/lstm1/b:0", (24,)),
        ("model/vf/w:0", (6, 1)), ("model/vf/b:0", (1,)),
        ("model/pi/w:0", (6, 2)), ("model/pi/b:0", (2,)),
        ("model/q/w:0", (6, 2)), ("model/q/b:0", (2,)),
    ]
    policy = MlpLstmPolicy(gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Discrete(2))
    assert [(variable.name, tuple(variable.shape)) for variable in policy.get_parameter_list()] == sb2_layout(
        4, 2, False, 256, False, None)


def test_stable_baselines_2_files_act_as_the_numpy_reference(sb2_file: dict[str, Any]) -> None:
    model = PPO.load(sb2_file["path"], safe_mode=True)
    assert type(model.policy_net).__name__ == sb2_file["policy_name"]
    assert list(model.get_parameters()) == list(sb2_file["params"])
    rng = np.random.default_rng(1)
    observations = rng.normal(scale=2.0, size=(N_STEPS, N_ENVS, sb2_file["n_inputs"])).astype(np.float32)
    masks = np.zeros((N_STEPS, N_ENVS), dtype=bool)
    masks[0], masks[3, 1], masks[5, 0] = True, True, True
    states = reference_states = model.initial_state
    assert states is not None and states.shape == (N_ENVS, 2 * model.policy_net.n_lstm) and not states.any()
    for step in range(N_STEPS):
        expected_pi, _, reference_states = sb2_forward(sb2_file["params"], observations[step],
                                                       masks[step].astype(np.float64), reference_states,
                                                       sb2_file["layer_norm"])
        proba = model.action_probability(observations[step], state=states, mask=masks[step])
        actions, states = model.predict(observations[step], state=states, mask=masks[step], deterministic=True)
        if sb2_file["continuous"]:
            np.testing.assert_allclose(actions, np.clip(expected_pi, -2.0, 2.0), atol=1e-5)
            np.testing.assert_allclose(proba[0], expected_pi, atol=1e-5)
        else:
            np.testing.assert_array_equal(actions, np.argmax(expected_pi, axis=1))
            softmax = np.exp(expected_pi - expected_pi.max(axis=1, keepdims=True))
            np.testing.assert_allclose(proba, softmax / softmax.sum(axis=1, keepdims=True), atol=1e-5)
        np.testing.assert_allclose(states, reference_states, atol=1e-5)
        assert states.dtype == np.float32


def test_a_mask_resets_the_state_to_the_initial_one(sb2_file: dict[str, Any]) -> None:
    model = PPO.load(sb2_file["path"])
    observations = np.random.default_rng(2).normal(size=(N_ENVS, sb2_file["n_inputs"])).astype(np.float32)
    _, states = model.predict(observations, deterministic=True)
    _, states = model.predict(observations, state=states, deterministic=True)
    fresh = model.action_probability(observations)
    reset = model.action_probability(observations, state=states, mask=np.ones(N_ENVS, dtype=bool))
    carried = model.action_probability(observations, state=states, mask=np.zeros(N_ENVS))
    np.testing.assert_array_equal(np.asarray(reset), np.asarray(fresh))
    assert not np.array_equal(np.asarray(carried), np.asarray(fresh))


def test_stored_lstm_shapes_are_checked_before_the_policy_is_built(sb2_fixture_dir: Path, tmp_path: Path) -> None:
    layout = sb2_layout(4, 2, False, 6, False, None, [8])
    params = {name: np.zeros(shape, np.float32) for name, shape in layout}
    params["model/lstm1/wh:0"] = np.zeros((6, 20), np.float32)
    del params["model/lstm1/b:0"]
    write_sb2_ppo2_zip(tmp_path / "bad.zip", "MlpLstmPolicy", dict(n_lstm=6, layers=[8]), params,
                       _space_entries("CartPole-v1", sb2_fixture_dir, tmp_path))
    with pytest.raises(AlgorithmMismatchError, match=r"missing parameters \['model/lstm1/b:0'\].*'model/lstm1/wh:0': "
                                                     r"the network has shape \(6, 24\), the file \(6, 20\)"):
        PPO.load(tmp_path / "bad.zip")


@pytest.mark.parametrize("policy_kwargs, message", [
    (dict(n_lstm=0), r"policy_kwargs\['n_lstm'\] must be a layer size"),
    (dict(n_lstm=2**40), r"policy_kwargs\['n_lstm'\] must be a layer size"),
    (dict(net_arch=["lstm", 8, "lstm"]), r"at most one 'lstm'"),
])
def test_unsound_recurrent_policy_kwargs_in_a_file_are_refused(sb2_fixture_dir: Path, tmp_path: Path,
                                                               policy_kwargs: dict[str, Any], message: str) -> None:
    write_sb2_ppo2_zip(tmp_path / "bad.zip", "MlpLstmPolicy", policy_kwargs, {},
                       _space_entries("CartPole-v1", sb2_fixture_dir, tmp_path))
    with pytest.raises(CorruptAgentFileError, match=message):
        PPO.load(tmp_path / "bad.zip")


# --- predict's states and masks ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model() -> PPO:
    return PPO("MlpLstmPolicy", "CartPole-v1", n_envs=2, nminibatches=2, seed=3, policy_kwargs=dict(n_lstm=8))


def test_predict_returns_one_state_per_observation_and_initial_state_is_zeros(small_model: PPO) -> None:
    assert small_model.recurrent
    np.testing.assert_array_equal(small_model.initial_state, np.zeros((2, 16), np.float32))
    actions, states = small_model.predict(np.zeros((5, 4)), deterministic=True)
    assert actions.shape == (5,) and states.shape == (5, 16)
    action, state = small_model.predict(np.zeros(4), deterministic=True)
    assert np.ndim(action) == 0 and state.shape == (1, 16)
    assert PPO("MlpPolicy", "CartPole-v1").initial_state is None


@pytest.mark.parametrize("state, mask, message", [
    (np.zeros((3, 16)), None, r"state must have shape \(n_envs, 2 \* n_lstm\) = \(2, 16\).*received shape \(3, 16\)"),
    (np.zeros((2, 8)), None, r"n_lstm=8, received shape \(2, 8\)"),
    (None, [True, False, True], r"mask must hold one flag per observation \(2\), received 3"),
])
def test_states_and_masks_of_the_wrong_shape_are_refused(small_model: PPO, state: Any, mask: Any,
                                                         message: str) -> None:
    with pytest.raises(RecurrentStateError, match=message):
        small_model.predict(np.zeros((2, 4)), state=state, mask=mask)
    with pytest.raises(ValueError, match=message):
        small_model.action_probability(np.zeros((2, 4)), state=state, mask=mask)


def test_episode_start_is_the_stable_baselines_3_name_of_mask(small_model: PPO) -> None:
    observations = np.ones((2, 4))
    _, states = small_model.predict(observations, deterministic=True)
    by_mask = small_model.predict(observations, state=states, mask=[1, 0], deterministic=True)
    by_episode_start = small_model.predict(observations, state=states, episode_start=[1, 0], deterministic=True)
    np.testing.assert_array_equal(by_mask[1], by_episode_start[1])


# --- training --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_envs, nminibatches", [(3, 2), (2, 4)])
def test_ppo_recurrent_needs_nminibatches_to_divide_n_envs(n_envs: int, nminibatches: int) -> None:
    model = PPO("MlpLstmPolicy", "CartPole-v1", n_envs=n_envs, nminibatches=nminibatches, n_steps=4,
                policy_kwargs=dict(n_lstm=4))
    with pytest.raises(RecurrentBatchError, match=rf"nminibatches must divide the number of environments.*"
                                                  rf"n_envs={n_envs}, nminibatches={nminibatches}"):
        model.learn(100)
    assert issubclass(RecurrentBatchError, AssertionError)  # Stable Baselines 2 asserted it
    assert model.num_timesteps == 0


def test_ppo_minibatches_hold_whole_environment_sequences(monkeypatch: pytest.MonkeyPatch) -> None:
    model = PPO("MlpLstmPolicy", "CartPole-v1", n_envs=4, nminibatches=2, n_steps=5, noptepochs=2, seed=0,
                policy_kwargs=dict(n_lstm=4))
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    original = model._minibatches  # noqa: SLF001

    def record(rollout: Any) -> Iterator[Any]:
        for minibatch, recurrent_inputs in original(rollout):
            seen.append((minibatch, *recurrent_inputs))
            yield minibatch, recurrent_inputs

    monkeypatch.setattr(model, "_minibatches", record)
    model.learn(20)
    assert len(seen) == 4  # 2 epochs x 2 minibatches
    for minibatch, states, masks in seen:
        envs = minibatch[:2] % 4
        # step-major: every step of the same two environments, in step order
        np.testing.assert_array_equal(minibatch, (np.arange(5)[:, None] * 4 + envs[None, :]).ravel())
        assert states.shape == (2, 8) and masks.shape == (10,)
    np.testing.assert_array_equal(seen[0][2][:2], [1.0, 1.0])  # the first step starts every episode


class TinyImageEnv(gymnasium.Env):
    """36x36 grey images, two actions, episodes of 6 steps (small enough for nature_cnn)."""

    observation_space = gymnasium.spaces.Box(0, 255, (36, 36, 1), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return self._image(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        return self._image(), float(action), self.steps >= 6, False, {}

    def _image(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (36, 36, 1), dtype=np.uint8)


MODEL_CASES = [
    (PPO, "MlpLstmPolicy", "CartPole-v1", dict(n_lstm=8)),
    (A2C, "MlpLnLstmPolicy", "ShortPendulum", dict(n_lstm=8, net_arch=[8, "lstm", dict(pi=[8], vf=[8])])),
    (PPO, "MlpLnLstmPolicy", "ShortPendulum", dict(n_lstm=8, layers=[8])),
    (A2C, "MlpLstmPolicy", "CartPole-v1", dict(n_lstm=8)),
    (PPO, "CnnLstmPolicy", "TinyImageEnv", dict(n_lstm=8)),
    (PPO, "MlpLstmPolicy", "IdentityMultiDiscrete-v0", dict(n_lstm=8)),
    (A2C, "MlpLnLstmPolicy", "IdentityMultiBinary-v0", dict(n_lstm=8)),
]
MODEL_IDS = [f"{case[0].__name__}-{case[1]}-{case[2]}" for case in MODEL_CASES]


def _make_env(env_id: str) -> gymnasium.Env:
    if env_id == "TinyImageEnv":
        return TinyImageEnv()
    if env_id == "ShortPendulum":  # time limits (truncations) every 6 steps: bootstrapped from the recurrent value
        return gymnasium.make("Pendulum-v1", max_episode_steps=6)
    return gymnasium.make(env_id)


def _envs(env_id: str, n_envs: int = 2) -> VecEnv:
    return VecEnv([_make_env(env_id) for _ in range(n_envs)])


def _new_model(algorithm: type, policy: str, env: VecEnv, policy_kwargs: dict[str, Any]) -> Any:
    extra = dict(nminibatches=2, noptepochs=2) if algorithm is PPO else {}
    return algorithm(policy, env, n_steps=8, seed=0, policy_kwargs=policy_kwargs, **extra)


ROUND_TRIPS = [(*case, False) for case in MODEL_CASES] + [(*MODEL_CASES[0], True), (*MODEL_CASES[1], True)]


@pytest.mark.filterwarnings("ignore:the legacy cloudpickle format holds only data and parameters:UserWarning")
@pytest.mark.parametrize("algorithm, policy, env_id, policy_kwargs, cloudpickle", ROUND_TRIPS,
                         ids=[*MODEL_IDS, *[f"{name}-cloudpickle" for name in MODEL_IDS[:2]]])
def test_round_trip_predicts_the_same_actions_and_states(tmp_path: Path, algorithm: type, policy: str, env_id: str,
                                                         policy_kwargs: dict[str, Any], cloudpickle: bool) -> None:
    model = _new_model(algorithm, policy, _envs(env_id), policy_kwargs)
    model.save(tmp_path / "agent.zip", cloudpickle=cloudpickle)
    with pytest.warns(DeprecationWarning) if cloudpickle else contextlib.nullcontext():
        loaded = algorithm.load(tmp_path / "agent.zip")
    assert type(loaded.policy_net) is type(model.policy_net) and loaded.policy_kwargs == policy_kwargs
    observations = np.stack([model.observation_space.sample() for _ in range(2)])
    states = [None, None]
    for step, mask in enumerate([[1, 1], [0, 0], [0, 1], [0, 0]]):
        outputs = [m.predict(observations, state=state, mask=mask, deterministic=step % 2 == 0)
                   for m, state in zip((model, loaded), states)]
        if step % 2 == 0:
            np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
        np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
        states = [outputs[0][1], outputs[1][1]]
        probabilities = [m.action_probability(observations, state=state) for m, state in zip((model, loaded), states)]
        # one array, or one per dimension of MultiDiscrete actions
        parts = [proba if isinstance(proba, list) else [proba] for proba in probabilities]
        for part, loaded_part in zip(*parts, strict=True):
            np.testing.assert_array_equal(part, loaded_part)


@pytest.mark.parametrize("algorithm, policy, env_id, policy_kwargs", [
    *MODEL_CASES[:2], *[pytest.param(*case, marks=pytest.mark.slow) for case in MODEL_CASES[2:4]]], ids=MODEL_IDS[:4])
def test_exact_resume_includes_the_recurrent_state_of_the_running_envs(op_determinism: None, tmp_path: Path,
                                                                       algorithm: type, policy: str, env_id: str,
                                                                       policy_kwargs: dict[str, Any]) -> None:
    n, m = 2 * 16, 16
    uninterrupted = _new_model(algorithm, policy, _envs(env_id), policy_kwargs).learn(n + m)

    env = _envs(env_id)
    first_part = _new_model(algorithm, policy, env, policy_kwargs).learn(n)
    assert first_part._policy_states.any()  # noqa: SLF001  (mid-episode: a state worth keeping)
    first_part.save(tmp_path / "agent.zip")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert "_policy_states" in json.loads(archive.read(TRAINING_STATE_MEMBER))
    resumed = algorithm.load(tmp_path / "agent.zip", env=env, force_reset=False)
    np.testing.assert_array_equal(resumed._policy_states, first_part._policy_states)  # noqa: SLF001
    resumed.learn(m, reset_num_timesteps=False)

    resumed_params, uninterrupted_params = resumed.get_parameters(), uninterrupted.get_parameters()
    assert [name for name in uninterrupted_params
            if not np.array_equal(resumed_params[name], uninterrupted_params[name])] == []
    np.testing.assert_array_equal(resumed._policy_states, uninterrupted._policy_states)  # noqa: SLF001
    assert resumed.num_timesteps == uninterrupted.num_timesteps == n + m


def test_a_stored_state_that_does_not_fit_the_policy_is_refused(tmp_path: Path) -> None:
    model = PPO("MlpLstmPolicy", _envs("CartPole-v1"), n_steps=4, nminibatches=2, policy_kwargs=dict(n_lstm=4))
    model.learn(8)
    model._policy_states = np.zeros((2, 5), np.float32)  # noqa: SLF001
    model.save(tmp_path / "agent.zip")
    with pytest.raises(CorruptAgentFileError, match=r"'_policy_states' must be float32 of shape \(2, 8\).*\(2, 5\)"):
        PPO.load(tmp_path / "agent.zip")


def test_forgetting_the_environment_forgets_the_recurrent_state() -> None:
    model = PPO("MlpLstmPolicy", _envs("CartPole-v1"), n_steps=4, nminibatches=2, policy_kwargs=dict(n_lstm=4))
    model.learn(8)
    assert model._policy_states is not None  # noqa: SLF001
    model.set_env(_envs("CartPole-v1"))
    assert model._policy_states is None  # noqa: SLF001
    model.learn(8)
    assert model._policy_states.shape == (2, 8)  # noqa: SLF001


def test_cnn_lstm_policy_has_nature_cnn_variables_in_stable_baselines_2_layout() -> None:
    policy = CnnLstmPolicy(TinyImageEnv.observation_space, TinyImageEnv.action_space, n_lstm=8)
    assert [(variable.name, tuple(variable.shape)) for variable in policy.get_parameter_list()][:10] == [
        ("model/c1/w:0", (8, 8, 1, 32)), ("model/c1/b:0", (1, 32, 1, 1)),
        ("model/c2/w:0", (4, 4, 32, 64)), ("model/c2/b:0", (1, 64, 1, 1)),
        ("model/c3/w:0", (3, 3, 64, 64)), ("model/c3/b:0", (1, 64, 1, 1)),
        ("model/fc1/w:0", (64, 512)), ("model/fc1/b:0", (512,)),
        ("model/lstm1/wx:0", (512, 32)), ("model/lstm1/wh:0", (8, 32)),
    ]
    with pytest.raises(ValueError, match="does not take net_arch"):
        CnnLstmPolicy(TinyImageEnv.observation_space, TinyImageEnv.action_space, net_arch=["lstm"])


def test_net_arch_needs_exactly_one_lstm() -> None:
    space = gymnasium.spaces.Box(-1, 1, (3,))
    with pytest.raises(ValueError, match="net_arch must contain 'lstm' exactly once"):
        MlpLnLstmPolicy(space, gymnasium.spaces.Discrete(2), net_arch=[8, dict(pi=[4])])


def test_a_recurrent_policy_exports_to_a_saved_model_that_carries_the_states(small_model: PPO,
                                                                             tmp_path: Path) -> None:
    small_model.export(tmp_path / "exported")
    exported = tf.saved_model.load(str(tmp_path / "exported"))
    action = exported.signatures["action"]
    assert sorted(action.structured_input_signature[1]) == ["masks", "observations", "states"]
    observations = np.random.default_rng(4).normal(size=(4, 2, 4)).astype(np.float32)
    states = exported_states = small_model.initial_state
    for step, mask in enumerate([[1, 1], [0, 0], [0, 1], [0, 0]]):
        actions, states = small_model.predict(observations[step], state=states, mask=mask, deterministic=True)
        outputs = action(observations=tf.constant(observations[step]), states=tf.constant(exported_states),
                         masks=tf.constant(mask, tf.float32))
        np.testing.assert_array_equal(outputs["actions"].numpy(), actions, err_msg=f"step {step}")
        np.testing.assert_allclose(outputs["states"].numpy(), states, atol=1e-6, err_msg=f"step {step}")
        exported_states = outputs["states"].numpy()
    probabilities = exported.signatures["action_probability"](
        observations=tf.constant(observations[0]), states=tf.constant(states), masks=tf.zeros(2))
    np.testing.assert_allclose(probabilities["probabilities"].numpy(),
                               small_model.action_probability(observations[0], state=states, mask=[0, 0]), atol=1e-6)


@pytest.mark.parametrize("export_format", ["tflite", "onnx"])
def test_a_recurrent_policy_exports_to_saved_model_only(small_model: PPO, tmp_path: Path, export_format: str) -> None:
    with pytest.raises(UnsupportedExportError, match=rf"recurrent policy MlpLstmPolicy exports to 'saved_model' "
                                                     rf"only .*not to '{export_format}'"):
        small_model.export(tmp_path / "exported", format=export_format)


# --- CnnLstmPolicy against a NumPy nature_cnn ----------------------------------------------------


def sb2_nature_cnn(params: dict[str, np.ndarray], images: np.ndarray, low: float = 0.0,
                   high: float = 255.0) -> np.ndarray:
    """Stable Baselines 2's ``nature_cnn`` in NumPy on images scaled as its ``observation_input(scale=True)``
    ((x - low) / (high - low)): VALID convolutions (NHWC), ReLU, ``conv_to_fc``, fc1."""
    x = (images.astype(np.float64) - low) / (high - low)
    for name, stride in (("c1", 4), ("c2", 2), ("c3", 1)):
        kernel = params[f"model/{name}/w:0"]
        windows = np.lib.stride_tricks.sliding_window_view(x, kernel.shape[:2], axis=(1, 2))[:, ::stride, ::stride]
        x = np.maximum(np.einsum("nhwcij,ijcf->nhwf", windows, kernel) + params[f"model/{name}/b:0"].reshape(-1), 0)
    x = x.reshape(len(x), -1)
    return np.maximum(x @ params["model/fc1/w:0"] + params["model/fc1/b:0"], 0)


def test_a_stable_baselines_2_cnn_lstm_file_acts_as_the_numpy_reference(sb2_fixture_dir: Path,
                                                                         tmp_path: Path) -> None:
    n_lstm = 6
    shapes = [("model/c1/w:0", (8, 8, 1, 32)), ("model/c1/b:0", (1, 32, 1, 1)), ("model/c2/w:0", (4, 4, 32, 64)),
              ("model/c2/b:0", (1, 64, 1, 1)), ("model/c3/w:0", (3, 3, 64, 64)), ("model/c3/b:0", (1, 64, 1, 1)),
              ("model/fc1/w:0", (64, 512)), ("model/fc1/b:0", (512,))]
    shapes += sb2_layout(512, 2, False, n_lstm, False, ["lstm"])
    rng = np.random.default_rng(7)
    params = {name: rng.normal(scale=0.1 if name.startswith("model/c") else 0.5, size=shape).astype(np.float32)
              for name, shape in shapes}
    write_sb2_ppo2_zip(tmp_path / "cnn_lstm.zip", "CnnLstmPolicy", dict(n_lstm=n_lstm), params,
                       _space_entries(TinyImageEnv(), sb2_fixture_dir, tmp_path))
    model = PPO.load(tmp_path / "cnn_lstm.zip")
    assert type(model.policy_net) is CnnLstmPolicy and list(model.get_parameters()) == list(params)

    # With the CNN's features as input, the rest is the MLP reference with no layer before the LSTM.
    lstm_params = {name: value for name, value in params.items() if not name.startswith(("model/c", "model/fc1"))}
    states = reference_states = model.initial_state
    for step, mask in enumerate([[1, 1, 1], [0, 0, 0], [0, 1, 0]]):
        images = rng.integers(0, 256, (N_ENVS, 36, 36, 1), dtype=np.uint8)
        expected_pi, _, reference_states = sb2_forward(lstm_params, sb2_nature_cnn(params, images),
                                                       np.asarray(mask, np.float64), reference_states, False)
        actions, states = model.predict(images, state=states, mask=mask, deterministic=True)
        np.testing.assert_array_equal(actions, np.argmax(expected_pi, axis=1), err_msg=f"step {step}")
        np.testing.assert_allclose(states, reference_states, atol=1e-5, err_msg=f"step {step}")


@pytest.mark.parametrize("policy, observation_space, action_space, policy_kwargs", [
    (MlpLstmPolicy, gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.Discrete(3), dict(n_lstm=5)),
    (MlpLnLstmPolicy, gymnasium.spaces.Discrete(6), gymnasium.spaces.Box(-1, 1, (2,)),
     dict(n_lstm=4, net_arch=[7, "lstm", 3, dict(pi=[4, 4], vf=[2])])),
    (CnnLstmPolicy, TinyImageEnv.observation_space, TinyImageEnv.action_space, dict(n_lstm=3)),
    (MlpLstmPolicy, gymnasium.spaces.Box(-1, 1, (4,)), gymnasium.spaces.MultiBinary(3), dict(n_lstm=5)),
    (CnnLstmPolicy, TinyImageEnv.observation_space, gymnasium.spaces.MultiDiscrete([2, 3]), dict(n_lstm=3)),
], ids=["mlp-layers", "ln-net_arch", "cnn", "mlp-multi_binary", "cnn-multi_discrete"])
def test_shapes_checked_before_building_are_the_real_variable_shapes(policy: type, observation_space: Any,
                                                                     action_space: Any,
                                                                     policy_kwargs: dict[str, Any]) -> None:
    built = policy(observation_space, action_space, generator=tf.random.Generator.from_seed(0), **policy_kwargs)
    real = {variable.name: tuple(variable.shape) for variable in built.get_parameter_list()}
    data = dict(policy=policy, observation_space=observation_space, action_space=action_space,
                policy_kwargs=policy_kwargs)
    assert expected_parameter_shapes(data) == real


def test_cnn_lstm_images_are_min_max_scaled_by_the_space_bounds_as_stable_baselines_2() -> None:
    space = gymnasium.spaces.Box(-1.0, 3.0, (36, 36, 2), np.float32)  # not [0, 255]: a plain / 255 would differ
    policy = CnnLstmPolicy(space, gymnasium.spaces.Discrete(2), n_lstm=3, generator=tf.random.Generator.from_seed(0))
    rng = np.random.default_rng(11)
    params = {}
    for variable in policy.cnn.get_parameter_list():
        params[variable.name] = rng.normal(scale=0.1, size=variable.shape).astype(np.float32)
        variable.assign(params[variable.name])
    images = rng.uniform(-1.0, 3.0, (4, 36, 36, 2)).astype(np.float32)
    np.testing.assert_allclose(policy.features(tf.constant(images)).numpy(),
                               sb2_nature_cnn(params, images, low=-1.0, high=3.0), rtol=1e-4, atol=1e-5)


def test_a_stable_baselines_2_lstm_file_with_multi_discrete_actions_acts_as_the_numpy_reference(
        sb2_fixture_dir: Path, tmp_path: Path) -> None:
    from test_multi_action_spaces import _sb2_space_entry

    nvec, n_lstm = [3, 2, 4], 5
    layout = sb2_layout(4, sum(nvec), False, n_lstm, False, None, [8])
    rng = np.random.default_rng(5)
    params = {name: rng.normal(scale=0.8, size=shape).astype(np.float32) for name, shape in layout}
    action_entry = _sb2_space_entry("MultiDiscrete", {"nvec": np.array(nvec, dtype=np.int64), "shape": (len(nvec),),
                                                      "dtype": np.dtype(np.int64)})
    spaces = (_space_entries("CartPole-v1", sb2_fixture_dir, tmp_path)[0], action_entry)
    write_sb2_ppo2_zip(tmp_path / "lstm_md.zip", "MlpLstmPolicy", dict(n_lstm=n_lstm, layers=[8]), params, spaces)
    model = PPO.load(tmp_path / "lstm_md.zip", safe_mode=True)
    assert model.action_space == gymnasium.spaces.MultiDiscrete(nvec)
    assert list(model.get_parameters()) == list(params)

    states = reference_states = model.initial_state
    seen = set()
    for step, mask in enumerate([[1, 1, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0]]):
        observations = rng.normal(scale=2.0, size=(N_ENVS, 4)).astype(np.float32)
        expected_pi, _, reference_states = sb2_forward(params, observations, np.asarray(mask, np.float64),
                                                       reference_states, False)
        blocks = np.split(expected_pi, np.cumsum(nvec)[:-1], axis=1)
        probabilities = model.action_probability(observations, state=states, mask=mask)
        actions, states = model.predict(observations, state=states, mask=mask, deterministic=True)
        np.testing.assert_array_equal(actions, np.stack([block.argmax(axis=1) for block in blocks], axis=1),
                                      err_msg=f"step {step}")
        for received, block in zip(probabilities, blocks, strict=True):
            softmax = np.exp(block - block.max(axis=1, keepdims=True))
            np.testing.assert_allclose(received, softmax / softmax.sum(axis=1, keepdims=True), atol=1e-5)
        np.testing.assert_allclose(states, reference_states, atol=1e-5, err_msg=f"step {step}")
        seen.update(map(tuple, actions))
    assert len(seen) > 1  # the check is not vacuous


@pytest.mark.parametrize("algorithm, policy, env_id", [
    (PPO, "MlpLstmPolicy", "IdentityMultiDiscrete-v0"), (A2C, "MlpLnLstmPolicy", "IdentityMultiBinary-v0")])
def test_recurrent_policies_train_on_multi_discrete_and_multi_binary_actions(algorithm: type, policy: str,
                                                                            env_id: str) -> None:
    model = _new_model(algorithm, policy, _envs(env_id), dict(n_lstm=4)).learn(16)
    assert model.num_timesteps == 16
    actions, states = model.predict(np.stack([model.observation_space.sample() for _ in range(2)]))
    assert all(model.action_space.contains(action) for action in actions) and states.shape == (2, 8)
