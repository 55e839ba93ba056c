"""``action_probability``: the policy's action distribution, or the probability of given actions,
in Stable Baselines 2's shapes (NumPy only; the policy computes the distribution's parameters).

What a policy's ``action_proba(observations)`` returns for a batch of ``n`` observations, by
action space (Stable Baselines 2's ``proba_step``):

- ``Discrete(k)``: probabilities, ``(n, k)``;
- ``MultiDiscrete(nvec)``: one ``(n, nvec[i])`` array of probabilities per dimension, in a list;
- ``MultiBinary(k)``: the probability of each bit being 1, ``(n, k)``;
- ``Box``: ``[mean, std]`` of the diagonal Gaussian, each ``(n, *shape)``.

:func:`probability_of_actions` turns that into the probability (mass, or density for ``Box``) of
given actions, ``(n, 1)``. To support another space, add a function to :data:`ACTION_PROBABILITY`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

#: What a policy's ``action_proba`` returns: an array, or a list of arrays (see the module doc).
ActionProba = Any
#: ``(space, proba, actions) -> (probability, log_probability)``; one of the two may be None.
ProbabilityFn = Callable[..., tuple[np.ndarray | None, np.ndarray | None]]


def _discrete(space: gymnasium.spaces.Discrete, proba: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, None]:
    indices = _integer_actions(actions.reshape(-1) - int(space.start), int(space.n), space)
    _check_batch(len(proba), len(indices))
    return proba[np.arange(len(indices)), indices], None


def _multi_discrete(space: gymnasium.spaces.MultiDiscrete, proba: list[np.ndarray],
                    actions: np.ndarray) -> tuple[np.ndarray, None]:
    nvec = np.asarray(space.nvec).reshape(-1)
    actions = actions.reshape((-1, len(nvec))) - np.asarray(space.start).reshape(-1)
    _check_batch(len(proba[0]), len(actions))
    rows = np.arange(len(actions))
    per_dimension = [dimension_proba[rows, _integer_actions(actions[:, index], int(nvec[index]), space)]
                     for index, dimension_proba in enumerate(proba)]
    return np.prod(per_dimension, axis=0), None


def _multi_binary(space: gymnasium.spaces.MultiBinary, proba: np.ndarray,
                  actions: np.ndarray) -> tuple[np.ndarray, None]:
    actions = actions.reshape((-1, int(np.prod(space.shape or ()))))
    _check_batch(len(proba), len(actions))
    if not np.isin(actions, (0, 1)).all():
        raise ValueError(f"MultiBinary actions must be 0 or 1, received {actions.tolist()}")
    proba = proba.reshape((len(proba), -1))
    return np.prod(proba * actions + (1 - proba) * (1 - actions), axis=1), None


def _box(space: gymnasium.spaces.Box, proba: list[np.ndarray], actions: np.ndarray) -> tuple[None, np.ndarray]:
    action_dim = int(np.prod(space.shape or ()))
    mean = np.asarray(proba[0]).reshape((-1, action_dim))
    std = np.asarray(proba[1]).reshape((-1, action_dim))
    actions = actions.reshape((-1, action_dim))
    _check_batch(len(mean), len(actions))
    log_normalizer = action_dim / 2.0 * np.log(2.0 * np.pi) + np.sum(np.log(std), axis=1)
    return None, -np.sum(np.square(actions - mean) / (2.0 * np.square(std)), axis=1) - log_normalizer


#: The probability of given actions, by action space type.
ACTION_PROBABILITY: dict[type[gymnasium.Space], ProbabilityFn] = {
    gymnasium.spaces.Discrete: _discrete,
    gymnasium.spaces.MultiDiscrete: _multi_discrete,
    gymnasium.spaces.MultiBinary: _multi_binary,
    gymnasium.spaces.Box: _box,
}


def probability_of_actions(space: gymnasium.Space, proba: ActionProba, actions: Any, logp: bool = False) -> np.ndarray:
    """The probability (density, for ``Box``) of each given action under the distribution ``proba``.

    >>> space = gymnasium.spaces.Discrete(3)
    >>> probability_of_actions(space, np.array([[0.2, 0.3, 0.5]]), [2]).tolist()
    [[0.5]]

    :param space: the action space
    :param proba: the distribution for ``n`` observations, as the policy's ``action_proba`` returns it
    :param actions: ``n`` actions (or one, for one observation)
    :param logp: return log-probabilities
    :return: ``(n, 1)``
    """
    probability_fn = ACTION_PROBABILITY.get(type(space))
    if probability_fn is None:
        raise ValueError(f"action_probability is not defined for {type(space).__name__} action spaces; "
                         f"supported: {', '.join(cls.__name__ for cls in ACTION_PROBABILITY)}")
    probability, log_probability = probability_fn(space, proba, np.asarray(actions))
    if logp:
        result = log_probability if log_probability is not None else np.log(np.asarray(probability))
    else:
        result = probability if probability is not None else np.exp(np.asarray(log_probability))
    return np.asarray(result).reshape((-1, 1))


def first_of_batch(proba: ActionProba) -> ActionProba:
    """The distribution of the first observation of a batch (the answer for one observation).

    :param proba: an array, or a list of arrays, with a leading batch dimension
    :return: the same structure without the batch dimension
    """
    if isinstance(proba, (list, tuple)):
        return [np.asarray(part)[0] for part in proba]
    return np.asarray(proba)[0]


def _integer_actions(actions: np.ndarray, n: int, space: Any) -> np.ndarray:
    if actions.dtype.kind not in "iub" and not np.array_equal(actions, np.round(actions)):
        raise ValueError(f"actions of a {space} space must be integers, received {actions.tolist()}")
    indices = actions.astype(np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"actions outside the action space {space}: {actions.tolist()}")
    return indices


def _check_batch(n_observations: int, n_actions: int) -> None:
    if n_observations != n_actions:
        raise ValueError(f"batch sizes differ: {n_observations} observations, {n_actions} actions")
