"""Stable Baselines 2's callback classes on the bases' hook points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.common.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    EveryNTimesteps,
    StopTrainingOnRewardThreshold,
    as_hooks,
)


class Counting(BaseCallback):
    def __init__(self, stop_after: int | None = None):
        super().__init__()
        self.events: list[str] = []
        self.stop_after = stop_after

    def _init_callback(self) -> None:
        self.events.append("init")

    def _on_training_start(self) -> None:
        self.events.append("training_start")

    def _on_rollout_start(self) -> None:
        self.events.append("rollout_start")

    def _on_step(self) -> bool:
        self.events.append("step")
        return self.stop_after is None or self.n_calls < self.stop_after

    def _on_rollout_end(self) -> None:
        self.events.append("rollout_end")

    def _on_training_end(self) -> None:
        self.events.append("training_end")


def test_base_callback_attributes_and_hooks() -> None:
    callback = Counting()
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=4, nminibatches=1, seed=0)
    model.learn(8, callback=callback)
    one_rollout = ["rollout_start", *["step"] * 4, "rollout_end"]
    assert callback.events == ["init", "training_start", *one_rollout, *one_rollout, "training_end"]
    assert callback.model is model and callback.training_env is model.get_env()
    assert callback.n_calls == 8 and callback.num_timesteps == 8
    assert callback.locals["self"] is model and "__name__" in callback.globals
    assert callback.logger is None and callback.parent is None


def test_a_callback_returning_false_stops_training_and_lists_stop_at_the_first_false() -> None:
    first, second = Counting(stop_after=3), Counting()
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=1, seed=0).learn(20, callback=[first, second])
    assert model.num_timesteps == 3
    assert second.n_calls == 3 and second.events[-1] == "training_end"


def test_lists_mix_functions_and_callbacks() -> None:
    seen: list[int] = []
    counting = Counting()
    hooks = as_hooks([lambda local_vars, global_vars: seen.append(local_vars["self"].num_timesteps), counting])
    assert isinstance(hooks, CallbackList)
    A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(10, callback=hooks)
    assert seen == [5, 10] and counting.n_calls == 10


def test_every_n_timesteps_runs_its_callback_every_n_steps() -> None:
    inner = Counting()
    A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(20, callback=EveryNTimesteps(6, inner))
    assert inner.n_calls == 3  # at 6, 12 and 18 steps
    assert inner.parent is not None


def test_checkpoints_are_named_like_sb2_and_keep_last_keeps_the_newest(tmp_path: Path) -> None:
    callback = CheckpointCallback(10, tmp_path / "checkpoints", name_prefix="agent", keep_last=2, verbose=1)
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=5, seed=0).learn(40, callback=callback)
    assert [path.name for path in callback.checkpoints()] == ["agent_30_steps.zip", "agent_40_steps.zip"]
    loaded = DQN.load(callback.checkpoints()[-1])
    assert loaded.num_timesteps == 40 and loaded.replay_buffer is None
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(loaded.get_parameters()[name], value)


def test_on_policy_checkpoints_wait_for_the_end_of_the_update(tmp_path: Path) -> None:
    callback = CheckpointCallback(3, tmp_path)
    PPO("MlpPolicy", "CartPole-v1", n_steps=4, nminibatches=1, seed=0).learn(12, callback=callback)
    # Calls 3, 6 and 9 fall in the updates ending at 4, 8 and 12 steps.
    assert [path.name for path in callback.checkpoints()] == [f"rl_model_{steps}_steps.zip" for steps in (4, 8, 12)]


def test_checkpoints_hold_the_replay_buffer_on_request(tmp_path: Path) -> None:
    callback = CheckpointCallback(20, tmp_path, save_replay_buffer=True)
    DQN("MlpPolicy", "CartPole-v1", learning_starts=5, seed=0).learn(20, callback=callback)
    loaded = DQN.load(callback.checkpoints()[0])
    assert loaded.replay_buffer is not None and loaded.replay_buffer.size == 20


@pytest.mark.parametrize(("arguments", "message"), [
    ({"save_freq": 0}, "save_freq must be at least 1, received 0"),
    ({"save_freq": 5, "keep_last": 0}, "keep_last must be None or at least 1, received 0"),
])
def test_checkpoint_arguments_are_checked(tmp_path: Path, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CheckpointCallback(save_path=tmp_path, **arguments)


def test_eval_callback_writes_evaluations_and_the_best_model(tmp_path: Path) -> None:
    callback = EvalCallback("CartPole-v1", n_eval_episodes=2, eval_freq=10, log_path=tmp_path / "logs",
                            best_model_save_path=tmp_path / "best", verbose=0)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=10, nminibatches=1, seed=0, tensorboard_log=str(tmp_path / "tb"))
    model.learn(30, callback=callback)
    with np.load(tmp_path / "logs" / "evaluations.npz") as evaluations:
        np.testing.assert_array_equal(evaluations["timesteps"], [10, 20, 30])
        assert evaluations["results"].shape == (3, 2) and evaluations["ep_lengths"].shape == (3, 2)
        np.testing.assert_array_equal(evaluations["results"], evaluations["ep_lengths"])  # CartPole: 1 per step
        assert callback.best_mean_reward == evaluations["results"].mean(axis=1).max()
    best = PPO.load(tmp_path / "best" / "best_model.zip")
    observation = np.zeros(4, dtype=np.float32)
    assert best.predict(observation, deterministic=True)[0] in (0, 1)
    assert model.num_timesteps == 30
    [events] = (tmp_path / "tb" / "PPO_1").glob("events.out.tfevents.*")
    written = [(event.step, value.tag) for event in tf.compat.v1.train.summary_iterator(str(events))
               for value in event.summary.value if value.tag == "eval/mean_reward"]
    assert written == [(10, "eval/mean_reward"), (20, "eval/mean_reward"), (30, "eval/mean_reward")]


def test_stop_training_on_reward_threshold_stops_at_the_first_good_evaluation() -> None:
    stop = StopTrainingOnRewardThreshold(reward_threshold=1.0, verbose=1)
    callback = EvalCallback("CartPole-v1", callback_on_new_best=stop, n_eval_episodes=1, eval_freq=5, verbose=0)
    model = A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(50, callback=callback)
    assert model.num_timesteps == 5 and stop.parent is callback


def test_stop_training_on_reward_threshold_needs_an_eval_callback() -> None:
    with pytest.raises(TypeError, match="must be the callback_on_new_best of an EvalCallback"):
        A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(5, callback=StopTrainingOnRewardThreshold(1.0))


def test_learn_refuses_other_callbacks() -> None:
    with pytest.raises(TypeError, match="callback must be a function callback.*received 42"):
        A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(5, callback=42)  # type: ignore[arg-type]
