"""Replay buffers for off-policy algorithms: preallocated NumPy arrays, no TensorFlow here.

A buffer is circular: once ``buffer_size`` transitions are stored, each new one overwrites the
oldest. Sampling draws from a NumPy ``Generator`` the caller owns, so runs are reproducible.
:meth:`ReplayBuffer.get_state` hands out the whole contents as plain arrays and ints (no pickle
needed to store them) and :meth:`ReplayBuffer.set_state` puts them back:

>>> import numpy as np
>>> buffer = ReplayBuffer(3, observation_shape=(2,))
>>> for step in range(4):
...     buffer.add(np.full(2, step), step % 2, 1.0, np.full(2, step + 1), False)
>>> len(buffer), buffer.pos
(3, 1)
>>> batch = buffer.sample(5, np.random.default_rng(0))
>>> batch.observations.shape, batch.actions.shape
((5, 2), (5,))
>>> restored = ReplayBuffer(3, observation_shape=(2,))
>>> restored.set_state(buffer.get_state())
>>> np.array_equal(restored.observations, buffer.observations)
True

For files, :meth:`ReplayBuffer.metadata` (JSON-able facts: class, sizes, shapes, dtypes) and
:meth:`ReplayBuffer.to_arrays` (named arrays) split the same contents; :meth:`ReplayBuffer.from_arrays`
checks both against the buffer and reports every mismatch at once:

>>> restored = ReplayBuffer(3, observation_shape=(2,))
>>> restored.from_arrays(buffer.metadata(), buffer.to_arrays())
>>> restored.pos, len(restored)
(1, 3)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeGuard

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from stable_baselines_io.exceptions import ReplayBufferMismatchError

#: The arrays of a :class:`ReplayBuffer`, in the order :meth:`ReplayBuffer.get_state` lists them.
TRANSITION_KEYS = ("observations", "actions", "rewards", "next_observations", "dones")


class ReplayBatch(NamedTuple):
    """A sampled minibatch; every array starts with the requested batch shape.

    :param observations: observations ``o_t``
    :param actions: actions ``a_t``
    :param rewards: rewards ``r_t``
    :param next_observations: observations ``o_{t+1}`` (the terminal one when the episode ended)
    :param dones: 1.0 where the episode terminated at ``t + 1`` (bootstrap is cut), else 0.0
    :param weights: importance-sampling weights (ones for uniform sampling)
    :param indices: buffer positions of the transitions (to update priorities)
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    dones: np.ndarray
    weights: np.ndarray
    indices: np.ndarray


class ReplayBuffer:
    """Uniform experience replay over preallocated arrays.

    :param buffer_size: maximum number of transitions stored
    :param observation_shape: shape of one observation
    :param observation_dtype: dtype observations are stored in (that of the observation space)
    :param action_shape: shape of one action (``()`` for discrete actions)
    :param action_dtype: dtype actions are stored in
    """

    def __init__(
        self,
        buffer_size: int,
        observation_shape: tuple[int, ...],
        observation_dtype: DTypeLike = np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype: DTypeLike = np.int64,
    ):
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, received {buffer_size}")
        self.buffer_size = int(buffer_size)
        self.observations = np.zeros((self.buffer_size, *observation_shape), dtype=observation_dtype)
        self.actions = np.zeros((self.buffer_size, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(self.buffer_size, dtype=np.float32)
        self.next_observations = np.zeros_like(self.observations)
        self.dones = np.zeros(self.buffer_size, dtype=np.float32)
        #: Where the next transition is written.
        self.pos = 0
        #: How many transitions are stored.
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def can_sample(self, n_samples: int) -> bool:
        """Whether at least ``n_samples`` transitions are stored.

        :param n_samples: the minibatch size
        :return: True when sampling makes sense
        """
        return self.size >= n_samples

    def add(self, observation: ArrayLike, action: ArrayLike, reward: float, next_observation: ArrayLike,
            done: bool) -> None:
        """Store one transition.

        :param observation: ``o_t``
        :param action: ``a_t``
        :param reward: ``r_t``
        :param next_observation: ``o_{t+1}``
        :param done: whether the episode terminated at ``t + 1``
        """
        self.extend(
            np.asarray(observation)[None],
            np.asarray(action)[None],
            np.asarray([reward]),
            np.asarray(next_observation)[None],
            np.asarray([done]),
        )

    def extend(self, observations: ArrayLike, actions: ArrayLike, rewards: ArrayLike,
               next_observations: ArrayLike, dones: ArrayLike) -> np.ndarray:
        """Store a batch of transitions (e.g. one per environment), oldest first.

        :param observations: ``o_t``, shape ``(n, *observation_shape)``
        :param actions: ``a_t``
        :param rewards: ``r_t``
        :param next_observations: ``o_{t+1}``
        :param dones: whether each episode terminated at ``t + 1``
        :return: the buffer positions written
        """
        rewards = np.asarray(rewards)
        count = len(rewards)
        indices = (self.pos + np.arange(count)) % self.buffer_size
        # With more transitions than room, only the newest ``buffer_size`` survive anyway.
        keep = slice(max(count - self.buffer_size, 0), count)
        indices = indices[keep]
        self.observations[indices] = np.asarray(observations)[keep]
        self.actions[indices] = np.asarray(actions)[keep]
        self.rewards[indices] = rewards[keep]
        self.next_observations[indices] = np.asarray(next_observations)[keep]
        self.dones[indices] = np.asarray(dones)[keep]
        self.pos = (self.pos + count) % self.buffer_size
        self.size = min(self.size + count, self.buffer_size)
        return indices

    def sample(self, batch_size: int | tuple[int, ...], rng: np.random.Generator) -> ReplayBatch:
        """Draw transitions uniformly, with replacement.

        :param batch_size: number of transitions, or a batch shape such as
            ``(gradient_steps, batch_size)`` for several minibatches at once
        :param rng: the generator to draw from
        :return: the minibatch; ``weights`` are ones
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        indices = rng.integers(0, self.size, size=batch_size)
        return self._batch(indices, np.ones(indices.shape, dtype=np.float32))

    def _batch(self, indices: np.ndarray, weights: np.ndarray) -> ReplayBatch:
        return ReplayBatch(
            observations=self.observations[indices],
            actions=self.actions[indices],
            rewards=self.rewards[indices],
            next_observations=self.next_observations[indices],
            dones=self.dones[indices],
            weights=weights,
            indices=indices,
        )

    def get_state(self) -> dict[str, Any]:
        """The whole contents as plain data: the stored rows of each array, ``pos`` and ``size``.

        Rows ``0 .. size - 1`` are always the filled ones, so nothing else needs saving.

        :return: mapping with ``TRANSITION_KEYS`` arrays (copies), ``buffer_size``, ``pos``, ``size``
        """
        state: dict[str, Any] = {key: getattr(self, key)[: self.size].copy() for key in TRANSITION_KEYS}
        state.update(buffer_size=self.buffer_size, pos=self.pos, size=self.size)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the contents with those from :meth:`get_state` (of a buffer of the same layout).

        Every problem is reported at once and the buffer is unchanged on error.

        :param state: the mapping
        """
        problems = []
        missing = [key for key in (*self._state_keys(), "buffer_size", "pos", "size") if key not in state]
        if missing:
            raise ValueError(f"replay buffer state is missing the keys {missing}")
        size, pos = int(state["size"]), int(state["pos"])
        if int(state["buffer_size"]) != self.buffer_size:
            problems.append(f"buffer_size: expected {self.buffer_size}, received {state['buffer_size']}")
        if not 0 <= size <= self.buffer_size or not 0 <= pos < self.buffer_size:
            problems.append(f"pos/size out of range: pos={pos}, size={size}, buffer_size={self.buffer_size}")
        elif size < self.buffer_size and pos != size:
            problems.append(f"pos must equal size while the buffer is not full: pos={pos}, size={size}")
        for key in self._state_keys():
            expected = (size, *getattr(self, key).shape[1:])
            received = np.shape(state[key])
            if received != expected:
                problems.append(f"{key!r}: expected shape {expected}, received {received}")
        if problems:
            raise ValueError("cannot restore the replay buffer, nothing was changed: " + "; ".join(problems))
        for key in TRANSITION_KEYS:
            array = getattr(self, key)
            array[:] = 0
            array[:size] = state[key]
        self.pos, self.size = pos, size

    def _state_keys(self) -> tuple[str, ...]:
        return TRANSITION_KEYS

    # --- file form: JSON-able metadata + named arrays ---------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Everything but the arrays, as JSON-able values: the class, ``buffer_size``, ``pos``,
        ``size`` and the shape and dtype of one observation and one action.

        :return: mapping of plain values (ints, strings, lists)
        """
        return {
            "class": type(self).__name__,
            "buffer_size": self.buffer_size,
            "pos": self.pos,
            "size": self.size,
            "observation_shape": list(self.observations.shape[1:]),
            "observation_dtype": self.observations.dtype.name,
            "action_shape": list(self.actions.shape[1:]),
            "action_dtype": self.actions.dtype.name,
        }

    def to_arrays(self) -> OrderedDict[str, np.ndarray]:
        """The stored rows (``0 .. size - 1``) of every array, by name; with :meth:`metadata`, the
        whole contents.

        :return: ordered mapping name -> array (copies)
        """
        state = self.get_state()
        return OrderedDict((key, state[key]) for key in self._state_keys())

    def from_arrays(self, metadata: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                    source: str = "the stored replay buffer") -> None:
        """Replace the contents with those of :meth:`metadata` and :meth:`to_arrays` of a buffer of
        the same class, size, shapes and dtypes.

        Every problem is reported at once and the buffer is unchanged on error.

        :param metadata: the stored metadata
        :param arrays: the stored arrays
        :param source: what to name in errors (e.g. the file)
        :raises ReplayBufferMismatchError: the stored buffer does not fit this one
        """
        problems = []
        expected_metadata = self.metadata()
        missing = [key for key in expected_metadata if key not in metadata]
        if missing:
            problems.append(f"missing metadata keys {missing}")
        for key in self._layout_keys():
            if key in metadata and metadata[key] != expected_metadata[key]:
                problems.append(f"{key}: expected {expected_metadata[key]!r}, received {metadata[key]!r}")
        # The number of stored rows, when metadata gives a valid one: the arrays' expected length.
        size: int | None = None
        stored_size, stored_pos = metadata.get("size"), metadata.get("pos")
        if not _is_int(stored_size) or not _is_int(stored_pos):
            problems.append(f"pos and size must be integers, received pos={stored_pos!r}, size={stored_size!r}")
        elif not 0 <= stored_size <= self.buffer_size or not 0 <= stored_pos < self.buffer_size:
            problems.append(f"pos/size out of range: pos={stored_pos}, size={stored_size}, "
                            f"buffer_size={self.buffer_size}")
        else:
            size = int(stored_size)
            if size < self.buffer_size and stored_pos != size:
                problems.append(f"pos must equal size while the buffer is not full: pos={stored_pos}, size={size}")
        keys = self._state_keys()
        unknown = [key for key in arrays if key not in keys]
        absent = [key for key in keys if key not in arrays]
        if unknown:
            problems.append(f"unknown arrays {unknown}")
        if absent:
            problems.append(f"missing arrays {absent}")
        for key in keys:
            if key not in arrays:
                continue
            array = np.asarray(arrays[key])
            expected_dtype = self._array_dtype(key)
            row_shape = self._array_row_shape(key)
            if size is not None and array.shape != (size, *row_shape):
                problems.append(f"{key!r}: expected shape {(size, *row_shape)}, received {array.shape}")
            elif array.shape[1:] != row_shape:
                problems.append(f"{key!r}: expected rows of shape {row_shape}, received {array.shape[1:]}")
            if array.dtype != expected_dtype:
                problems.append(f"{key!r}: expected dtype {expected_dtype}, received {array.dtype}")
        problems.extend(self._check_extra_metadata(metadata))
        if problems:
            raise ReplayBufferMismatchError(
                f"cannot load {source} into this {type(self).__name__} (buffer_size={self.buffer_size}, "
                f"observations {tuple(self.observations.shape[1:])} {self.observations.dtype}), nothing was "
                "changed: " + "; ".join(problems)
            )
        self.set_state({**arrays, **{key: metadata[key] for key in self._scalar_state_keys()}})

    def _layout_keys(self) -> tuple[str, ...]:
        """Metadata that must equal this buffer's for its arrays to fit."""
        return ("class", "buffer_size", "observation_shape", "observation_dtype", "action_shape", "action_dtype")

    def _scalar_state_keys(self) -> tuple[str, ...]:
        return ("buffer_size", "pos", "size")

    def _array_dtype(self, key: str) -> np.dtype:
        return getattr(self, key).dtype

    def _array_row_shape(self, key: str) -> tuple[int, ...]:
        return tuple(getattr(self, key).shape[1:])

    def _check_extra_metadata(self, metadata: Mapping[str, Any]) -> list[str]:
        return []


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al., 2016) over a NumPy sum tree.

    Transition ``i`` is drawn with probability ``p_i ** alpha / sum_k p_k ** alpha``; new
    transitions get the highest priority seen so far. Samples carry importance-sampling weights
    ``(N * P(i)) ** -beta`` divided by their maximum.

    :param buffer_size: maximum number of transitions stored
    :param observation_shape: shape of one observation
    :param alpha: how much prioritization is used (0: uniform, 1: full)
    :param observation_dtype: dtype observations are stored in
    :param action_shape: shape of one action
    :param action_dtype: dtype actions are stored in
    """

    def __init__(
        self,
        buffer_size: int,
        observation_shape: tuple[int, ...],
        alpha: float = 0.6,
        observation_dtype: DTypeLike = np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype: DTypeLike = np.int64,
    ):
        super().__init__(buffer_size, observation_shape, observation_dtype, action_shape, action_dtype)
        if alpha < 0:
            raise ValueError(f"alpha must be non-negative, received {alpha}")
        self.alpha = float(alpha)
        self.max_priority = 1.0
        self._sum_tree = _SegmentTree(self.buffer_size, np.add, 0.0)
        self._min_tree = _SegmentTree(self.buffer_size, np.minimum, np.inf)

    @property
    def priorities(self) -> np.ndarray:
        """``p_i ** alpha`` of the stored transitions (a copy).

        :return: array of shape ``(size,)``
        """
        return self._sum_tree.leaves(self.size).copy()

    def extend(self, observations: ArrayLike, actions: ArrayLike, rewards: ArrayLike,
               next_observations: ArrayLike, dones: ArrayLike) -> np.ndarray:
        indices = super().extend(observations, actions, rewards, next_observations, dones)
        self._set_priorities(indices, np.full(len(indices), self.max_priority ** self.alpha))
        return indices

    def sample(self, batch_size: int | tuple[int, ...], rng: np.random.Generator,
               beta: float = 0.4) -> ReplayBatch:
        """Draw transitions in proportion to their priority.

        :param batch_size: number of transitions, or a batch shape
        :param rng: the generator to draw from
        :param beta: importance-sampling exponent (0: no correction, 1: full correction)
        :return: the minibatch with its ``weights`` and ``indices``
        """
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        total = self._sum_tree.total()
        mass = rng.random(size=batch_size) * total
        indices = np.minimum(self._sum_tree.find_prefix_sum(mass), self.size - 1)
        probability_min = self._min_tree.total() / total
        max_weight = (probability_min * self.size) ** -beta
        probabilities = self._sum_tree.leaves(self.buffer_size)[indices] / total
        weights = ((probabilities * self.size) ** -beta / max_weight).astype(np.float32)
        return self._batch(indices, weights)

    def update_priorities(self, indices: ArrayLike, priorities: ArrayLike) -> None:
        """Set the priorities of sampled transitions (typically ``|td_error| + eps``).

        :param indices: buffer positions, from :attr:`ReplayBatch.indices`
        :param priorities: positive new priorities, one per index
        """
        indices = np.asarray(indices).reshape(-1)
        priorities = np.asarray(priorities, dtype=np.float64).reshape(-1)
        if indices.shape != priorities.shape:
            raise ValueError(f"expected one priority per index, received {priorities.shape} for {indices.shape}")
        if np.any(priorities <= 0) or not np.all(np.isfinite(priorities)):
            raise ValueError("priorities must be positive and finite")
        if np.any((indices < 0) | (indices >= self.size)):
            raise ValueError(f"indices must be in [0, {self.size}), received {indices}")
        self._set_priorities(indices, priorities ** self.alpha)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def _set_priorities(self, indices: np.ndarray, values: np.ndarray) -> None:
        self._sum_tree.set(indices, values)
        self._min_tree.set(indices, values)

    def get_state(self) -> dict[str, Any]:
        """The contents (see :meth:`ReplayBuffer.get_state`) plus ``priorities`` and ``max_priority``.

        :return: mapping of plain arrays and numbers
        """
        state = super().get_state()
        state.update(priorities=self.priorities, max_priority=self.max_priority)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        values = np.zeros(self.buffer_size)
        values[: self.size] = state["priorities"]
        self._sum_tree.rebuild(values)
        values[self.size:] = np.inf
        self._min_tree.rebuild(values)
        self.max_priority = float(state["max_priority"])

    def _state_keys(self) -> tuple[str, ...]:
        return (*TRANSITION_KEYS, "priorities")

    def metadata(self) -> dict[str, Any]:
        """The metadata of :meth:`ReplayBuffer.metadata` plus ``alpha`` and ``max_priority`` (the
        sum and min trees are rebuilt from the ``priorities`` array).

        :return: mapping of plain values
        """
        return {**super().metadata(), "alpha": self.alpha, "max_priority": self.max_priority}

    def _layout_keys(self) -> tuple[str, ...]:
        # The stored priorities are p ** alpha: another alpha would misread them.
        return (*super()._layout_keys(), "alpha")

    def _scalar_state_keys(self) -> tuple[str, ...]:
        return (*super()._scalar_state_keys(), "max_priority")

    def _array_dtype(self, key: str) -> np.dtype:
        return np.dtype(np.float64) if key == "priorities" else super()._array_dtype(key)

    def _array_row_shape(self, key: str) -> tuple[int, ...]:
        return () if key == "priorities" else super()._array_row_shape(key)

    def _check_extra_metadata(self, metadata: Mapping[str, Any]) -> list[str]:
        max_priority = metadata.get("max_priority")
        if isinstance(max_priority, bool) or not isinstance(max_priority, (int, float)) or not max_priority > 0:
            return [f"max_priority must be a positive number, received {max_priority!r}"]
        return []


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _SegmentTree:
    """A complete binary tree over ``capacity`` leaves; each node holds ``operation`` of its children.

    Node 1 is the root and node ``i`` has children ``2i`` and ``2i + 1``; leaf ``j`` is node
    ``leaf_offset + j``. Updates and queries work on whole index arrays at once.
    """

    def __init__(self, capacity: int, operation: np.ufunc, neutral: float):
        self.leaf_offset = 1 << max(capacity - 1, 0).bit_length()
        self.depth = self.leaf_offset.bit_length() - 1
        self.operation = operation
        self.neutral = neutral
        self.nodes = np.full(2 * self.leaf_offset, neutral, dtype=np.float64)

    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, count: int) -> np.ndarray:
        return self.nodes[self.leaf_offset: self.leaf_offset + count]

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        nodes = indices + self.leaf_offset
        self.nodes[nodes] = values
        for _ in range(self.depth):
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.operation(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])

    def rebuild(self, leaf_values: np.ndarray) -> None:
        self.nodes[:] = self.neutral
        self.nodes[self.leaf_offset: self.leaf_offset + len(leaf_values)] = leaf_values
        for level in range(self.depth - 1, -1, -1):
            first, last = 1 << level, 2 << level
            self.nodes[first:last] = self.operation(self.nodes[2 * first: 2 * last: 2],
                                                    self.nodes[2 * first + 1: 2 * last: 2])

    def find_prefix_sum(self, mass: np.ndarray) -> np.ndarray:
        """For each ``m`` in ``mass``, the first leaf whose running sum exceeds ``m`` (sum trees only)."""
        mass = np.array(mass, dtype=np.float64)
        nodes = np.ones(mass.shape, dtype=np.int64)
        for _ in range(self.depth):
            left_sums = self.nodes[2 * nodes]
            go_right = mass >= left_sums
            mass = np.where(go_right, mass - left_sums, mass)
            nodes = 2 * nodes + go_right
        return nodes - self.leaf_offset
