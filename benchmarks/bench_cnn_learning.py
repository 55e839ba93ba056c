"""Learning benchmark for CnnPolicy: PPO must reach a mean reward of 7 (of 8) on the image task
``ImageChoiceEnv`` (tests/image_env.py) within 20k steps.

The task: a 36x36 gray uint8 image shows a bright square in one of 3 column bands; the action
naming the band earns 1; 8 steps per episode. A random policy earns 2.67 on average, a perfect one
8, so a mean of 7 means the nature CNN learned to locate the square from pixels. The trained agent
is evaluated deterministically on 20 episodes of a fresh environment reset with seeds 0..19; the
exit status is 1 when the mean reward is below the threshold.

Run::

    PYTHONPATH=. python benchmarks/bench_cnn_learning.py --seed 0 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from stable_baselines_io.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines_io.common.vec_env import VecEnv  # noqa: E402
from stable_baselines_io.ppo import PPO  # noqa: E402
from tests.image_env import ImageChoiceEnv  # noqa: E402

REWARD_THRESHOLD = 7.0
DEFAULT_TIMESTEPS = 20_000
HYPERPARAMETERS = dict(n_steps=64, nminibatches=4, noptepochs=4, learning_rate=5e-4, ent_coef=0.01, gamma=0.9)
N_ENVS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the agent and the training envs")
    parser.add_argument("--eval-episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this JSON file")
    parser.add_argument("--verbose", type=int, default=0, help="1: the training table")
    args = parser.parse_args(argv)

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    env = VecEnv([ImageChoiceEnv() for _ in range(N_ENVS)])
    model = PPO("CnnPolicy", env, seed=args.seed, verbose=args.verbose, **HYPERPARAMETERS)
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps)
    wall_time = time.perf_counter() - start
    returns, _ = evaluate_policy(model, ImageChoiceEnv(), n_eval_episodes=args.eval_episodes, deterministic=True,
                                 return_episode_rewards=True, seed=0)

    results = {
        "algorithm": "ppo",
        "policy": "CnnPolicy",
        "env": "ImageChoiceEnv(36x36x1, 3 positions, 8 steps)",
        "seed": args.seed,
        "timesteps": model.num_timesteps,
        "wall_time_s": round(wall_time, 2),
        "env_steps_per_s": round(model.num_timesteps / wall_time, 1),
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "random_policy_mean_reward": 8 / 3,
        "eval_episodes": args.eval_episodes,
        "threshold": REWARD_THRESHOLD,
        "passed": bool(np.mean(returns) >= REWARD_THRESHOLD),
        "hyperparameters": {**HYPERPARAMETERS, "n_envs": N_ENVS},
    }
    print(f"PPO CnnPolicy on {results['env']}, seed {args.seed}")
    print(f"timesteps        {results['timesteps']}")
    print(f"wall time        {results['wall_time_s']:.1f} s")
    print(f"mean reward      {results['mean_reward']:.2f} +/- {results['std_reward']:.2f} over "
          f"{args.eval_episodes} episodes (threshold {REWARD_THRESHOLD}, random policy 2.67)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
