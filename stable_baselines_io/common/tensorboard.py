"""TensorBoard event files of ``learn``, with Stable Baselines 2's run folders and scalar names.

A model built with ``tensorboard_log=<folder>`` writes, during ``learn(..., tb_log_name=name)``,
into ``<folder>/<name>_<n>``: a ``learn`` with ``reset_num_timesteps=True`` opens the next run
number, one with ``reset_num_timesteps=False`` continues the last run's folder (Stable
Baselines 2's numbering). The step axis is the model's ``num_timesteps``, so a run that is saved,
loaded and continued has one step axis.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework.summary_pb2 import SummaryMetadata

#: Buckets of a histogram (TensorBoard's default).
HISTOGRAM_BUCKETS = 30


def _plugin_metadata(plugin_name: str) -> SummaryMetadata:
    """The metadata that tells TensorBoard which dashboard shows a summary."""
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin_name))


_SCALAR_METADATA = _plugin_metadata("scalars")
_HISTOGRAM_METADATA = _plugin_metadata("histograms")


def histogram_buckets(values: np.ndarray, bucket_count: int = HISTOGRAM_BUCKETS) -> np.ndarray:
    """TensorBoard's histogram tensor of ``values``: rows ``(left edge, right edge, count)``.

    :param values: any array
    :param bucket_count: number of equal-width buckets
    :return: a ``(bucket_count, 3)`` float64 array (one bucket when all values are equal)
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return np.zeros((0, 3))
    low, high = float(flat.min()), float(flat.max())
    if low == high:
        return np.array([[low - 0.5, high + 0.5, float(flat.size)]])
    counts, edges = np.histogram(flat, bins=bucket_count, range=(low, high))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def latest_run_id(log_folder: str | os.PathLike[str], tb_log_name: str) -> int:
    """The highest ``n`` of the folders ``<log_folder>/<tb_log_name>_<n>`` (0 when there is none).

    :param log_folder: the ``tensorboard_log`` folder
    :param tb_log_name: the run name
    :return: the highest run number
    """
    pattern = re.compile(rf"{re.escape(tb_log_name)}_(\d+)")
    folder = Path(log_folder)
    if not folder.is_dir():
        return 0
    run_ids = [int(match.group(1)) for path in folder.iterdir()
               if path.is_dir() and (match := pattern.fullmatch(path.name))]
    return max(run_ids, default=0)


def run_folder(log_folder: str | os.PathLike[str], tb_log_name: str, new_run: bool) -> Path:
    """The folder a ``learn`` call writes its events into.

    :param log_folder: the ``tensorboard_log`` folder
    :param tb_log_name: the run name
    :param new_run: open the next run number (``reset_num_timesteps=True``), else continue the
        last one (or open run 1 when there is none)
    :return: ``<log_folder>/<tb_log_name>_<n>``
    """
    run_id = latest_run_id(log_folder, tb_log_name)
    if new_run or run_id == 0:
        run_id += 1
    return Path(log_folder) / f"{tb_log_name}_{run_id}"


class TensorBoardWriter:
    """Writes scalars and histograms to one run folder with ``tf.summary``.

    Summaries are written with ``tf.summary.write`` and TensorBoard's plugin metadata, so the
    ``tensorboard`` package is needed to view the files, not to write them.

    :param folder: the run folder (created)
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer = tf.summary.create_file_writer(str(self.folder))

    def record_scalars(self, values: Mapping[str, float], step: int) -> None:
        """Write ``name -> value`` at ``step`` (NaN values are skipped).

        :param values: the scalars
        :param step: the step (the model's ``num_timesteps``)
        """
        with self._writer.as_default():
            for name, value in values.items():
                if value == value:
                    tf.summary.write(name, tf.constant(float(value), dtype=tf.float32), step=step,
                                     metadata=_SCALAR_METADATA)

    def record_histograms(self, variables: Iterable[tf.Variable], step: int) -> None:
        """Write a histogram of each variable, under its name without ``:0``.

        :param variables: the variables
        :param step: the step
        """
        with self._writer.as_default():
            for variable in variables:
                tf.summary.write(variable.name.split(":")[0], histogram_buckets(variable.numpy()), step=step,
                                 metadata=_HISTOGRAM_METADATA)

    def flush(self) -> None:
        """Write what is buffered to the event file."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()


#: Stable Baselines 2's TensorBoard names of the statistics the training loops collect for their
#: table (the keys of ``_train``'s statistics and of the table); a key not listed is not written.
TENSORBOARD_NAMES: dict[str, str] = {
    "pg_loss": "loss/policy_gradient_loss",
    "vf_loss": "loss/value_function_loss",
    "entropy_loss": "loss/entropy_loss",
    "entropy": "loss/entropy_loss",
    "approx_kl": "loss/approximate_kullback-leibler",
    "clip_fraction": "loss/clip_factor",
    "loss": "loss/loss",
    "td_error": "loss/td_error",
    "learning_rate": "input_info/learning_rate",
    "discounted_rewards": "input_info/discounted_rewards",
    "advantage": "input_info/advantage",
    "explained_variance": "explained_variance",
    "exploration_rate": "exploration_rate",
}


class TensorBoardLogging:
    """What the training loops of both bases write to TensorBoard (mixed into them).

    ``tensorboard_log`` and ``full_tensorboard_log`` are saved in the data as plain values, as
    Stable Baselines 2 did: the folder is only opened by ``learn``, so a file saved on another
    machine loads anywhere, and ``load(path, tensorboard_log=...)`` replaces it.
    """

    #: The folder of the runs' event files (None: no TensorBoard).
    tensorboard_log: str | None = None
    #: Also write histograms of the trained variables.
    full_tensorboard_log: bool = False
    #: The open run of the current ``learn`` call (None outside ``learn`` or without ``tensorboard_log``).
    _tensorboard_writer: TensorBoardWriter | None = None
    num_timesteps: int

    def _start_tensorboard(self, tb_log_name: str, reset_num_timesteps: bool) -> None:
        """Open the run folder of a ``learn`` call (see :func:`run_folder`).

        :param tb_log_name: the run name
        :param reset_num_timesteps: open a new run rather than continue the last one
        """
        self._tensorboard_writer = None
        if self.tensorboard_log is not None:
            self._tensorboard_writer = TensorBoardWriter(run_folder(self.tensorboard_log, tb_log_name,
                                                                    new_run=reset_num_timesteps))

    def _stop_tensorboard(self) -> None:
        """Close the run of the ``learn`` call that ends."""
        if self._tensorboard_writer is not None:
            self._tensorboard_writer.close()
            self._tensorboard_writer = None

    def _log_episode_rewards(self, infos: Iterable[Mapping[str, Any]]) -> None:
        """Write ``episode_reward`` for each episode that ended at this step, at the current step.

        :param infos: the step's infos (a finished episode's has ``"episode": {"r": ..., "l": ...}``)
        """
        if self._tensorboard_writer is not None:
            for info in infos:
                if "episode" in info:
                    self._tensorboard_writer.record_scalars({"episode_reward": info["episode"]["r"]},
                                                            self.num_timesteps)

    def _log_statistics(self, statistics: Mapping[str, float], variables: Iterable[tf.Variable]) -> None:
        """Write the statistics of :data:`TENSORBOARD_NAMES` under Stable Baselines 2's names, and
        with ``full_tensorboard_log`` the histograms of ``variables``.

        :param statistics: the loop's statistics by their table keys (arrays and tensors are averaged)
        :param variables: the trained variables
        """
        writer = self._tensorboard_writer
        if writer is None:
            return
        named = {TENSORBOARD_NAMES[key]: float(np.mean(value)) for key, value in statistics.items()
                 if key in TENSORBOARD_NAMES}
        writer.record_scalars(named, self.num_timesteps)
        if self.full_tensorboard_log:
            writer.record_histograms(variables, self.num_timesteps)
