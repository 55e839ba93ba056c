"""Learning benchmark: recurrent PPO on a partially observed CartPole (velocities masked out).

The agent sees only the cart position and the pole angle: a feed-forward policy cannot tell which
way the pole is falling, a recurrent one can infer it from the last observations. The trained
agent is evaluated deterministically on 20 episodes of a fresh masked environment reset with seeds
0..19 (the recurrent state is carried and reset at each episode start). The exit status is 1 when
the mean reward is below ``--threshold``.

Run::

    PYTHONPATH=. python benchmarks/bench_recurrent.py --json out.json
    PYTHONPATH=. python benchmarks/bench_recurrent.py --policy MlpPolicy   # the feed-forward baseline
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from stable_baselines_io.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines_io.common.vec_env import VecEnv  # noqa: E402
from stable_baselines_io.ppo import PPO  # noqa: E402
from stable_baselines_io.schedules import LinearSchedule  # noqa: E402

ENV_ID = "CartPole-v1"
#: Observation entries kept: cart position and pole angle (velocities, indices 1 and 3, dropped).
VISIBLE = [0, 2]
REWARD_THRESHOLD = 400.0
DEFAULT_TIMESTEPS = 150_000
N_ENVS = 8
#: PPO settings close to RL Zoo's recurrent CartPoleNoVel ones, with Stable Baselines 2's shared LSTM.
HYPERPARAMETERS: dict[str, Any] = dict(
    n_steps=32, nminibatches=4, noptepochs=10, gamma=0.98, lam=0.8, ent_coef=0.0, vf_coef=0.5,
    learning_rate=LinearSchedule(1e-3), cliprange=LinearSchedule(0.2), max_grad_norm=0.5,
)
POLICY_KWARGS = {
    "MlpLstmPolicy": dict(n_lstm=64, net_arch=[64, "lstm", dict(pi=[64], vf=[64])]),
    "MlpPolicy": dict(net_arch=[64, dict(pi=[64], vf=[64])]),
}


class VelocitiesMasked(gymnasium.ObservationWrapper):
    """CartPole without its velocities: observations ``[cart position, pole angle]``.

    :param env: a CartPole environment
    """

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        box = env.observation_space
        assert isinstance(box, gymnasium.spaces.Box)
        self.observation_space = gymnasium.spaces.Box(box.low[VISIBLE], box.high[VISIBLE], dtype=box.dtype)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[VISIBLE]


def masked_cartpole() -> gymnasium.Env:
    """:return: a CartPole-v1 whose observations lack the velocities"""
    return VelocitiesMasked(gymnasium.make(ENV_ID))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", choices=sorted(POLICY_KWARGS), default="MlpLstmPolicy")
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the agent and the training envs")
    parser.add_argument("--threshold", type=float, default=REWARD_THRESHOLD, help="mean reward to reach")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this JSON file")
    parser.add_argument("--verbose", type=int, default=0, help="1: the training table")
    args = parser.parse_args(argv)

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    env = VecEnv([masked_cartpole() for _ in range(N_ENVS)])
    model = PPO(args.policy, env, seed=args.seed, verbose=args.verbose, policy_kwargs=POLICY_KWARGS[args.policy],
                **HYPERPARAMETERS)
    start = time.perf_counter()
    model.learn(total_timesteps=args.timesteps, log_interval=10)
    wall_time = time.perf_counter() - start
    returns, _ = evaluate_policy(model, masked_cartpole(), n_eval_episodes=args.eval_episodes, deterministic=True,
                                 return_episode_rewards=True, seed=0)
    results = {
        "env": f"{ENV_ID} without velocities (observations {VISIBLE})",
        "policy": args.policy,
        "policy_kwargs": POLICY_KWARGS[args.policy],
        "timesteps": model.num_timesteps,
        "seed": args.seed,
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "threshold": args.threshold,
        "passed": bool(np.mean(returns) >= args.threshold),
        "wall_time_s": round(wall_time, 1),
        "steps_per_s": round(model.num_timesteps / wall_time, 1),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
