"""Action distributions of actor-critic policies, with the formulas Stable Baselines 2 used.

Sampling draws from a ``tf.random.Generator`` passed in by the caller, so a seeded model
samples the same actions on every run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf


class CategoricalDistribution:
    """A categorical distribution over ``n`` actions, parametrised by unnormalised logits.

    :param logits: shape ``(batch, n)``
    """

    def __init__(self, logits: tf.Tensor):
        self.logits = logits

    def mode(self) -> tf.Tensor:
        """:return: the most likely action of each row, int64 ``(batch,)``"""
        return tf.argmax(self.logits, axis=-1)

    def probabilities(self) -> tf.Tensor:
        """:return: the probability of each action, ``(batch, n)``"""
        return tf.nn.softmax(self.logits)

    def sample(self, generator: tf.random.Generator) -> tf.Tensor:
        """Gumbel-max sampling, as in Stable Baselines 2.

        :param generator: the source of randomness
        :return: int64 ``(batch,)``
        """
        # The lower bound keeps log(-log(u)) finite.
        uniform = generator.uniform(tf.shape(self.logits), minval=1e-12, maxval=1.0, dtype=self.logits.dtype)
        return tf.argmax(self.logits - tf.math.log(-tf.math.log(uniform)), axis=-1)

    def neglogp(self, actions: tf.Tensor) -> tf.Tensor:
        """:param actions: int ``(batch,)``
        :return: ``-log p(actions)``, ``(batch,)``"""
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(actions, tf.int64), logits=self.logits)

    def entropy(self) -> tf.Tensor:
        """:return: the entropy of each row, ``(batch,)``"""
        shifted = self.logits - tf.reduce_max(self.logits, axis=-1, keepdims=True)
        exp_shifted = tf.exp(shifted)
        normaliser = tf.reduce_sum(exp_shifted, axis=-1, keepdims=True)
        probabilities = exp_shifted / normaliser
        return tf.reduce_sum(probabilities * (tf.math.log(normaliser) - shifted), axis=-1)


class DiagGaussianDistribution:
    """A Gaussian with diagonal covariance over flat continuous actions.

    :param mean: shape ``(batch, action_dim)``
    :param logstd: shape ``(1, action_dim)`` (state independent, broadcast over the batch)
    """

    def __init__(self, mean: tf.Tensor, logstd: tf.Tensor):
        self.mean = mean
        # Broadcast to the batch so every method returns one value per row.
        self.logstd = mean * 0.0 + logstd
        self.std = tf.exp(self.logstd)

    def mode(self) -> tf.Tensor:
        """:return: the mean, ``(batch, action_dim)``"""
        return self.mean

    def probabilities(self) -> list[tf.Tensor]:
        """:return: ``[mean, std]``, each ``(batch, action_dim)``"""
        return [self.mean, self.std]

    def sample(self, generator: tf.random.Generator) -> tf.Tensor:
        """:param generator: the source of randomness
        :return: ``(batch, action_dim)``"""
        return self.mean + self.std * generator.normal(tf.shape(self.mean), dtype=self.mean.dtype)

    def neglogp(self, actions: tf.Tensor) -> tf.Tensor:
        """:param actions: ``(batch, action_dim)``
        :return: ``-log p(actions)``, ``(batch,)``"""
        action_dim = tf.cast(tf.shape(actions)[-1], actions.dtype)
        return (
            0.5 * tf.reduce_sum(tf.square((actions - self.mean) / self.std), axis=-1)
            + 0.5 * math.log(2.0 * math.pi) * action_dim
            + tf.reduce_sum(self.logstd, axis=-1)
        )

    def entropy(self) -> tf.Tensor:
        """:return: the entropy of each row, ``(batch,)``"""
        return tf.reduce_sum(self.logstd + 0.5 * math.log(2.0 * math.pi * math.e), axis=-1)


class MultiCategoricalDistribution:
    """Independent categorical distributions, one per dimension of a ``MultiDiscrete`` action.

    The logits of every dimension are concatenated, as Stable Baselines 2's ``pi`` layer outputs
    them (``sum(nvec)`` units); log-probabilities and entropies are summed over the dimensions.

    :param logits: shape ``(batch, sum(nvec))``
    :param nvec: the number of choices of each dimension
    """

    def __init__(self, logits: tf.Tensor, nvec: Sequence[int]):
        self.logits = logits
        self.nvec = [int(n) for n in nvec]
        self.categoricals = [CategoricalDistribution(part) for part in tf.split(logits, self.nvec, axis=-1)]

    def mode(self) -> tf.Tensor:
        """:return: the most likely choice of each dimension, int64 ``(batch, len(nvec))``"""
        return tf.stack([categorical.mode() for categorical in self.categoricals], axis=-1)

    def probabilities(self) -> list[tf.Tensor]:
        """:return: one ``(batch, nvec[i])`` tensor of probabilities per dimension"""
        return [categorical.probabilities() for categorical in self.categoricals]

    def sample(self, generator: tf.random.Generator) -> tf.Tensor:
        """:param generator: the source of randomness
        :return: int64 ``(batch, len(nvec))``"""
        return tf.stack([categorical.sample(generator) for categorical in self.categoricals], axis=-1)

    def neglogp(self, actions: tf.Tensor) -> tf.Tensor:
        """:param actions: int ``(batch, len(nvec))``
        :return: ``-log p(actions)``, summed over the dimensions, ``(batch,)``"""
        return tf.add_n([categorical.neglogp(actions[:, index])
                         for index, categorical in enumerate(self.categoricals)])

    def entropy(self) -> tf.Tensor:
        """:return: the entropy of each row, summed over the dimensions, ``(batch,)``"""
        return tf.add_n([categorical.entropy() for categorical in self.categoricals])


class BernoulliDistribution:
    """Independent Bernoulli distributions, one per bit of a ``MultiBinary`` action.

    :param logits: shape ``(batch, n)``, the log-odds of each bit being 1
    """

    def __init__(self, logits: tf.Tensor):
        self.logits = logits
        self.probs = tf.sigmoid(logits)

    def mode(self) -> tf.Tensor:
        """:return: the rounded probabilities (0.5 rounds to 0, as in Stable Baselines 2), int64 ``(batch, n)``"""
        return tf.cast(tf.round(self.probs), tf.int64)

    def probabilities(self) -> tf.Tensor:
        """:return: the probability of each bit being 1, ``(batch, n)``"""
        return self.probs

    def sample(self, generator: tf.random.Generator) -> tf.Tensor:
        """:param generator: the source of randomness
        :return: int64 ``(batch, n)``"""
        uniform = generator.uniform(tf.shape(self.probs), dtype=self.probs.dtype)
        return tf.cast(uniform < self.probs, tf.int64)

    def neglogp(self, actions: tf.Tensor) -> tf.Tensor:
        """:param actions: 0 / 1 ``(batch, n)``
        :return: ``-log p(actions)``, summed over the bits, ``(batch,)``"""
        labels = tf.cast(actions, self.logits.dtype)
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=self.logits), axis=-1)

    def entropy(self) -> tf.Tensor:
        """:return: the entropy of each row, summed over the bits, ``(batch,)``"""
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=self.probs, logits=self.logits), axis=-1)


Distribution = CategoricalDistribution | MultiCategoricalDistribution | BernoulliDistribution | DiagGaussianDistribution
