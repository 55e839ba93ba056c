"""``sb-io train --ray-address`` and ``sb-io eval --ray-workers`` on the session's local Ray cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_cli import PROJECT_ROOT, run_cli

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



# No Ray cluster anywhere: Ray looks for one among this machine's processes, where another test run's may live.
WITHOUT_A_CLUSTER = """
import functools
import sys
import ray._private.services
ray._private.services.find_gcs_addresses = functools.cache(lambda: [])
from stable_baselines_io.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("address", "problem"), [
    ("auto", r"at address 'auto' \(Could not find any running Ray instance"),
    ("not an address", r"at address 'not an address' \(Invalid address format"),
])
def test_train_with_no_cluster_at_the_address_fails_in_one_line(tmp_path: Path, address: str, problem: str) -> None:
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    trained = subprocess.run([sys.executable, "-c", WITHOUT_A_CLUSTER, "train", "--algo", "ppo", "--env",
                              "CartPole-v1", "--timesteps", "64", "--n-envs", "2", "--ray-address", address,
                              "--output", str(tmp_path / "agent"), "--no-progress-bar"],
                             capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
                             env={**environment, "PYTHONPATH": str(PROJECT_ROOT)})
    assert trained.returncode == 2, trained.stderr
    lines = trained.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sb-io train: error: could not connect to a Ray cluster "), lines
    assert re.search(problem, lines[0]) and "'ray start --head'" in lines[0], lines[0]
    assert not (tmp_path / "agent.zip").exists()


CONNECT_TO_A_BAD_ADDRESS = """
from stable_baselines_io.distributed.ray_runtime import connect
from stable_baselines_io.exceptions import RayConnectionError
try:
    connect("not an address")
except RayConnectionError as error:
    print(isinstance(error, ConnectionError), isinstance(error, ValueError), error)
"""


def test_connect_wraps_ray_connection_errors(run_python: Any) -> None:
    # a fresh interpreter: connect() does nothing where Ray is initialised already (this session's cluster)
    said = run_python(CONNECT_TO_A_BAD_ADDRESS, timeout=120).stdout
    assert said.startswith("True True could not connect to a Ray cluster at address 'not an address' (Invalid address "
                           "format: not an address)"), said
