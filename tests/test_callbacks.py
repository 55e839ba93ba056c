"""The bases call every hook point of the training loop, for every algorithm."""

from __future__ import annotations

from typing import Any

import pytest

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.common.callbacks import FunctionCallback, TrainingHooks, as_hooks


class Recording(TrainingHooks):
    def __init__(self, stop_at_step: int | None = None):
        self.calls: list[str] = []
        self.stop_at_step = stop_at_step

    def on_training_start(self, local_vars: dict[str, Any]) -> None:
        self.calls.append("training_start")

    def on_rollout_start(self, local_vars: dict[str, Any]) -> None:
        self.calls.append("rollout_start")

    def on_step(self, local_vars: dict[str, Any]) -> bool:
        self.calls.append("step")
        return self.stop_at_step is None or local_vars["self"].num_timesteps < self.stop_at_step

    def on_rollout_end(self, local_vars: dict[str, Any]) -> None:
        self.calls.append("rollout_end")

    def on_iteration_end(self, local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        self.calls.append("iteration_end")
        return True

    def on_training_end(self, local_vars: dict[str, Any]) -> None:
        self.calls.append("training_end")


@pytest.mark.parametrize("algorithm", [PPO, A2C])
def test_on_policy_hook_points(algorithm: type) -> None:
    hooks = Recording()
    minibatches = {"nminibatches": 1} if algorithm is PPO else {}
    algorithm("MlpPolicy", "CartPole-v1", n_steps=3, seed=0, **minibatches).learn(6, callback=hooks)
    one_update = ["rollout_start", "step", "step", "step", "rollout_end", "iteration_end"]
    assert hooks.calls == ["training_start", *one_update, *one_update, "training_end"]


def test_off_policy_hook_points() -> None:
    hooks = Recording()
    DQN("MlpPolicy", "CartPole-v1", learning_starts=1, seed=0).learn(3, callback=hooks)
    assert hooks.calls == ["training_start", *["step", "iteration_end"] * 3, "training_end"]


def test_a_hook_stops_training_in_the_middle_of_a_rollout() -> None:
    hooks = Recording(stop_at_step=2)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=4, seed=0).learn(8, callback=hooks)
    assert model.num_timesteps == 2 and model._n_updates == 0  # noqa: SLF001 - the partial rollout is dropped
    assert hooks.calls[-2:] == ["step", "training_end"]


def test_function_callbacks_are_called_at_the_end_of_each_iteration() -> None:
    seen: list[int] = []

    def callback(local_vars: dict[str, Any], global_vars: dict[str, Any]) -> bool:
        seen.append(local_vars["self"].num_timesteps)
        return len(seen) < 2

    assert isinstance(as_hooks(callback), FunctionCallback)
    A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0).learn(50, callback=callback)
    assert seen == [5, 10]
    with pytest.raises(TypeError, match="callback must be a function callback"):
        as_hooks(42)  # type: ignore[arg-type]
