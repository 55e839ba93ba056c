"""Atari wrappers (Stable Baselines 2's ``make_atari`` / ``wrap_deepmind``), ``VecFrameStack`` and
``sb-io train`` on an Atari id: real ALE games for a few steps, stand-ins for the rare events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from stable_baselines_io.cli import main
from stable_baselines_io.common.atari_wrappers import (
    ClipRewardEnv,
    EpisodicLifeEnv,
    FireResetEnv,
    MaxAndSkipEnv,
    NoopResetEnv,
    WarpFrame,
    area_resize_weights,
    is_atari_env_id,
    make_atari,
    make_atari_vec_env,
    wrap_deepmind,
)
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.common.vec_frame_stack import VecFrameStack
from stable_baselines_io.exceptions import AtariEnvError

pytest.importorskip("ale_py")


def wrapper_types(env: gymnasium.Env) -> list[type]:
    types = []
    while isinstance(env, gymnasium.Wrapper):
        types.append(type(env))
        env = env.env
    return types


class ScriptedGame(gymnasium.Env):
    """Frames numbered by step (every pixel = step), reward = step, lives lost on chosen steps."""

    observation_space = gymnasium.spaces.Box(0, 255, (2, 2, 3), dtype=np.uint8)
    action_space = gymnasium.spaces.Discrete(4)

    def __init__(self, life_lost_at: tuple[int, ...] = (), game_over_at: int = 100,
                 meanings: tuple[str, ...] = ("NOOP", "FIRE", "UP", "DOWN")):
        self.life_lost_at = life_lost_at
        self.game_over_at = game_over_at
        self.meanings = list(meanings)
        self.steps = 0
        self.resets = 0
        self.actions: list[int] = []
        game = self

        class Ale:
            def lives(self) -> int:
                return 3 - sum(step <= game.steps for step in game.life_lost_at)

        self.ale = Ale()

    def get_action_meanings(self) -> list[str]:
        return self.meanings

    def _frame(self) -> np.ndarray:
        return np.full((2, 2, 3), self.steps % 256, dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        self.resets += 1
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        self.actions.append(int(action))
        return self._frame(), float(self.steps), self.steps >= self.game_over_at, False, {}


# --- real games ---------------------------------------------------------------------------------


def test_make_atari_and_wrap_deepmind_stack_the_stable_baselines_2_wrappers() -> None:
    env = wrap_deepmind(make_atari("BreakoutNoFrameskip-v4"))
    assert wrapper_types(env)[:6] == [ClipRewardEnv, WarpFrame, FireResetEnv, EpisodicLifeEnv, MaxAndSkipEnv,
                                      NoopResetEnv]
    observation, _ = env.reset(seed=0)
    assert observation.shape == (84, 84, 1) and observation.dtype == np.uint8
    for _ in range(5):
        observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert observation.shape == (84, 84, 1) and reward in (-1.0, 0.0, 1.0)
    env.close()


def test_atari_vec_env_stacks_four_gray_84x84_frames() -> None:
    venv = make_atari_vec_env("PongNoFrameskip-v4", n_envs=2)
    venv.seed(0)
    observations = venv.reset()
    assert observations.shape == (2, 84, 84, 4) and observations.dtype == np.uint8
    assert not observations[..., :3].any() and observations[..., 3].any()
    first_frames = observations[..., 3].copy()
    observations, rewards, _, _, _ = venv.step(np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(observations[..., 2], first_frames)
    assert rewards.shape == (2,)
    venv.close()


def test_warp_frame_matches_the_gray_and_area_formulas_on_a_real_frame() -> None:
    env = make_atari("PongNoFrameskip-v4")
    frame, _ = env.reset(seed=1)
    warped = WarpFrame(env).observation(frame)

    gray = 0.299 * frame[..., 0] + 0.587 * frame[..., 1] + 0.114 * frame[..., 2]
    # 210 x 160 -> 84 x 84 by covered area, computed pixel by pixel
    expected = np.zeros((84, 84))
    for row in range(84):
        for column in range(84):
            top, bottom = row * 210 / 84, (row + 1) * 210 / 84
            left, right = column * 160 / 84, (column + 1) * 160 / 84
            total = 0.0
            for y in range(int(top), int(np.ceil(bottom))):
                for x in range(int(left), int(np.ceil(right))):
                    total += gray[y, x] * (min(y + 1, bottom) - max(y, top)) * (min(x + 1, right) - max(x, left))
            expected[row, column] = total / ((bottom - top) * (right - left))
    assert np.abs(warped[..., 0].astype(np.float64) - expected).max() <= 1.0
    env.close()


def test_an_id_that_skips_frames_itself_is_refused() -> None:
    with pytest.raises(AtariEnvError, match=r"ALE/Pong-v5 skips 4 frames itself.*NoFrameskip"):
        make_atari("ALE/Pong-v5")


def test_atari_ids_are_recognised() -> None:
    assert is_atari_env_id("PongNoFrameskip-v4") and is_atari_env_id("ALE/Breakout-v5")
    assert not is_atari_env_id("CartPole-v1")


@pytest.mark.slow  # an 84x84 nature CNN: its 3136x512 orthogonal init alone takes seconds on a busy machine
def test_sb_io_trains_and_saves_a_cnn_agent_on_an_atari_id(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "pong.zip"
    status = main(["train", "--algo", "ppo", "--env", "PongNoFrameskip-v4", "--timesteps", "16", "--seed", "0",
                   "--output", str(output), "--no-progress-bar", "-p", "n_steps=8", "-p", "nminibatches=1"])
    assert status == 0 and output.exists()
    assert "trained PPO on PongNoFrameskip-v4" in capsys.readouterr().out
    assert (tmp_path / "pong" / "0.monitor.csv").exists()

    from stable_baselines_io.common.cnn_policies import CnnPolicy
    from stable_baselines_io.ppo import PPO

    model = PPO.load(output)
    assert model.policy is CnnPolicy and model.observation_space.shape == (84, 84, 4)


@pytest.mark.slow
def test_sb_io_evaluates_an_atari_agent_on_whole_games(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "pong.zip"
    main(["train", "--algo", "a2c", "--env", "PongNoFrameskip-v4", "--timesteps", "10", "--seed", "0",
          "--output", str(output), "--no-progress-bar", "--no-monitor"])
    capsys.readouterr()
    assert main(["eval", str(output), "--episodes", "1"]) == 0
    # a whole game of Pong ends at 21 points for one side: the score is the real one, not clipped per life
    mean = float(capsys.readouterr().out.split("mean reward ")[1].split()[0])
    assert -21.0 <= mean <= 21.0 and mean != 0.0


# --- the rare events, on a scripted game ---------------------------------------------------------


def test_max_and_skip_sums_rewards_and_takes_the_max_of_the_last_two_frames() -> None:
    env = MaxAndSkipEnv(ScriptedGame(), skip=4)
    env.reset()
    observation, reward, _, _, _ = env.step(2)
    assert reward == 1 + 2 + 3 + 4 and observation.max() == observation.min() == 4
    assert env.unwrapped.actions == [2, 2, 2, 2]


def test_max_and_skip_stops_at_the_end_of_an_episode() -> None:
    env = MaxAndSkipEnv(ScriptedGame(game_over_at=2), skip=4)
    env.reset()
    _, reward, terminated, _, _ = env.step(1)
    assert terminated and reward == 1 + 2 and len(env.unwrapped.actions) == 2


def test_noop_reset_plays_noops_and_needs_a_noop_action() -> None:
    env = NoopResetEnv(ScriptedGame(), noop_max=30)
    env.override_num_noops = 7
    env.reset(seed=0)
    assert env.unwrapped.actions == [0] * 7
    with pytest.raises(AtariEnvError, match=r"action 0 to be NOOP.*\['FIRE', 'NOOP', 'UP'\]"):
        NoopResetEnv(ScriptedGame(meanings=("FIRE", "NOOP", "UP")))


def test_fire_reset_presses_fire_then_action_2() -> None:
    env = FireResetEnv(ScriptedGame())
    env.reset()
    assert env.unwrapped.actions == [1, 2]
    with pytest.raises(AtariEnvError, match=r"action 1 to be FIRE"):
        FireResetEnv(ScriptedGame(meanings=("NOOP", "UP", "DOWN")))


def test_episodic_life_ends_episodes_at_a_lost_life_and_resets_the_game_only_when_over() -> None:
    game = ScriptedGame(life_lost_at=(3,), game_over_at=5)
    env = EpisodicLifeEnv(game)
    env.reset()
    terminations = [env.step(2)[2] for _ in range(3)]
    assert terminations == [False, False, True]
    env.reset()  # a lost life: one no-op, no real reset
    assert game.resets == 1 and game.actions[-1] == 0
    assert env.step(2)[2]  # step 5: the game is over
    env.reset()
    assert game.resets == 2


def test_clip_reward_keeps_the_sign() -> None:
    env = ClipRewardEnv(ScriptedGame())
    assert [env.reward(value) for value in (-3.5, 0.0, 7.0)] == [-1.0, 0.0, 1.0]


def test_warp_frame_refuses_frames_that_are_not_rgb() -> None:
    with pytest.raises(AtariEnvError, match=r"RGB frames.*\(2, 2\)"):
        WarpFrame(_GrayGame())


class _GrayGame(ScriptedGame):
    observation_space = gymnasium.spaces.Box(0, 255, (2, 2), dtype=np.uint8)


def test_area_weights_average_whole_blocks_for_integer_factors() -> None:
    weights = area_resize_weights(6, 3)
    np.testing.assert_array_equal(weights, np.kron(np.eye(3), [[0.5, 0.5]]))
    np.testing.assert_allclose(area_resize_weights(210, 84).sum(axis=1), 1.0)


# --- VecFrameStack ----------------------------------------------------------------------------------


def test_vec_frame_stack_rolls_frames_and_restarts_from_zeros_after_an_episode() -> None:
    venv = VecFrameStack(VecEnv([gymnasium.make("CartPole-v1")]), n_stack=3)
    venv.seed(0)
    first = venv.reset()
    assert first.shape == (1, 12) and not first[0, :8].any()
    second, _, _, _, _ = venv.step(np.array([0]))
    np.testing.assert_array_equal(second[0, 4:8], first[0, 8:])
    previous = second
    while True:
        observations, _, terminated, truncated, infos = venv.step(np.array([0]))
        if terminated[0] or truncated[0]:
            break
        previous = observations
    np.testing.assert_array_equal(infos[0]["terminal_observation"][:8], previous[0, 4:])
    assert not observations[0, :8].any() and observations[0, 8:].any()


def test_vec_frame_stack_needs_box_observations() -> None:
    with pytest.raises(ValueError, match=r"VecFrameStack needs Box observations.*Discrete"):
        VecFrameStack(VecEnv([gymnasium.make("FrozenLake-v1")]), n_stack=2)
