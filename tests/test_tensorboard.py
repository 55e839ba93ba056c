"""TensorBoard event files: SB2's run folders and scalar names, one step axis across a resume."""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import A2C, DQN, PPO
from stable_baselines_io.common.tensorboard import latest_run_id, run_folder


def read_events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """``tag -> [(step, value), ...]`` of every scalar in the run folder's event files."""
    scalars: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalars[value.tag].append((event.step, float(tf.make_ndarray(value.tensor))))
    return dict(scalars)


def histogram_tags(folder: Path) -> set[str]:
    return {value.tag for path in folder.glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value
            if value.metadata.plugin_data.plugin_name == "histograms"}


def test_run_folders_are_numbered_like_sb2(tmp_path: Path) -> None:
    assert latest_run_id(tmp_path / "missing", "PPO") == 0
    assert run_folder(tmp_path, "PPO", new_run=False) == tmp_path / "PPO_1"
    (tmp_path / "PPO_1").mkdir()
    (tmp_path / "PPO_3").mkdir()
    (tmp_path / "PPO_x").mkdir()
    assert run_folder(tmp_path, "PPO", new_run=True) == tmp_path / "PPO_4"
    assert run_folder(tmp_path, "PPO", new_run=False) == tmp_path / "PPO_3"


PPO_TAGS = {"episode_reward", "loss/policy_gradient_loss", "loss/value_function_loss", "loss/entropy_loss",
            "loss/approximate_kullback-leibler", "loss/clip_factor", "input_info/learning_rate",
            "input_info/discounted_rewards", "input_info/advantage", "explained_variance"}


def test_ppo_writes_sb2_scalars_at_num_timesteps(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, nminibatches=2, seed=0, tensorboard_log=str(tmp_path))
    model.learn(96, tb_log_name="run")
    scalars = read_events(tmp_path / "run_1")
    assert set(scalars) == PPO_TAGS
    assert [step for step, _ in scalars["loss/clip_factor"]] == [32, 64, 96]
    assert [value for _, value in scalars["input_info/learning_rate"]] == pytest.approx([2.5e-4] * 3)
    episodes = [info["r"] for info in model.ep_info_buf]
    assert [value for _, value in scalars["episode_reward"]] == pytest.approx(episodes)


def test_a_resumed_run_continues_the_step_axis_in_the_same_folder(tmp_path: Path) -> None:
    model = A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0, tensorboard_log=str(tmp_path / "tb"))
    model.learn(20)
    model.save(tmp_path / "agent.zip")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        data = json.loads(archive.read("data"))
    assert data["tensorboard_log"] == str(tmp_path / "tb") and data["full_tensorboard_log"] is False

    resumed = A2C.load(tmp_path / "agent.zip", env="CartPole-v1")
    resumed.learn(15, reset_num_timesteps=False)  # continues A2C_1 where it stopped
    resumed.learn(5)  # reset_num_timesteps=True: a new run, A2C_2, from step 0
    assert sorted(path.name for path in (tmp_path / "tb").iterdir()) == ["A2C_1", "A2C_2"]
    first_run = read_events(tmp_path / "tb" / "A2C_1")
    assert [step for step, _ in first_run["loss/policy_gradient_loss"]] == list(range(5, 40, 5))
    assert {"loss/entropy_loss", "loss/value_function_loss"} <= set(first_run)
    assert [step for step, _ in read_events(tmp_path / "tb" / "A2C_2")["loss/policy_gradient_loss"]] == [5]


def test_load_replaces_the_stored_folder(tmp_path: Path) -> None:
    A2C("MlpPolicy", "CartPole-v1", n_steps=5, seed=0, tensorboard_log="/nonexistent/elsewhere").save(
        tmp_path / "agent.zip")
    loaded = A2C.load(tmp_path / "agent.zip", env="CartPole-v1", tensorboard_log=str(tmp_path / "here"))
    loaded.learn(5, tb_log_name="moved")
    assert (tmp_path / "here" / "moved_1").is_dir()


def test_dqn_writes_losses_and_exploration_rate(tmp_path: Path) -> None:
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=10, batch_size=8, exploration_fraction=0.5, seed=0,
                tensorboard_log=str(tmp_path), full_tensorboard_log=True)
    model.learn(30)
    scalars = read_events(tmp_path / "DQN_1")
    assert {"loss/loss", "loss/td_error", "exploration_rate", "input_info/learning_rate"} <= set(scalars)
    assert [step for step, _ in scalars["loss/loss"]] == list(range(11, 31))
    assert scalars["exploration_rate"][-1][1] == pytest.approx(float(model.epsilon.numpy()))
    assert all(np.isfinite(value) for _, value in scalars["loss/td_error"])
    assert histogram_tags(tmp_path / "DQN_1") == {variable.name[:-len(":0")] for variable in model.get_parameter_list()}


def test_without_tensorboard_log_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    PPO("MlpPolicy", "CartPole-v1", n_steps=8, nminibatches=1, seed=0).learn(8)
    assert list(tmp_path.iterdir()) == []
