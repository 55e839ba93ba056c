"""Learning curves from monitor files, as Stable Baselines 2's ``results_plotter``: episode reward
against timesteps (or episodes, or wall time), smoothed, several runs overlaid, saved as a picture.

Needs matplotlib (the ``plot`` extra). Figures are drawn with matplotlib's object-oriented API on
the Agg canvas: no window, no pyplot state, and the caller's matplotlib backend is left alone.

>>> figure = plot_results(["agents/ppo-cartpole"], smooth=20)  # doctest: +SKIP
>>> save_figure(figure, "agents/ppo-cartpole.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from stable_baselines_io.common.monitor import MonitorResults, load_results

X_TIMESTEPS = "timesteps"
X_EPISODES = "episodes"
X_WALLTIME = "walltime_hrs"
POSSIBLE_X_AXES = (X_TIMESTEPS, X_EPISODES, X_WALLTIME)
#: Episodes averaged by default (Stable Baselines 2's ``EPISODES_WINDOW``).
EPISODES_WINDOW = 100
X_LABELS = {X_TIMESTEPS: "timesteps", X_EPISODES: "episodes", X_WALLTIME: "wall time (hours)"}


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it (fewer at the start).

    >>> rolling_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist()
    [1.0, 2.0, 4.0, 6.0]

    :param values: 1-D values
    :param window: the number of values averaged (at least 1)
    :return: an array as long as ``values``
    """
    if window < 1:
        raise ValueError(f"the smoothing window must be at least 1 episode, received {window}")
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def ts2xy(results: MonitorResults, xaxis: str) -> tuple[np.ndarray, np.ndarray]:
    """The points of a learning curve: (x, episode reward).

    :param results: the episodes of a run (:func:`~stable_baselines_io.common.monitor.load_results`)
    :param xaxis: :data:`X_TIMESTEPS` (timesteps at the end of each episode), :data:`X_EPISODES`
        or :data:`X_WALLTIME` (hours)
    :return: ``(x, y)``
    """
    if xaxis == X_TIMESTEPS:
        x = np.cumsum(results.l)
    elif xaxis == X_EPISODES:
        x = np.arange(1, len(results) + 1)
    elif xaxis == X_WALLTIME:
        x = results.t / 3600.0
    else:
        raise ValueError(f"unknown x axis {xaxis!r}: expected one of {list(POSSIBLE_X_AXES)}")
    return x, np.asarray(results.r, dtype=np.float64)


def plot_curves(xy_list: Sequence[tuple[np.ndarray, np.ndarray]], xaxis: str, title: str,
                labels: Sequence[str] | None = None, smooth: int = EPISODES_WINDOW) -> Any:
    """Draw runs on one figure: each episode as a faint dot, the smoothed reward as a line.

    :param xy_list: one ``(x, y)`` per run (:func:`ts2xy`)
    :param xaxis: the x axis of the points (for the label)
    :param title: the figure's title
    :param labels: one legend entry per run (default: none)
    :param smooth: episodes averaged by the line (1: no smoothing); fewer at the start of a run
    :return: a ``matplotlib.figure.Figure``
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = [f"C{index % 10}" for index in range(len(xy_list))]
    for index, (x, y) in enumerate(xy_list):
        label = labels[index] if labels is not None else None
        axes.scatter(x, y, s=2, color=colors[index], alpha=0.3)
        axes.plot(x, rolling_mean(y, smooth), color=colors[index], label=label)
    axes.set_title(title)
    axes.set_xlabel(X_LABELS.get(xaxis, xaxis))
    axes.set_ylabel(f"episode reward (mean of {smooth})" if smooth > 1 else "episode reward")
    axes.grid(alpha=0.3)
    if labels is not None:
        axes.legend(loc="best")
    figure.tight_layout()
    return figure


def plot_results(dirs: Sequence[str | os.PathLike[str]], num_timesteps: int | None = None, xaxis: str = X_TIMESTEPS,
                 task_name: str | None = None, smooth: int = EPISODES_WINDOW) -> Any:
    """The learning curves of runs, one per folder of monitor files.

    :param dirs: the runs' folders
    :param num_timesteps: keep only episodes ending within this many timesteps (None: all)
    :param xaxis: :data:`X_TIMESTEPS`, :data:`X_EPISODES` or :data:`X_WALLTIME`
    :param task_name: the title (default: the env ids in the monitor files)
    :param smooth: episodes averaged by each curve
    :return: a ``matplotlib.figure.Figure``
    """
    xy_list, labels, env_ids = [], [], []
    for folder in dirs:
        results = load_results(folder)
        if num_timesteps is not None:
            keep = np.cumsum(results.l) <= num_timesteps
            results = MonitorResults(r=results.r[keep], l=results.l[keep], t=results.t[keep], headers=results.headers)
        xy_list.append(ts2xy(results, xaxis))
        labels.append(os.path.basename(os.path.normpath(os.fspath(folder))))
        env_ids += [str(header.get("env_id")) for header in results.headers if header.get("env_id")]
    title = task_name if task_name is not None else ", ".join(dict.fromkeys(env_ids)) or "learning curve"
    return plot_curves(xy_list, xaxis, title, labels=labels, smooth=smooth)


def save_figure(figure: Any, output: str | os.PathLike[str]) -> None:
    """Write a figure to a picture file (the format follows the extension: ``.png``, ``.svg``, ``.pdf``).

    :param figure: a ``matplotlib.figure.Figure``
    :param output: the file (its folder is created)
    """
    folder = os.path.dirname(os.fspath(output))
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(output)
