"""``Monitor`` (Stable Baselines 2's ``bench.Monitor``), ``load_results`` and the learning-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from stable_baselines_io.common.monitor import (
    Monitor,
    get_monitor_files,
    load_results,
    make_monitored_vec_env,
    monitor_file_name,
)
from stable_baselines_io.common.vec_env import make_vec_env
from stable_baselines_io.exceptions import EnvApiMismatchError, MonitorResultsError
from stable_baselines_io.results_plotter import (
    X_EPISODES,
    X_TIMESTEPS,
    X_WALLTIME,
    plot_results,
    rolling_mean,
    save_figure,
    ts2xy,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def play(env: gymnasium.Env, episodes: int, seed: int = 0) -> None:
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated


def test_monitor_writes_the_stable_baselines_csv(tmp_path: Path) -> None:
    env = Monitor(gymnasium.make("CartPole-v1"), str(tmp_path / "run"))
    env.action_space.seed(0)
    play(env, 3)
    env.close()
    lines = (tmp_path / "run.monitor.csv").read_text().splitlines()
    header = json.loads(lines[0][1:])
    assert lines[0].startswith("#") and header["env_id"] == "CartPole-v1" and header["t_start"] > 0
    assert lines[1] == "r,l,t" and len(lines) == 5
    rows = [line.split(",") for line in lines[2:]]
    assert [float(row[0]) for row in rows] == env.get_episode_rewards()
    assert [int(row[1]) for row in rows] == env.get_episode_lengths()
    assert env.get_total_steps() == sum(env.get_episode_lengths())
    assert len(env.get_episode_times()) == 3 and all(float(row[2]) >= 0 for row in rows)


class WithAnswer(gymnasium.Wrapper):
    """Adds ``info["answer"] = 42`` to every step."""

    def step(self, action):  # type: ignore[no-untyped-def]
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, {**info, "answer": 42}


def test_info_episode_reset_and_info_keywords(tmp_path: Path) -> None:
    env = Monitor(WithAnswer(gymnasium.make("CartPole-v1")), tmp_path, allow_early_resets=False,
                  reset_keywords=("level",), info_keywords=("answer",))
    with pytest.raises(RuntimeError, match="Tried to step environment that needs reset"):
        env.step(0)
    with pytest.raises(ValueError, match=r"expected reset\(options=\{'level': ...\}\)"):
        env.reset(seed=0)
    env.reset(seed=0, options={"level": 3})
    with pytest.raises(RuntimeError, match="Tried to reset an environment before done"):
        env.reset(options={"level": 3})
    info: dict = {}
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(0)
        steps += 1
        done = terminated or truncated
    assert info["episode"]["l"] == steps and info["episode"]["r"] == float(steps)
    assert info["episode"]["answer"] == 42 and info["episode"]["level"] == 3
    env.close()
    lines = (tmp_path / "monitor.csv").read_text().splitlines()
    assert lines[1] == "r,l,t,level,answer" and lines[2].endswith(",3,42")
    results = load_results(tmp_path)
    assert results.extra["answer"].tolist() == ["42"] and results.extra["level"].tolist() == ["3"]
    missing = Monitor(gymnasium.make("CartPole-v1"), None, info_keywords=("answer",))
    with pytest.raises(KeyError, match="info_keywords: the last step's info has no 'answer'"):
        play(missing, 1)


def test_monitor_file_names(tmp_path: Path) -> None:
    assert monitor_file_name(tmp_path) == str(tmp_path / "monitor.csv")
    assert monitor_file_name(tmp_path / "0") == str(tmp_path / "0.monitor.csv")
    assert monitor_file_name("x/train.monitor.csv") == "x/train.monitor.csv"
    assert Monitor(gymnasium.make("CartPole-v1"), None).filename is None


def test_load_results_merges_the_files_of_a_run(tmp_path: Path) -> None:
    vec_env = make_monitored_vec_env("CartPole-v1", 2, tmp_path / "run")
    vec_env.seed(0)
    vec_env.reset()
    for _ in range(200):
        vec_env.step(np.array([space.sample() for space in (vec_env.envs[0].action_space,) * 2]))
    vec_env.close()
    assert [Path(name).name for name in get_monitor_files(tmp_path / "run")] == ["0.monitor.csv", "1.monitor.csv"]
    results = load_results(tmp_path / "run")
    assert len(results) == len(vec_env.envs[0].get_episode_rewards()) + len(vec_env.envs[1].get_episode_rewards())
    assert np.all(np.diff(results.t) >= 0) and results.l.dtype == np.int64
    assert sorted(results.r.tolist()) == sorted(vec_env.envs[0].get_episode_rewards()
                                                + vec_env.envs[1].get_episode_rewards())
    assert [header["env_id"] for header in results.headers] == ["CartPole-v1", "CartPole-v1"]


def test_load_results_errors(tmp_path: Path) -> None:
    with pytest.raises(MonitorResultsError, match="no monitor files of the form \\*monitor.csv found in"):
        load_results(tmp_path)
    (tmp_path / "bad.monitor.csv").write_text("r,l,t\n1,1,1\n")
    with pytest.raises(ValueError, match="bad.monitor.csv' is not a monitor file.*does not start with '#'"):
        load_results(tmp_path)
    (tmp_path / "bad.monitor.csv").write_text('#{"t_start": 1}\nr,l,t\n1,x,1\n')
    with pytest.raises(MonitorResultsError, match="invalid literal for int"):
        load_results(tmp_path)


def test_rolling_mean_and_axes() -> None:
    assert rolling_mean(np.array([2.0, 4.0, 6.0]), 1).tolist() == [2.0, 4.0, 6.0]
    assert rolling_mean(np.array([2.0, 4.0, 6.0]), 100).tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="at least 1 episode"):
        rolling_mean(np.zeros(3), 0)


def test_plot_results_writes_a_png(tmp_path: Path) -> None:
    for run, seed in (("run-a", 0), ("run-b", 1)):
        env = Monitor(gymnasium.make("CartPole-v1"), tmp_path / run / "0")
        env.action_space.seed(seed)
        play(env, 12, seed)
        env.close()
    results = load_results(tmp_path / "run-a")
    x, y = ts2xy(results, X_TIMESTEPS)
    assert x.tolist() == np.cumsum(results.l).tolist() and y.tolist() == results.r.tolist()
    assert ts2xy(results, X_EPISODES)[0].tolist() == list(range(1, 13))
    assert np.all(ts2xy(results, X_WALLTIME)[0] < 1)
    with pytest.raises(ValueError, match="unknown x axis 'steps'"):
        ts2xy(results, "steps")
    figure = plot_results([tmp_path / "run-a", tmp_path / "run-b"], smooth=5)
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == ["run-a", "run-b"]
    assert figure.axes[0].get_title() == "CartPole-v1"
    output = tmp_path / "plots" / "curves.png"
    save_figure(figure, output)
    assert output.read_bytes()[:8] == PNG_SIGNATURE and output.stat().st_size > 10_000
    short = plot_results([tmp_path / "run-a"], num_timesteps=int(x[2]), task_name="first episodes", smooth=1)
    assert len(short.axes[0].lines[0].get_xdata()) == 3 and short.axes[0].get_title() == "first episodes"


@pytest.mark.parametrize("vectorized", ["vec_env", "gymnasium_vector"])
def test_monitor_refuses_a_vectorized_env(tmp_path: Path, vectorized: str) -> None:
    env = make_vec_env("CartPole-v1") if vectorized == "vec_env" else gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1")])
    with pytest.raises(EnvApiMismatchError, match="Monitor wraps one gymnasium env, received a vectorized env"):
        Monitor(env, str(tmp_path / "run"))  # type: ignore[arg-type]
