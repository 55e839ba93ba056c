"""Learning benchmark: PPO on CartPole-v1 must reach a mean reward of at least 475 in 100k steps.

Hyperparameters are the rl-baselines-zoo ones for PPO2 on CartPole. After training, the agent is
evaluated deterministically for 20 episodes on a fresh environment reset with seeds 0..19.

Run::

    PYTHONPATH=. python benchmarks/bench_learning_ppo.py --timesteps 100000 --seed 0 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

# Small networks on few cores: one thread per op pool is fastest and keeps the benchmark stable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from stable_baselines_io.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines_io.hyperparams import tuned_hyperparameters  # noqa: E402
from stable_baselines_io.ppo import PPO  # noqa: E402

ENV_ID = "CartPole-v1"
REWARD_THRESHOLD = 475.0
HYPERPARAMETERS: dict[str, Any] = tuned_hyperparameters("ppo", ENV_ID)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=100_000, help="training steps (summed over envs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the agent and the training envs")
    parser.add_argument("--eval-episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--verbose", type=int, default=0, help="PPO verbosity")
    parser.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = parser.parse_args(argv)

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    model = PPO("MlpPolicy", ENV_ID, seed=args.seed, verbose=args.verbose, **HYPERPARAMETERS)
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps, log_interval=10)
    wall_time = time.perf_counter() - start
    _, _, returns = evaluate_policy(model, ENV_ID, n_eval_episodes=args.eval_episodes, deterministic=True, seed=0)

    results = {
        "env_id": ENV_ID,
        "seed": args.seed,
        "timesteps": model.num_timesteps,
        "wall_time_s": round(wall_time, 2),
        "env_steps_per_s": round(model.num_timesteps / wall_time, 1),
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "eval_episodes": args.eval_episodes,
        "threshold": REWARD_THRESHOLD,
        "passed": bool(np.mean(returns) >= REWARD_THRESHOLD),
        "hyperparameters": {
            key: value.to_config() if hasattr(value, "to_config") else value for key, value in HYPERPARAMETERS.items()
        },
    }
    print(f"timesteps        {results['timesteps']}")
    print(f"wall time        {results['wall_time_s']:.1f} s")
    print(f"env steps/s      {results['env_steps_per_s']:.0f}")
    print(f"mean reward      {results['mean_reward']:.1f} +/- {results['std_reward']:.1f} "
          f"over {args.eval_episodes} episodes (threshold {REWARD_THRESHOLD})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
