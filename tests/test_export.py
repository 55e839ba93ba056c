"""Exported policies (SavedModel, TFLite, ONNX) act as ``model.predict(..., deterministic=True)``,
in a process that never imports stable_baselines_io."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from image_env import ImageChoiceEnv

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.exceptions import ExportDependencyError, UnsupportedExportError
from stable_baselines_io.export import EXPORT_FORMATS, export_model

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUNNER = PROJECT_ROOT / "examples" / "python" / "run_exported.py"
N_OBSERVATIONS = 1000
Rollout = Callable[..., np.ndarray]

# TensorFlow 2.20+ points to the LiteRT package; tf.lite.Interpreter is what deployments still call.
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
IDENTITY_MULTI_DISCRETE = "stable_baselines_io.envs:IdentityMultiDiscrete-v0"
IDENTITY_MULTI_BINARY = "stable_baselines_io.envs:IdentityMultiBinary-v0"
ARTIFACT_NAMES = {"saved_model": "saved_model", "tflite": "policy.tflite", "onnx": "policy.onnx"}


def _ppo_box() -> PPO:
    model = PPO("MlpPolicy", "Pendulum-v1", seed=0, policy_kwargs=dict(net_arch=[32, dict(pi=[16], vf=[16])],
                                                                        act_fun="relu"))
    # Large weights push many Gaussian means past the bounds [-2, 2], so the clipping is exercised.
    model.policy_net.pi.w.assign(model.policy_net.pi.w * 1000.0)
    return model


# id -> (model factory, gymnasium env whose observations are used)
LIBRARY_MODELS: dict[str, tuple[Callable[[], Any], str]] = {
    "ppo-discrete": (lambda: PPO("MlpPolicy", "CartPole-v1", seed=0), "CartPole-v1"),
    "ppo-box": (_ppo_box, "Pendulum-v1"),
    "a2c-discrete": (lambda: A2C("MlpPolicy", "CartPole-v1", seed=0), "CartPole-v1"),
    "ppo-multi-discrete": (lambda: PPO("MlpPolicy", IDENTITY_MULTI_DISCRETE, seed=0), IDENTITY_MULTI_DISCRETE),
    "a2c-multi-binary": (lambda: A2C("MlpPolicy", IDENTITY_MULTI_BINARY, seed=0), IDENTITY_MULTI_BINARY),
    "dqn-dueling": (lambda: DQN("MlpPolicy", "CartPole-v1", seed=0), "CartPole-v1"),
    "dqn-layer-norm": (lambda: DQN("LnMlpPolicy", "CartPole-v1", seed=0, policy_kwargs=dict(dueling=False)),
                       "CartPole-v1"),
}
# id -> (algorithm, Stable Baselines 2 file, gymnasium env)
SB2_MODELS: dict[str, tuple[type, str, str]] = {
    "sb2-ppo2-pendulum": (PPO, "ppo2__Pendulum-v0.pkl", "Pendulum-v1"),
    "sb2-dqn-cartpole": (DQN, "dqn__CartPole-v1__deep-q-learning.zip", "CartPole-v1"),
}


def _export_and_run(models: dict[str, tuple[Any, str]], directory: Path,
                    rollout: Rollout) -> dict[str, Any]:
    """Export every model to every format, then run all artifacts in one fresh isolated process.

    :return: ``{"imported_stable_baselines_io": bool, (model id, format): (expected, actual)}``
    """
    manifest = []
    expectations: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for model_id, (model, env_id) in models.items():
        observations = rollout(env_id, N_OBSERVATIONS)
        np.save(directory / f"{model_id}.npy", observations)
        batched, _ = model.predict(observations, deterministic=True)
        single = np.stack([model.predict(observation, deterministic=True)[0] for observation in observations])
        expectations[model_id] = (batched, single)
        for format in EXPORT_FORMATS:
            artifact = directory / model_id / ARTIFACT_NAMES[format]
            artifact.parent.mkdir(exist_ok=True)
            try:
                model.export(artifact, format=format)
            except ExportDependencyError:
                continue  # reported as missing by the runner's import below
            manifest.append({"artifact": str(artifact), "observations": str(directory / f"{model_id}.npy"),
                             "output": str(directory / model_id / f"{format}.npz")})
    manifest_path = directory / "manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    # -I: no PYTHONPATH, no current directory on sys.path, so this checkout is not importable either.
    completed = subprocess.run([sys.executable, "-I", str(RUNNER), "--manifest", str(manifest_path)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    runs = json.loads(Path(str(manifest_path) + ".results.json").read_text())
    results: dict[Any, Any] = {"imported_stable_baselines_io": runs.pop("imported_stable_baselines_io")}
    for model_id in models:
        for format in EXPORT_FORMATS:
            artifact = str(directory / model_id / ARTIFACT_NAMES[format])
            run = runs.get(artifact, {"missing": "tf2onnx"})
            actual = dict(np.load(directory / model_id / f"{format}.npz")) if run.get("ok") else run
            results[model_id, format] = (expectations[model_id], actual)
    return results


@pytest.fixture(scope="module")
def library_results(tmp_path_factory: pytest.TempPathFactory, rollout: Rollout) -> dict[str, Any]:
    models = {model_id: (factory(), env_id) for model_id, (factory, env_id) in LIBRARY_MODELS.items()}
    return _export_and_run(models, tmp_path_factory.mktemp("exports"), rollout)


@pytest.fixture(scope="module")
def sb2_results(tmp_path_factory: pytest.TempPathFactory, sb2_fixture_dir: Path,
                rollout: Rollout) -> dict[str, Any]:
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for model_id, (algorithm, file_name, env_id) in SB2_MODELS.items():
            models[model_id] = (algorithm.load(sb2_fixture_dir / file_name), env_id)
    return _export_and_run(models, tmp_path_factory.mktemp("sb2_exports"), rollout)


def _check_same_actions(results: dict[Any, Any], model_id: str, format: str) -> None:
    (expected_batched, expected_single), actual = results[model_id, format]
    if "missing" in actual:
        pytest.skip(f"{format} needs the 'export' extra ({actual['missing']} is not installed): "
                    'pip install "stable-baselines-io[export]"')
    assert results["imported_stable_baselines_io"] is False
    for name, expected in (("batched", expected_batched), ("single", expected_single)):
        got = actual[name]
        assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=name)
        else:
            assert got.dtype.kind == "i", f"{name}: dtype {got.dtype}"
            np.testing.assert_array_equal(got, expected, err_msg=name)


@pytest.mark.parametrize("format", EXPORT_FORMATS)
@pytest.mark.parametrize("model_id", list(LIBRARY_MODELS))
def test_exported_artifact_acts_like_predict(library_results: dict[Any, Any], model_id: str, format: str) -> None:
    _check_same_actions(library_results, model_id, format)


@pytest.mark.parametrize("format", EXPORT_FORMATS)
@pytest.mark.parametrize("model_id", list(SB2_MODELS))
def test_artifact_exported_from_sb2_file_acts_like_predict(sb2_results: dict[Any, Any], model_id: str,
                                                           format: str) -> None:
    _check_same_actions(sb2_results, model_id, format)


def test_box_actions_are_clipped_inside_the_exported_graph(library_results: dict[Any, Any]) -> None:
    (expected, _), actual = library_results["ppo-box", "saved_model"]
    assert np.abs(expected).max() == 2.0 and np.mean(np.abs(expected) == 2.0) > 0.1
    np.testing.assert_allclose(actual["batched"], expected, atol=1e-5)


# --- what a SavedModel holds --------------------------------------------------------------------


def test_saved_model_signatures_of_an_actor_critic(tmp_path: Path, rollout: Rollout) -> None:
    model = _ppo_box()
    path = model.export(tmp_path / "box")
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {"action", "action_probability", "value", "metadata"}
    spec = loaded.signatures["action"].structured_input_signature[1]["observations"]
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, 3]

    observations = rollout("Pendulum-v1", 50)
    distribution, values = model.policy_net.forward(tf.constant(observations))
    parameters = loaded.signatures["action_probability"](observations=tf.constant(observations))
    assert set(parameters) == {"mean", "std", "log_std"}
    np.testing.assert_allclose(parameters["mean"], distribution.mean, atol=1e-6)
    np.testing.assert_allclose(parameters["std"], np.exp(parameters["log_std"]), rtol=1e-6)
    np.testing.assert_allclose(parameters["log_std"], np.broadcast_to(model.policy_net.logstd, (50, 1)))
    np.testing.assert_allclose(loaded.signatures["value"](observations=tf.constant(observations))["values"],
                               values, atol=1e-6)

    metadata_text = loaded.signatures["metadata"]()["metadata"].numpy().decode()
    assert metadata_text == (path / "assets" / "metadata.json").read_text().strip()
    metadata = json.loads(metadata_text)
    assert metadata["algorithm"] == "PPO" and metadata["deterministic"] is True
    assert metadata["observation_space"] == {"type": "Box", "shape": [3], "dtype": "float32",
                                             "low": [-1.0, -1.0, -8.0], "high": [1.0, 1.0, 8.0]}
    assert metadata["action_space"]["low"] == [-2.0] and metadata["action_space"]["high"] == [2.0]
    assert metadata["signatures"]["action_probability"]["outputs"]["mean"] == {"dtype": "float32",
                                                                               "shape": [-1, 1]}


def test_saved_model_signatures_of_a_q_network(tmp_path: Path, rollout: Rollout) -> None:
    model = DQN("MlpPolicy", "CartPole-v1", seed=0)
    loaded = tf.saved_model.load(str(model.export(tmp_path / "dqn")))
    assert set(loaded.signatures) == {"action", "q_values", "metadata"}
    observations = rollout("CartPole-v1", 20)
    q_values = loaded.signatures["q_values"](observations=tf.constant(observations))["q_values"]
    np.testing.assert_allclose(q_values, model.q_net(tf.constant(observations)), atol=1e-6)
    metadata = json.loads(loaded.signatures["metadata"]()["metadata"].numpy())
    assert metadata["observation_space"]["high"][1] == "inf"  # strict JSON: no Infinity literal
    assert metadata["action_space"] == {"type": "Discrete", "n": 2, "start": 0}


def test_discrete_probabilities_and_stochastic_saved_model(tmp_path: Path, rollout: Rollout) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0)
    observations = rollout("CartPole-v1", 400)
    loaded = tf.saved_model.load(str(model.export(tmp_path / "greedy")))
    probabilities = loaded.signatures["action_probability"](observations=tf.constant(observations))["probabilities"]
    distribution, _ = model.policy_net.forward(tf.constant(observations))
    np.testing.assert_allclose(probabilities, tf.nn.softmax(distribution.logits), atol=1e-6)

    sampling = tf.saved_model.load(str(model.export(tmp_path / "sampling", deterministic=False)))
    sampled = sampling.signatures["action"](observations=tf.constant(observations))["actions"].numpy()
    greedy = loaded.signatures["action"](observations=tf.constant(observations))["actions"].numpy()
    assert set(np.unique(sampled)) == {0, 1}  # near-uniform untrained policy: both actions come up
    assert not np.array_equal(sampled, greedy)
    assert json.loads(sampling.signatures["metadata"]()["metadata"].numpy())["deterministic"] is False


@pytest.mark.parametrize("env_id", [IDENTITY_MULTI_DISCRETE, IDENTITY_MULTI_BINARY])
def test_multi_discrete_and_multi_binary_probabilities_and_sampling(tmp_path: Path, rollout: Rollout,
                                                                    env_id: str) -> None:
    model = PPO("MlpPolicy", env_id, seed=0)
    observations = rollout(env_id, 400)
    loaded = tf.saved_model.load(str(model.export(tmp_path / "greedy")))
    probabilities = loaded.signatures["action_probability"](observations=tf.constant(observations))["probabilities"]
    expected = model.action_probability(observations)
    if isinstance(expected, list):  # MultiDiscrete: one block per dimension, concatenated
        expected = np.concatenate(expected, axis=1)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)

    sampling = tf.saved_model.load(str(model.export(tmp_path / "sampling", deterministic=False)))
    sampled = sampling.signatures["action"](observations=tf.constant(observations))["actions"].numpy()
    assert sampled.shape == (400, *model.action_space.shape) and sampled.dtype == np.int64
    assert all(model.action_space.contains(action.astype(model.action_space.dtype)) for action in sampled)
    greedy = loaded.signatures["action"](observations=tf.constant(observations))["actions"].numpy()
    assert not np.array_equal(sampled, greedy)


def test_discrete_observations_are_one_hot_encoded_inside_the_tflite_graph(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "FrozenLake-v1", seed=0, policy_kwargs=dict(net_arch=[8]))
    model.policy_net.pi.w.assign(model.policy_net.pi.w * 1000.0)
    path = model.export(tmp_path / "frozen_lake.tflite", format="tflite")
    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("action")
    observations = np.arange(16, dtype=np.int64)
    actions = runner(observations=observations)["actions"]
    np.testing.assert_array_equal(actions, model.predict(observations, deterministic=True)[0])


def test_observation_transforms_run_inside_the_exported_graph(tmp_path: Path, rollout: Rollout) -> None:
    model = PPO("MlpPolicy", "Pendulum-v1", seed=0)
    mean, std = np.float32([0.5, -0.5, 1.0]), np.float32([2.0, 2.0, 4.0])
    path = export_model(model, tmp_path / "normalised.tflite", format="tflite",
                        observation_transforms=[lambda observations: (observations - mean) / std])
    observations = rollout("Pendulum-v1", 30)
    expected, _ = model.predict((observations - mean) / std, deterministic=True)
    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("action")
    np.testing.assert_allclose(runner(observations=observations)["actions"], expected, atol=1e-5)


# --- what a format cannot express -----------------------------------------------------------------


@pytest.mark.parametrize("format", ["tflite", "onnx"])
def test_stochastic_sampling_is_refused_by_tflite_and_onnx(tmp_path: Path, format: str) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", seed=0)
    with pytest.raises(UnsupportedExportError, match=f"{format} cannot express .*stochastic sampling"):
        model.export(tmp_path / f"policy.{format}", format=format, deterministic=False)
    assert not (tmp_path / f"policy.{format}").exists()


def test_export_errors_name_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = DQN("MlpPolicy", "CartPole-v1", seed=0)
    with pytest.raises(UnsupportedExportError, match=r"unknown export format 'keras': expected one of "
                                                     r"\['saved_model', 'tflite', 'onnx'\]"):
        model.export(tmp_path / "x", format="keras")
    with pytest.raises(UnsupportedExportError, match="DQN has no stochastic policy to export"):
        model.export(tmp_path / "x", deterministic=False)
    unset = PPO("MlpPolicy", "CartPole-v1", _init_setup_model=False)
    with pytest.raises(UnsupportedExportError, match=r"PPO has no network to export: expected one of the "
                                                     r"attributes \['policy_net', 'q_net'\]"):
        export_model(unset, tmp_path / "x")
    unset.policy_net = object()
    with pytest.raises(UnsupportedExportError, match="no exporter for PPO.policy_net of class object"):
        export_model(unset, tmp_path / "x")
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the export extra were not installed
    with pytest.raises(ExportDependencyError, match=r"the onnx format needs tf2onnx.*stable-baselines-io\[export\]"):
        model.export(tmp_path / "x.onnx", format="onnx")


# --- the command line ------------------------------------------------------------------------------


def _sb_io(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stable_baselines_io", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300)


def test_cli_export_writes_the_artifact_and_reports_errors_in_one_line(tmp_path: Path, rollout: Rollout) -> None:
    model = DQN("MlpPolicy", "CartPole-v1", seed=0)
    model.save(tmp_path / "agent")
    output = tmp_path / "new" / "agent.tflite"
    exported = _sb_io("export", str(tmp_path / "agent.zip"), str(output), "--format", "tflite")
    assert exported.returncode == 0, exported.stderr
    assert f"exported DQN to {output} (tflite)" in exported.stdout
    runner = tf.lite.Interpreter(model_path=str(output)).get_signature_runner("action")
    observations = rollout("CartPole-v1", 20)
    np.testing.assert_array_equal(runner(observations=observations)["actions"],
                                  model.predict(observations, deterministic=True)[0])

    missing_export = _sb_io("export", str(tmp_path / "missing.zip"), str(tmp_path / "out"))
    missing_eval = _sb_io("eval", str(tmp_path / "missing.zip"))
    assert missing_export.returncode == missing_eval.returncode == 2  # the convention of every command
    assert missing_export.stderr.startswith("sb-io export: error: the file could not be found")
    assert len(missing_export.stderr.strip().splitlines()) == 1
    over_budget = _sb_io("export", str(tmp_path / "agent.zip"), str(tmp_path / "small.tflite"), "--format", "tflite",
                         "--max-bytes", "4K")
    assert over_budget.returncode == 2 and not (tmp_path / "small.tflite").exists()
    assert over_budget.stderr.startswith("sb-io export: error: loading would exceed the load budget of 4,096 bytes")
    assert len(over_budget.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("algorithm", [PPO, DQN])
def test_cnn_policies_export_with_their_image_scaling(tmp_path: Path, algorithm: type) -> None:
    env = ImageChoiceEnv()
    model = algorithm("CnnPolicy", env, seed=0)
    observations = np.stack([env.observation_space.sample() for _ in range(32)])
    loaded = tf.saved_model.load(str(model.export(tmp_path / "cnn")))
    actions = loaded.signatures["action"](observations=tf.constant(observations))["actions"]
    np.testing.assert_array_equal(actions, model.predict(observations, deterministic=True)[0])
