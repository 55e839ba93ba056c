"""The real files the fuzzer starts from."""

from __future__ import annotations

import io
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "sb2"
CORPUS_DIR = REPO_ROOT / "tests" / "regression" / "corpus"
MAX_SEED_BYTES = 256 * 1024


def saved_agents() -> list[bytes]:
    """PPO and DQN agents saved in this process, with training state (and DQN's replay buffer)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from stable_baselines_io.dqn import DQN
    from stable_baselines_io.ppo import PPO

    agents = []
    for model in (PPO("MlpPolicy", "CartPole-v1", seed=0, n_steps=16, policy_kwargs={"net_arch": [8]}),
                  DQN("MlpPolicy", "CartPole-v1", seed=0, buffer_size=64, learning_starts=8,
                      policy_kwargs={"layers": [8]})):
        model.learn(total_timesteps=32)
        for options in ({}, {"include_replay_buffer": True} if isinstance(model, DQN) else {}):
            buffer = io.BytesIO()
            model.save(buffer, **options)
            agents.append(buffer.getvalue())
    return agents


def seed_files() -> list[bytes]:
    """The Stable Baselines 2 fixtures (when present) and the regression corpus's small files."""
    paths = sorted(FIXTURE_DIR.rglob("*.zip")) + sorted(FIXTURE_DIR.rglob("*.pkl")) if FIXTURE_DIR.is_dir() else []
    paths += sorted(path for path in CORPUS_DIR.glob("*") if path.suffix != ".expect") if CORPUS_DIR.is_dir() else []
    return [path.read_bytes() for path in paths if 0 < path.stat().st_size <= MAX_SEED_BYTES]


def all_seeds() -> list[bytes]:
    """:return: every seed: fixtures, corpus and freshly saved agents"""
    return seed_files() + saved_agents()
