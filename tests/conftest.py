"""Shared fixtures: the real Stable Baselines 2 files, deep equality, subprocess runs."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SB2_FIXTURE_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "sb2"


@pytest.fixture(scope="session")
def sb2_fixture_dir() -> Path:
    """The folder of real Stable Baselines 2.x agent files (``../shared/fixtures/sb2``)."""
    if not SB2_FIXTURE_DIR.is_dir():
        pytest.skip(f"the Stable Baselines 2 fixture files are not available: {SB2_FIXTURE_DIR} does not exist")
    return SB2_FIXTURE_DIR


def assert_same(actual: Any, expected: Any, where: str = "value") -> None:
    """Deep equality that also compares types and dtypes and treats NaN as equal to NaN.

    :param actual: the value read back
    :param expected: the value written
    :param where: path inside the structure, for the failure message
    """
    assert type(actual) is type(expected), f"{where}: type {type(actual)} != {type(expected)}"
    if isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != {expected.shape}"
        equal_nan = expected.dtype.kind in "fc"
        assert np.array_equal(actual, expected, equal_nan=equal_nan), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, np.generic):
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}"
        assert_same(np.asarray(actual), np.asarray(expected), where)
    elif isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual), f"{where}: {actual} != {expected}"
        else:
            assert actual == expected, f"{where}: {actual} != {expected}"
            assert math.copysign(1.0, actual) == math.copysign(1.0, expected), f"{where}: {actual} != {expected}"
    elif isinstance(expected, complex):
        assert_same(actual.real, expected.real, f"{where}.real")
        assert_same(actual.imag, expected.imag, f"{where}.imag")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
        for index, (item, expected_item) in enumerate(zip(actual, expected)):
            assert_same(item, expected_item, f"{where}[{index}]")
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key, expected_item in expected.items():
            assert_same(actual[key], expected_item, f"{where}[{key!r}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture(scope="session")
def same() -> Callable[[Any, Any], None]:
    """:func:`assert_same`: NaN-aware, type- and dtype-aware deep equality."""
    return assert_same


@pytest.fixture(scope="session")
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a Python snippet in a fresh interpreter with this checkout on ``PYTHONPATH``."""

    def run(code: str, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": python_path}
        result = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            pytest.fail(f"the subprocess failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    return run


def rollout_observations(env_id: str, n_observations: int, seed: int = 0) -> np.ndarray:
    """Observations met by a random agent in a gymnasium env, episodes restarting as they end.

    :param env_id: the gymnasium env id
    :param n_observations: how many
    :param seed: seeds the env and the random actions
    :return: ``(n_observations, *observation_shape)`` in the observation space's dtype
    """
    import gymnasium

    env = gymnasium.make(env_id)
    env.action_space.seed(seed)
    observation, _ = env.reset(seed=seed)
    observations = []
    while len(observations) < n_observations:
        observations.append(observation)
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            observation, _ = env.reset()
    return np.asarray(observations, dtype=env.observation_space.dtype)


@pytest.fixture(scope="session")
def rollout() -> Callable[..., np.ndarray]:
    """:func:`rollout_observations`: ``rollout(env_id, n_observations, seed=0)``."""
    return rollout_observations


@pytest.fixture()
def count_resets(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], list[int]]:
    """``count_resets(model)`` starts counting the resets of the model's environment.

    :return: a function returning the list that gets one entry per ``reset()``
    """

    def start_counting(model: Any) -> list[int]:
        resets: list[int] = []
        env = model.get_env()
        original_reset = env.reset
        monkeypatch.setattr(env, "reset", lambda: resets.append(1) or original_reset())
        return resets

    return start_counting


@pytest.fixture(scope="session")
def ray_cluster() -> Any:
    """A real local Ray cluster (2 CPUs, no dashboard, loopback only) shared by the session.

    The workers find this checkout through ``PYTHONPATH``, which they inherit.
    :return: the ``ray`` module, initialised
    """
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    # Ray kills workers when the machine's memory is nearly full, whoever uses it: on a shared CI
    # machine that would fail tests for other jobs' memory. The tests' workers are small.
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()
