"""Observations as network inputs: one flat float32 feature vector per observation.

=====================  =================================  ==========================
space                  network input                      features
=====================  =================================  ==========================
``Box``                the values, cast to float32        ``prod(shape)``
``Discrete``           one-hot                            ``n``
``MultiBinary``        the bits, cast to float32          ``prod(shape)``
``MultiDiscrete``      the one-hots, concatenated         ``sum(nvec)``
=====================  =================================  ==========================

Observations enter ``tf.function``\\ s in the space's own dtype (see :func:`observation_spec`)
and are turned into features inside the graph by :func:`preprocess_observations`.

>>> import gymnasium
>>> space = gymnasium.spaces.Discrete(3)
>>> preprocess_observations(tf.constant([2]), space).numpy()
array([[0., 0., 1.]], dtype=float32)
"""

from __future__ import annotations

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.exceptions import UnsupportedSpaceError

SUPPORTED_OBSERVATION_SPACES = (
    gymnasium.spaces.Box,
    gymnasium.spaces.Discrete,
    gymnasium.spaces.MultiBinary,
    gymnasium.spaces.MultiDiscrete,
)


def check_observation_space(space: gymnasium.Space) -> None:
    """Raise unless ``space`` is one this module can preprocess.

    :param space: the observation space
    """
    if not isinstance(space, SUPPORTED_OBSERVATION_SPACES):
        raise UnsupportedSpaceError(
            f"observation space {space} is not supported: expected one of "
            f"{[cls.__name__ for cls in SUPPORTED_OBSERVATION_SPACES]}"
        )


def observation_spec(space: gymnasium.Space) -> tf.TensorSpec:
    """The input signature of a batch of observations: the space's shape and dtype, batch first.

    :param space: the observation space
    :return: the tensor spec
    """
    check_observation_space(space)
    return tf.TensorSpec((None, *_shape(space)), tf.as_dtype(space.dtype))


def observations_to_array(observations: np.ndarray, space: gymnasium.Space) -> np.ndarray:
    """A batch of observations as an array of the space's dtype, ready for :func:`observation_spec`.

    :param observations: the batch (leading batch dimension)
    :param space: the observation space
    :return: the batch, in the space's dtype
    """
    return np.asarray(observations, dtype=space.dtype).reshape((-1, *_shape(space)))


def flat_dim(space: gymnasium.Space) -> int:
    """Number of features :func:`preprocess_observations` makes of one observation.

    :param space: the observation space
    :return: the feature count
    """
    check_observation_space(space)
    if isinstance(space, gymnasium.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    return int(np.prod(_shape(space)))


def preprocess_observations(observations: tf.Tensor, space: gymnasium.Space) -> tf.Tensor:
    """Turn a batch of observations into float32 features of shape ``(batch, flat_dim(space))``.

    :param observations: the batch, as described by :func:`observation_spec`
    :param space: the observation space
    :return: the features
    """
    check_observation_space(space)
    if isinstance(space, gymnasium.spaces.Discrete):
        return tf.one_hot(tf.cast(observations, tf.int32) - int(space.start), int(space.n), dtype=tf.float32)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        starts = np.asarray(space.start).reshape(-1)
        indices = tf.reshape(tf.cast(observations, tf.int32), (-1, len(nvec))) - starts.astype(np.int32)
        return tf.concat([tf.one_hot(indices[:, i], int(n), dtype=tf.float32) for i, n in enumerate(nvec)], axis=-1)
    features = tf.cast(observations, tf.float32)
    n_features = flat_dim(space)
    if features.shape.rank == 2 and features.shape[1] == n_features:
        return features  # flat already: an eager reshape costs as much as a layer
    return tf.reshape(features, (-1, n_features))


def _shape(space: gymnasium.Space) -> tuple[int, ...]:
    return tuple(space.shape or ())
