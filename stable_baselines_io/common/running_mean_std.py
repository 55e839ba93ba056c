"""Running mean and variance of a stream of arrays (Stable Baselines 2's ``RunningMeanStd``; NumPy only).

Batches are merged with the parallel-variance formula (Chan et al.), exactly as Stable Baselines 2
did, so statistics continued here from one of its files are the ones it would have computed.

>>> rms = RunningMeanStd(shape=(2,))
>>> rms.update(np.array([[1.0, 2.0], [3.0, 4.0]]))
>>> rms.mean.round(3), rms.count
(array([2., 3.]), 2.0001)
"""

from __future__ import annotations

import numpy as np

from stable_baselines_io.format.normalization import INITIAL_COUNT


class RunningMeanStd:
    """The running mean, variance and count of the arrays given to :meth:`update`.

    :param epsilon: the initial count (keeps the first merge finite)
    :param shape: the shape of one element of the stream
    """

    def __init__(self, epsilon: float = INITIAL_COUNT, shape: tuple[int, ...] = ()):
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, arr: np.ndarray) -> None:
        """Merge a batch (its first axis is the batch axis).

        :param arr: the batch
        """
        arr = np.asarray(arr)
        self.update_from_moments(np.mean(arr, axis=0), np.var(arr, axis=0), arr.shape[0])

    def update_from_moments(self, batch_mean: np.ndarray, batch_var: np.ndarray, batch_count: float) -> None:
        """Merge a batch given by its mean, variance and size.

        :param batch_mean: the batch's mean
        :param batch_var: the batch's (population) variance
        :param batch_count: the batch's size
        """
        delta = batch_mean - self.mean
        total_count = self.count + batch_count
        new_mean = self.mean + delta * batch_count / total_count
        m_a = self.var * self.count
        m_b = batch_var * batch_count
        m_2 = m_a + m_b + np.square(delta) * self.count * batch_count / (self.count + batch_count)
        self.mean = new_mean
        self.var = m_2 / (self.count + batch_count)
        self.count = batch_count + self.count

    def copy(self) -> RunningMeanStd:
        """:return: an independent copy"""
        other = RunningMeanStd(self.count, self.mean.shape)
        other.mean, other.var = self.mean.copy(), self.var.copy()
        return other
