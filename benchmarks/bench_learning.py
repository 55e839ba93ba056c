"""Learning benchmark: PPO must reach a mean reward of 475 on CartPole-v1 within 100k steps, DQN
within 50k, A2C within 500k.

All use the tuned hyperparameters of :mod:`stable_baselines_io.hyperparams` (RL Zoo style; the
module says what was changed and why). The trained agent is evaluated deterministically on 20
episodes of a fresh environment reset with seeds 0..19. The exit status is 1 when the mean
reward is below the threshold.

Run::

    PYTHONPATH=. python benchmarks/bench_learning.py --algo ppo --seed 0 --json out.json
    PYTHONPATH=. python benchmarks/bench_learning.py --algo dqn --timesteps 50000
    PYTHONPATH=. python benchmarks/bench_learning.py --algo a2c
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from stable_baselines_io.a2c import A2C  # noqa: E402
from stable_baselines_io.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines_io.dqn import DQN  # noqa: E402
from stable_baselines_io.hyperparams import tuned_hyperparameters  # noqa: E402
from stable_baselines_io.ppo import PPO  # noqa: E402

ENV_ID = "CartPole-v1"
REWARD_THRESHOLD = 475.0
ALGORITHMS = {"ppo": PPO, "dqn": DQN, "a2c": A2C}
DEFAULT_TIMESTEPS = {"ppo": 100_000, "dqn": 50_000, "a2c": 500_000}
#: PPO logs every 10 updates, A2C every 500, DQN every 50 episodes (when --verbose 1).
LOG_INTERVAL = {"ppo": 10, "dqn": 50, "a2c": 500}


def to_json(value: Any) -> Any:
    """Hyperparameters as JSON: schedules become their type and configuration.

    :param value: a hyperparameter value
    :return: a JSON-able value
    """
    if hasattr(value, "to_config"):
        return {"type": type(value).__name__, **value.to_config()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=sorted(ALGORITHMS), required=True)
    parser.add_argument("--timesteps", type=int, default=None,
                        help="training steps (default: 100k PPO, 50k DQN, 500k A2C)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the agent and the training envs")
    parser.add_argument("--eval-episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this JSON file")
    parser.add_argument("--verbose", type=int, default=0, help="1: the training table")
    args = parser.parse_args(argv)
    timesteps = args.timesteps or DEFAULT_TIMESTEPS[args.algo]

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    hyperparameters = tuned_hyperparameters(args.algo, ENV_ID)
    model = ALGORITHMS[args.algo]("MlpPolicy", ENV_ID, seed=args.seed, verbose=args.verbose, **hyperparameters)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps, log_interval=LOG_INTERVAL[args.algo])
    wall_time = time.perf_counter() - start
    returns, _ = evaluate_policy(model, ENV_ID, n_eval_episodes=args.eval_episodes, deterministic=True,
                                 return_episode_rewards=True, seed=0)

    results = {
        "algorithm": args.algo,
        "env_id": ENV_ID,
        "seed": args.seed,
        "timesteps": model.num_timesteps,
        "wall_time_s": round(wall_time, 2),
        "env_steps_per_s": round(model.num_timesteps / wall_time, 1),
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "min_reward": float(np.min(returns)),
        "eval_episodes": args.eval_episodes,
        "threshold": REWARD_THRESHOLD,
        "passed": bool(np.mean(returns) >= REWARD_THRESHOLD),
        "threads": args.threads,
        "hyperparameters": to_json(hyperparameters),
    }
    print(f"{args.algo.upper()} on {ENV_ID}, seed {args.seed}")
    print(f"timesteps        {results['timesteps']}")
    print(f"wall time        {results['wall_time_s']:.1f} s")
    print(f"env steps/s      {results['env_steps_per_s']:.0f}")
    print(f"mean reward      {results['mean_reward']:.1f} +/- {results['std_reward']:.1f} over "
          f"{args.eval_episodes} episodes (min {results['min_reward']:.0f}, threshold {REWARD_THRESHOLD})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
