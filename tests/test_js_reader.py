"""The JavaScript reader (examples/js) opens agent files and acts as ``model.predict(..., deterministic=True)``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.conversion import convert_file

PREDICT_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "js" / "predict.mjs"
NODE = shutil.which("node")
N_OBSERVATIONS = 200

pytestmark = pytest.mark.skipif(NODE is None, reason="the JavaScript reader needs Node.js: `node` is not on PATH")


def _trained_ppo_cartpole() -> PPO:
    return PPO("MlpPolicy", "CartPole-v1", seed=0, n_steps=256).learn(total_timesteps=2048)


def _ppo_pendulum_relu() -> PPO:
    model = PPO("MlpPolicy", "Pendulum-v1", seed=1, policy_kwargs=dict(net_arch=[16, dict(pi=[8], vf=[8])],
                                                                        act_fun="relu"))
    model.policy_net.pi.w.assign(model.policy_net.pi.w * 1000.0)  # many means outside [-2, 2]: clipped
    return model


# id -> (model factory, gymnasium env of the observations)
AGENTS: dict[str, tuple[Callable[[], Any], str]] = {
    "ppo-cartpole-trained": (_trained_ppo_cartpole, "CartPole-v1"),
    "ppo-pendulum-relu": (_ppo_pendulum_relu, "Pendulum-v1"),
    "a2c-cartpole": (lambda: A2C("MlpPolicy", "CartPole-v1", seed=0), "CartPole-v1"),
    "dqn-cartpole-layer-norm": (lambda: DQN("LnMlpPolicy", "CartPole-v1", seed=0), "CartPole-v1"),
    "dqn-cartpole-no-dueling": (lambda: DQN("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs=dict(dueling=False,
                                                                                                   layers=[32])),
                                "CartPole-v1"),
}


def run_reader(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, str(PREDICT_SCRIPT), *arguments], input=stdin, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("agent_id", list(AGENTS))
def test_js_reader_actions_equal_predict(tmp_path: Path, agent_id: str,
                                         rollout: Callable[..., np.ndarray]) -> None:
    factory, env_id = AGENTS[agent_id]
    model = factory()
    model.save(tmp_path / "agent")
    observations = rollout(env_id, N_OBSERVATIONS)
    expected, _ = model.predict(observations, deterministic=True)
    # float32 -> Python float is exact, so the reader sees the very values predict saw.
    (tmp_path / "observations.json").write_text(json.dumps(observations.tolist()))

    result = run_reader(str(tmp_path / "agent.zip"), str(tmp_path / "observations.json"))
    assert result.returncode == 0, result.stderr
    actions = np.asarray(json.loads(result.stdout))
    assert actions.shape == expected.shape
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actions, expected, rtol=0, atol=1e-5)
    else:
        assert len(np.unique(expected)) > 1  # a policy that always pushes the same way would prove little
        np.testing.assert_array_equal(actions, expected)


def test_js_reader_reads_observations_from_stdin_and_reports_errors(tmp_path: Path) -> None:
    PPO("MlpPolicy", "CartPole-v1", seed=0).save(tmp_path / "agent")
    result = run_reader(str(tmp_path / "agent.zip"), stdin="[[0.0, 0.1, 0.02, -0.1]]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) in ([0], [1])

    (tmp_path / "broken.zip").write_bytes(b"not a zip at all, just some bytes long enough for a search")
    broken = run_reader(str(tmp_path / "broken.zip"), stdin="[]")
    assert broken.returncode == 2
    assert broken.stderr == f"predict.mjs: error: {tmp_path / 'broken.zip'}: not a zip archive " \
                            "(no end of central directory record)\n"
    wrong_size = run_reader(str(tmp_path / "agent.zip"), stdin="[[0.0, 0.1]]")
    assert wrong_size.returncode == 2
    assert "an observation has 2 values, expected 4 (shape 4)" in wrong_size.stderr


@pytest.mark.filterwarnings("ignore:.*legacy cloudpickle file:DeprecationWarning")
@pytest.mark.parametrize(("file_name", "algorithm", "env_id", "unconverted_error"), [
    ("dqn__CartPole-v1__deep-q-learning.zip", DQN, "CartPole-v1", "data.policy is <class 'abc.ABCMeta'>, expected a "
     "policy class registered by stable-baselines-io"),
    ("ppo2__Pendulum-v0.pkl", PPO, "Pendulum-v1", "ppo2__Pendulum-v0.pkl: not a zip archive"),
])
def test_js_reader_acts_like_predict_on_converted_sb2_files(tmp_path: Path, sb2_fixture_dir: Path, file_name: str,
                                                            algorithm: type, env_id: str, unconverted_error: str,
                                                            rollout: Callable[..., np.ndarray]) -> None:
    convert_file(sb2_fixture_dir / file_name, tmp_path / "converted.zip")
    model = algorithm.load(tmp_path / "converted.zip")
    observations = rollout(env_id, N_OBSERVATIONS)
    expected, _ = model.predict(observations, deterministic=True)
    result = run_reader(str(tmp_path / "converted.zip"), stdin=json.dumps(observations.tolist()))
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.asarray(json.loads(result.stdout)), expected, rtol=0, atol=1e-5)
    unconverted = run_reader(str(sb2_fixture_dir / file_name), stdin="[]")
    assert unconverted.returncode == 2
    assert unconverted_error in unconverted.stderr
