"""The ``sb-io`` command: train, then load and evaluate in a new process; errors are one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stable_baselines_io.format.files import load_from_file
from stable_baselines_io.hyperparams import tuned_hyperparameters

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stable_baselines_io", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300)


@pytest.mark.parametrize("algo", ["ppo", "dqn", "a2c"])
def test_train_then_eval_in_a_new_process(tmp_path: Path, algo: str) -> None:
    output = tmp_path / "agents" / f"{algo}-cartpole"
    trained = run_cli("train", "--algo", algo, "--env", "CartPole-v1", "--timesteps", "256", "--seed", "0",
                      "--output", str(output), "--no-progress-bar", "--no-tuned", "-p", "learning_starts=64"
                      if algo == "dqn" else "n_steps=64")
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "agents" / f"{algo}-cartpole.zip").is_file()
    data, _ = load_from_file(tmp_path / "agents" / f"{algo}-cartpole.zip")
    assert data["n_envs"] == 1 and data["seed"] == 0
    evaluated = run_cli("eval", str(output) + ".zip", "--episodes", "3")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "CartPole-v1: mean reward" in evaluated.stdout and "over 3 episodes" in evaluated.stdout


@pytest.mark.parametrize("algo, env_id", [("ppo", "stable_baselines_io.envs:IdentityMultiDiscrete-v0"),
                                          ("a2c", "stable_baselines_io.envs:IdentityMultiBinary-v0")])
def test_train_then_eval_with_multi_discrete_and_multi_binary_actions(tmp_path: Path, algo: str, env_id: str) -> None:
    output = tmp_path / f"{algo}-identity"
    trained = run_cli("train", "--algo", algo, "--env", env_id, "--timesteps", "128", "--seed", "0",
                      "--output", str(output), "--no-progress-bar", "--no-monitor", "-p", "n_steps=32")
    assert trained.returncode == 0, trained.stderr
    data, _ = load_from_file(str(output) + ".zip")
    assert type(data["action_space"]).__name__ == env_id.split(":")[1].removeprefix("Identity").removesuffix("-v0")
    evaluated = run_cli("eval", str(output) + ".zip", "--episodes", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"{env_id.split(':')[1]}: mean reward" in evaluated.stdout  # the id the file records


def test_train_uses_tuned_hyperparameters_unless_overridden(tmp_path: Path) -> None:
    output = tmp_path / "tuned"
    trained = run_cli("train", "--algo", "ppo", "--env", "CartPole-v1", "--timesteps", "256", "--output", str(output),
                      "--no-progress-bar", "-p", "noptepochs=2")
    assert trained.returncode == 0, trained.stderr
    data, _ = load_from_file(str(output) + ".zip")
    expected = tuned_hyperparameters("ppo", "CartPole-v1")
    assert data["n_envs"] == expected["n_envs"] and data["lam"] == expected["lam"]
    assert data["learning_rate"] == expected["learning_rate"]
    assert data["noptepochs"] == 2


def test_errors_are_reported_without_a_traceback(tmp_path: Path) -> None:
    missing = run_cli("eval", str(tmp_path / "missing.zip"))
    assert missing.returncode == 2
    assert "sb-io eval: error: the file could not be found" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
    corrupt = run_cli("inspect", str(tmp_path / "bad.zip"))
    assert corrupt.returncode == 2 and "not a valid zip archive" in corrupt.stderr


def test_eval_of_a_file_with_values_of_the_wrong_type_is_one_line_with_status_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import zipfile

    from stable_baselines_io.cli import main
    from stable_baselines_io.ppo import PPO

    PPO("MlpPolicy", "CartPole-v1", seed=0, n_steps=16, policy_kwargs={"net_arch": [8]}).save(tmp_path / "agent.zip")
    with zipfile.ZipFile(tmp_path / "agent.zip") as original, zipfile.ZipFile(tmp_path / "bad.zip", "w") as copy:
        for info in original.infolist():
            content = original.read(info)
            if info.filename == "data":
                content = json.dumps({**json.loads(content), "seed": "x", "policy_kwargs": 5}).encode()
            copy.writestr(info, content)
    assert main(["eval", str(tmp_path / "bad.zip"), "--episodes", "1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sb-io eval: error: ") and len(error.strip().splitlines()) == 1
    assert "bad.zip" in error


def test_eval_tells_a_stable_baselines_2_a2c_file_by_its_data_keys(sb2_fixture_dir: Path) -> None:
    evaluated = run_cli("eval", str(sb2_fixture_dir / "zoo" / "a2c" / "CartPole-v1.pkl"), "--env", "CartPole-v1",
                        "--episodes", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "CartPole-v1: mean reward 500.00 +/- 0.00 over 2 episodes" in evaluated.stdout
