"""A Ray training job killed at an arbitrary moment resumes from its latest checkpoint (model and
environment state on shared storage) and ends bit-identical to a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stable_baselines_io.common.callbacks import CheckpointCallback
from stable_baselines_io.distributed.ray_vec_env import make_ray_vec_env
from stable_baselines_io.exceptions import UnsupportedFeatureError
from stable_baselines_io.ppo import PPO

HYPERPARAMETERS = dict(n_steps=16, nminibatches=2, noptepochs=2, policy_kwargs=dict(net_arch=[16]), seed=5)
ENV_ARGUMENTS = dict(n_envs=4, envs_per_actor=2, num_cpus_per_actor=0.25)
STEPS_PER_UPDATE = 16 * 4

TRAINING_JOB = f"""
import sys
from stable_baselines_io.common.callbacks import CheckpointCallback
from stable_baselines_io.distributed.ray_vec_env import make_ray_vec_env
from stable_baselines_io.exceptions import UnsupportedFeatureError
from stable_baselines_io.ppo import PPO

address, folder = sys.argv[1:3]
env = make_ray_vec_env("CartPole-v1", address=address, **{ENV_ARGUMENTS!r})
checkpoints = CheckpointCallback(16, folder, keep_last=2, save_env_state=True)
PPO("MlpPolicy", env, **{HYPERPARAMETERS!r}).learn(10**9, callback=checkpoints)
"""


def start_job(address: str, folder: Path) -> subprocess.Popen[bytes]:
    repo_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", TRAINING_JOB, address, str(folder)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_job_resumes_from_its_latest_checkpoint_bit_identical(ray_cluster: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    checkpoints = CheckpointCallback(16, shared)
    job = start_job(ray_cluster.get_runtime_context().gcs_address, shared)
    try:
        deadline = time.monotonic() + 240
        while len(checkpoints.checkpoints()) < 2 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        job.send_signal(signal.SIGKILL)  # preemption: no clean-up of any kind
        _, stderr = job.communicate(timeout=60)
    latest = checkpoints.checkpoints()
    assert latest, f"the job wrote no checkpoint:\n{stderr.decode()[-3000:]}"
    resumed_from = int(latest[-1].name.split("_")[-2])
    total = resumed_from + 2 * STEPS_PER_UPDATE

    env = make_ray_vec_env("CartPole-v1", **ENV_ARGUMENTS)
    env.load_env_state(CheckpointCallback.env_state_path(latest[-1]))
    resumed = PPO.load(latest[-1], env=env, force_reset=False)
    resumed.learn(total - resumed_from, reset_num_timesteps=False)
    env.close()
    fresh_env = make_ray_vec_env("CartPole-v1", **ENV_ARGUMENTS)
    uninterrupted = PPO("MlpPolicy", fresh_env, **HYPERPARAMETERS).learn(total)
    fresh_env.close()

    assert resumed.num_timesteps == uninterrupted.num_timesteps == total
    for name, expected in uninterrupted.get_parameters().items():
        assert np.array_equal(resumed.get_parameters()[name], expected), name
    for name, variable in uninterrupted.get_state_variables().items():
        assert np.array_equal(resumed.get_state_variables()[name].numpy(), variable.numpy()), name
    np.testing.assert_array_equal(resumed._last_obs, uninterrupted._last_obs)  # noqa: SLF001
    assert list(resumed.ep_info_buf) == list(uninterrupted.ep_info_buf)


def test_env_state_needs_an_environment_that_can_save_it(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, policy_kwargs=dict(net_arch=[8]))
    with pytest.raises(UnsupportedFeatureError, match="needs an environment that can save its state, such as a "
                                                      "RayVecEnv; the training environment is a VecEnv"):
        model.learn(16, callback=CheckpointCallback(16, tmp_path, save_env_state=True))
    assert CheckpointCallback.env_state_path(tmp_path / "rl_model_64_steps.zip") == \
        tmp_path / "rl_model_64_steps_env_state.zip"
