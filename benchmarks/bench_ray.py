"""Environment steps per second with RayVecEnv (1, 2 and 4 actors) against the in-process VecEnv.

The environment sleeps 1 ms per step (a stand-in for a simulator that takes real time); the
actions are constant, so only stepping is measured. The same environments (``--n-envs``, 8 by
default) are spread over 1, 2 or 4 actors; each configuration runs ``--steps`` steps of the
vectorized env after a warm-up, three times, and the best run counts. Ray starts a local
instance with ``--num-cpus`` CPUs (2 by default: this machine's core count), each actor asking for
``num_cpus / actors`` CPUs so that all of them fit.

Run::

    python benchmarks/bench_ray.py                  # ~1 minute; prints a table, writes results/ray.json
    python benchmarks/bench_ray.py --n-envs 16 --actors 1 2 4 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from stable_baselines_io.common.vec_env import VecEnv  # noqa: E402
from stable_baselines_io.distributed.ray_vec_env import RayVecEnv  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "ray.json"
STEP_SECONDS = 0.001
REPEATS = 3


class SlowEnv(gymnasium.Env):
    """An environment whose step takes 1 ms (sleeping, like a simulator waiting on physics or I/O)."""

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (8,), dtype=np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self) -> None:
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(8, dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        time.sleep(STEP_SECONDS)
        self.steps += 1
        return np.full(8, self.steps / 1000, dtype=np.float32), 1.0, False, self.steps >= 500, {}


def steps_per_second(env: VecEnv, n_steps: int) -> float:
    """Best of three runs of ``n_steps`` vectorized steps, in environment steps per second.

    :param env: the vectorized environment
    :param n_steps: vectorized steps per run
    :return: environment steps (over all environments) per second
    """
    actions = np.zeros(env.num_envs, dtype=np.int64)
    env.seed(0)
    env.reset()
    for _ in range(20):
        env.step(actions)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(n_steps):
            env.step(actions)
        best = min(best, time.perf_counter() - start)
    return n_steps * env.num_envs / best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=200, help="vectorized steps per run")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)

    import ray

    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")  # other jobs' memory must not kill the actors
    local = VecEnv([SlowEnv() for _ in range(arguments.n_envs)])
    in_process = steps_per_second(local, arguments.steps)
    local.close()
    ray.init(num_cpus=arguments.num_cpus, include_dashboard=False, log_to_driver=False)
    results: dict[str, Any] = {"n_envs": arguments.n_envs, "step_seconds": STEP_SECONDS, "nproc": os.cpu_count(),
                               "ray_num_cpus": arguments.num_cpus, "in_process_steps_per_s": in_process, "ray": {}}
    print(f"{arguments.n_envs} envs sleeping {STEP_SECONDS * 1000:.0f} ms per step; in-process VecEnv: "
          f"{in_process:.0f} steps/s")
    for n_actors in arguments.actors:
        envs_per_actor = -(-arguments.n_envs // n_actors)
        env = RayVecEnv([SlowEnv] * arguments.n_envs, envs_per_actor=envs_per_actor,
                        num_cpus_per_actor=arguments.num_cpus / n_actors)
        rate = steps_per_second(env, arguments.steps)
        env.close()
        results["ray"][str(n_actors)] = {"envs_per_actor": envs_per_actor, "steps_per_s": rate,
                                         "ratio_to_in_process": rate / in_process}
        print(f"RayVecEnv, {n_actors} actor(s) x {envs_per_actor} envs: {rate:.0f} steps/s "
              f"({rate / in_process:.2f}x in-process)")
    ray.shutdown()
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
