"""``sb-io train --ray-address`` and ``sb-io eval --ray-workers`` on the session's local Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from test_cli import run_cli

from stable_baselines_io.common.evaluation import evaluate_policy
from stable_baselines_io.common.vec_env import make_vec_env
from stable_baselines_io.ppo import PPO


def test_train_in_ray_actors_then_evaluate_on_ray_workers(ray_cluster: Any, tmp_path: Path) -> None:
    address = ray_cluster.get_runtime_context().gcs_address
    output = tmp_path / "agents" / "ppo-cartpole"
    trained = run_cli("train", "--algo", "ppo", "--env", "CartPole-v1", "--timesteps", "128", "--seed", "0",
                      "--n-envs", "2", "--ray-address", address, "--envs-per-actor", "2", "--output", str(output),
                      "--no-progress-bar", "--no-tuned", "-p", "n_steps=32", "-p", "noptepochs=2")
    assert trained.returncode == 0, trained.stderr
    assert sorted(path.name for path in output.iterdir()) == ["0.monitor.csv", "1.monitor.csv"]
    agent = PPO.load(str(output) + ".zip")
    in_process = PPO("MlpPolicy", make_vec_env("CartPole-v1", 2), seed=0, n_steps=32, noptepochs=2).learn(128)
    for name, expected in in_process.get_parameters().items():
        assert np.array_equal(agent.get_parameters()[name], expected), name

    evaluated = run_cli("eval", str(output) + ".zip", "--episodes", "3", "--ray-workers", "2", "--ray-address", address)
    assert evaluated.returncode == 0, evaluated.stderr
    mean, std = evaluate_policy(agent, "CartPole-v1", 3)
    assert evaluated.stdout.strip() == (f"CartPole-v1: mean reward {mean:.2f} +/- {std:.2f} over 3 episodes on 2 Ray "
                                        "workers")

