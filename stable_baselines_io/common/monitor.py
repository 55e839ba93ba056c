"""Episode statistics of an environment, logged to ``monitor.csv``: Stable Baselines 2's ``bench.Monitor``.

A monitor file starts with one JSON line, then CSV rows, one per finished episode::

    #{"t_start": 1700000000.123, "env_id": "CartPole-v1"}
    r,l,t
    21.0,21,0.012345

``r`` is the episode's return, ``l`` its length, ``t`` the seconds from ``t_start`` to its end
(then any ``reset_keywords`` and ``info_keywords`` columns). :func:`load_results` reads every
``*monitor.csv`` of a folder. No TensorFlow here, and no pandas (:meth:`MonitorResults.to_pandas`
converts when pandas is installed).
"""

from __future__ import annotations

import csv
import functools
import glob
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, SupportsFloat, TextIO

import gymnasium
import numpy as np

from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import EnvApiMismatchError, MonitorResultsError

#: The end of every monitor file name.
MONITOR_EXTENSION = "monitor.csv"


class Monitor(gymnasium.Wrapper):
    """Records each episode's return, length and time, in ``info["episode"]`` and in a CSV file.

    >>> env = Monitor(gymnasium.make("CartPole-v1"), filename=None)
    >>> _ = env.reset(seed=0)

    :param env: the environment
    :param filename: where to write; ``None`` for no file; a folder gets ``folder/monitor.csv``;
        a name not ending in ``monitor.csv`` gets ``.monitor.csv`` appended (``runs/0`` ->
        ``runs/0.monitor.csv``); missing folders are created
    :param allow_early_resets: allow ``reset()`` before the episode is over (its statistics are
        then not recorded)
    :param reset_keywords: keys that every ``reset(options={...})`` must give; their values are
        written as columns of the episode (gymnasium passes reset arguments in ``options``)
    :param info_keywords: keys of the last step's ``info`` written as columns of the episode
    """

    def __init__(
        self,
        env: gymnasium.Env,
        filename: str | os.PathLike[str] | None = None,
        allow_early_resets: bool = True,
        reset_keywords: Sequence[str] = (),
        info_keywords: Sequence[str] = (),
    ):
        if isinstance(env, (VecEnv, gymnasium.vector.VectorEnv)):
            raise EnvApiMismatchError(
                f"Monitor wraps one gymnasium env, received a vectorized env ({type(env).__name__}): "
                "wrap each env in Monitor before vectorizing it (make_monitored_vec_env does)"
            )
        super().__init__(env)
        self.t_start = time.time()
        self.reset_keywords = tuple(reset_keywords)
        self.info_keywords = tuple(info_keywords)
        self.allow_early_resets = allow_early_resets
        self.filename = None if filename is None else monitor_file_name(filename)
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        if self.filename is not None:
            os.makedirs(os.path.dirname(self.filename) or ".", exist_ok=True)
            self._file = open(self.filename, "w", newline="", encoding="utf-8")
            env_id = env.spec.id if env.spec is not None else None
            self._file.write("#" + json.dumps({"t_start": self.t_start, "env_id": env_id}) + "\n")
            self._writer = csv.DictWriter(self._file, fieldnames=("r", "l", "t", *self.reset_keywords,
                                                                  *self.info_keywords))
            self._writer.writeheader()
            self._file.flush()
        self.needs_reset = True
        self.rewards: list[float] = []
        self.episode_rewards: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_times: list[float] = []
        self.total_steps = 0
        self.current_reset_info: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the environment; refused mid-episode unless ``allow_early_resets``.

        :param seed: passed to the environment
        :param options: passed to the environment; holds the ``reset_keywords`` values
        :return: the first observation and the info
        """
        if not self.allow_early_resets and not self.needs_reset:
            raise RuntimeError("Tried to reset an environment before done. If you want to allow early resets, "
                               "wrap your env with Monitor(env, path, allow_early_resets=True)")
        for key in self.reset_keywords:
            if options is None or options.get(key) is None:
                raise ValueError(f"expected reset(options={{{key!r}: ...}}): {key!r} is one of the monitor's "
                                 f"reset_keywords {list(self.reset_keywords)}")
            self.current_reset_info[key] = options[key]
        self.rewards = []
        self.needs_reset = False
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the environment; at the end of an episode, record it and add ``info["episode"]``.

        :param action: the action
        :return: observation, reward, terminated, truncated, info
        """
        if self.needs_reset:
            raise RuntimeError("Tried to step environment that needs reset")
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.rewards.append(float(reward))
        self.total_steps += 1
        if terminated or truncated:
            self.needs_reset = True
            episode_reward, episode_length = sum(self.rewards), len(self.rewards)
            elapsed = time.time() - self.t_start
            episode = {"r": round(episode_reward, 6), "l": episode_length, "t": round(elapsed, 6)}
            for key in self.info_keywords:
                if key not in info:
                    raise KeyError(f"info_keywords: the last step's info has no {key!r}; it has {sorted(info)}")
                episode[key] = info[key]
            episode.update(self.current_reset_info)
            self.episode_rewards.append(episode_reward)
            self.episode_lengths.append(episode_length)
            self.episode_times.append(elapsed)
            if self._writer is not None and self._file is not None:
                self._writer.writerow(episode)
                self._file.flush()
            info = {**info, "episode": episode}
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        """Close the environment and the file."""
        super().close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def get_total_steps(self) -> int:
        """:return: steps taken over all episodes"""
        return self.total_steps

    def get_episode_rewards(self) -> list[float]:
        """:return: the return of each finished episode"""
        return self.episode_rewards

    def get_episode_lengths(self) -> list[int]:
        """:return: the length of each finished episode"""
        return self.episode_lengths

    def get_episode_times(self) -> list[float]:
        """:return: seconds from the monitor's creation to the end of each finished episode"""
        return self.episode_times


def monitor_file_name(filename: str | os.PathLike[str]) -> str:
    """The file a :class:`Monitor` writes for ``filename`` (see its ``filename`` parameter).

    :param filename: a folder, a file name, or a prefix
    :return: the monitor file's path
    """
    name = os.fspath(filename)
    if name.endswith(MONITOR_EXTENSION):
        return name
    if os.path.isdir(name):
        return os.path.join(name, MONITOR_EXTENSION)
    return f"{name}.{MONITOR_EXTENSION}"


def make_monitored_vec_env(env_id: str, n_envs: int, monitor_dir: str | os.PathLike[str]) -> VecEnv:
    """``n_envs`` copies of a gymnasium env, each with a :class:`Monitor` writing
    ``monitor_dir/{rank}.monitor.csv`` (the layout of Stable Baselines 2's ``make_vec_env``).

    :param env_id: the gymnasium env id
    :param n_envs: number of copies
    :param monitor_dir: the run's folder (created)
    :return: the vectorized environment
    """
    return VecEnv([env_fn() for env_fn in monitored_env_factories(env_id, n_envs, monitor_dir)])


def monitored_env_factories(env_id: str, n_envs: int,
                            monitor_dir: str | os.PathLike[str]) -> list[Callable[[], Monitor]]:
    """The factories of :func:`make_monitored_vec_env`'s environments, to build them elsewhere (in
    Ray actors: :func:`~stable_baselines_io.distributed.ray_vec_env.make_ray_vec_env`); picklable.

    :param env_id: the gymnasium env id
    :param n_envs: number of copies
    :param monitor_dir: the run's folder (created now)
    :return: one factory per environment
    """
    os.makedirs(monitor_dir, exist_ok=True)
    return [functools.partial(_monitored_env, env_id, os.path.join(monitor_dir, str(rank))) for rank in range(n_envs)]


def _monitored_env(env_id: str, filename: str) -> Monitor:
    return Monitor(gymnasium.make(env_id), filename)


@dataclass
class MonitorResults:
    """The episodes of every monitor file of a folder, sorted by end time.

    :param r: episode returns
    :param l: episode lengths
    :param t: seconds from the earliest file's ``t_start`` to each episode's end
    :param extra: the other columns (reset and info keywords), as strings
    :param headers: each file's JSON header
    """

    r: np.ndarray
    l: np.ndarray  # noqa: E741 (Stable Baselines' column name)
    t: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    headers: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.r)

    def to_pandas(self) -> Any:
        """The results as a ``pandas.DataFrame`` with columns ``r``, ``l``, ``t`` (and the extra
        ones), as Stable Baselines 2's ``load_results`` returned. Needs pandas.

        :return: the data frame
        """
        import pandas

        return pandas.DataFrame({"r": self.r, "l": self.l, "t": self.t, **self.extra})


def get_monitor_files(path: str | os.PathLike[str]) -> list[str]:
    """The monitor files of a folder.

    :param path: the folder
    :return: the paths of its ``*monitor.csv`` files, sorted
    """
    return sorted(glob.glob(os.path.join(glob.escape(os.fspath(path)), "*" + MONITOR_EXTENSION)))


def load_results(path: str | os.PathLike[str]) -> MonitorResults:
    """Read every ``*monitor.csv`` of a folder (several environments of one run) into one table.

    >>> results = load_results("agents/ppo-cartpole")  # doctest: +SKIP
    >>> timesteps = np.cumsum(results.l)  # doctest: +SKIP

    :param path: the folder
    :return: the episodes, sorted by end time
    :raises MonitorResultsError: no monitor file, or one that is not a monitor file
    """
    files = get_monitor_files(path)
    if not files:
        raise MonitorResultsError(f"no monitor files of the form *{MONITOR_EXTENSION} found in {os.fspath(path)!r}")
    headers, rows = [], []
    for file_name in files:
        header, file_rows = _read_monitor_file(file_name)
        headers.append(header)
        rows += [(row, header["t_start"]) for row in file_rows]
    t_zero = min(header["t_start"] for header in headers)
    rows.sort(key=lambda item: float(item[0]["t"]) + item[1])
    extra_names = sorted({name for row, _ in rows for name in row} - {"r", "l", "t"})
    return MonitorResults(
        r=np.array([float(row["r"]) for row, _ in rows], dtype=np.float64),
        l=np.array([int(row["l"]) for row, _ in rows], dtype=np.int64),
        t=np.array([float(row["t"]) + t_start - t_zero for row, t_start in rows], dtype=np.float64),
        extra={name: np.array([row.get(name, "") for row, _ in rows]) for name in extra_names},
        headers=headers,
    )


def _read_monitor_file(file_name: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    with open(file_name, encoding="utf-8", newline="") as file:
        first_line = file.readline()
        try:
            if not first_line.startswith("#"):
                raise ValueError("the first line does not start with '#'")
            header = json.loads(first_line[1:])
            float(header["t_start"])
            rows = list(csv.DictReader(file))
            for number, row in enumerate(rows, start=3):
                if None in row or any(row.get(column) in (None, "") for column in ("r", "l", "t")):
                    raise ValueError(f"line {number} does not have the r, l, t columns: {row}")
                _ = (float(row["r"]), int(row["l"]), float(row["t"]))
        except (ValueError, KeyError, TypeError) as error:
            raise MonitorResultsError(f"{file_name!r} is not a monitor file (a '#{{\"t_start\": ...}}' line, "
                                      f"then CSV rows r,l,t): {error}") from error
    return header, rows
