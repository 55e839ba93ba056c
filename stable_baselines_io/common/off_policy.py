"""The off-policy base: it owns ``learn`` (act, step, store in the replay buffer, train) and the
replay buffer's saving and loading.

An algorithm on this base (DQN) supplies only what makes it different:

- :meth:`OffPolicyRLModel._make_replay_buffer`;
- :meth:`OffPolicyRLModel._sample_actions`: the exploring actions of a step;
- :meth:`OffPolicyRLModel._train`: gradient steps on minibatches from the buffer;
- :meth:`OffPolicyRLModel._on_steps_trained`: what follows training (DQN: the target update).
"""

from __future__ import annotations

from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
from tqdm import tqdm

from stable_baselines_io.common.base_class import BaseRLModel
from stable_baselines_io.common.buffers import ReplayBuffer
from stable_baselines_io.common.callbacks import TrainingHooks, as_hooks
from stable_baselines_io.common.logger import print_table
from stable_baselines_io.common.save_load import ArchiveMember
from stable_baselines_io.common.tensorboard import TensorBoardLogging
from stable_baselines_io.exceptions import CorruptAgentFileError
from stable_baselines_io.format.archive import ARRAYS_MEMBER, REPLAY_BUFFER_MEMBER
from stable_baselines_io.format.file_targets import describe_target
from stable_baselines_io.format.files import UnreadArrays, read_agent_file, save_to_file
from stable_baselines_io.format.read_errors import reported_as_corrupt
from stable_baselines_io.type_aliases import Callback, FileTarget, StorageOptions

SelfOffPolicy = TypeVar("SelfOffPolicy", bound="OffPolicyRLModel")


class OffPolicyRLModel(TensorBoardLogging, BaseRLModel):
    """Base of off-policy algorithms with a replay buffer (DQN): it runs ``learn`` and keeps the
    buffer in ``replay_buffer``.

    The buffer is saved to its own file (:meth:`save_replay_buffer`) or, with
    ``save(path, include_replay_buffer=True)``, to the agent file's ``replay_buffer`` member
    (declared in ``_archive_members``).
    """

    _save_attrs: ClassVar[tuple[str, ...]] = (
        *BaseRLModel._save_attrs,
        "gamma",
        "learning_rate",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "batch_size",
        "gradient_steps",
        "tensorboard_log",
        "full_tensorboard_log",
    )
    #: ``_replay_buffer_metadata`` describes the buffer at save time (sizes, shapes, dtypes); its
    #: arrays are saved only on request (see :meth:`_get_replay_buffer_arrays`).
    _state_attrs: ClassVar[tuple[str, ...]] = (*BaseRLModel._state_attrs, "_replay_buffer_metadata")
    _archive_members: ClassVar[dict[str, ArchiveMember]] = {
        **BaseRLModel._archive_members,
        REPLAY_BUFFER_MEMBER: ArchiveMember(ARRAYS_MEMBER, "_get_replay_buffer_arrays", "_set_replay_buffer_arrays"),
    }
    #: A local file's replay buffer is read when first needed (``learn``, ``replay_buffer``, a save
    #: that includes it), not by ``load``: an agent loaded to act never reads it.
    _members_read_on_demand: ClassVar[frozenset[str]] = frozenset({REPLAY_BUFFER_MEMBER})
    #: Metadata of a replay buffer file's ``metadata`` member, to tell it from an agent file.
    REPLAY_BUFFER_FILE_CONTENT = "replay_buffer"

    learning_starts: int
    batch_size: int
    train_freq: int
    gradient_steps: int
    _stored_replay_buffer_metadata: dict[str, Any] | None = None

    @abstractmethod
    def _make_replay_buffer(self) -> ReplayBuffer:
        """An empty replay buffer for this model's spaces and hyperparameters."""

    @abstractmethod
    def _sample_actions(self, observations: np.ndarray, progress_remaining: float) -> np.ndarray:
        """The actions of one step, exploring (e.g. epsilon-greedy).

        :param observations: the last observations, one per environment
        :param progress_remaining: 1 at the start of training, 0 at the end (for schedules)
        :return: one action per environment
        """

    @abstractmethod
    def _train(self, replay_buffer: ReplayBuffer, n_gradient_steps: int,
               progress_remaining: float) -> Mapping[str, Any]:
        """Run ``n_gradient_steps`` gradient steps on minibatches from the replay buffer.

        :param replay_buffer: where minibatches come from
        :param n_gradient_steps: number of minibatches
        :param progress_remaining: 1 at the start of training, 0 at the end (for schedules)
        :return: statistics by table key (scalars or scalar tensors, read only when logged)
        """

    def _on_steps_trained(self, previous_timesteps: int) -> None:
        """After each step once training has started (DQN updates its target network here).

        :param previous_timesteps: ``num_timesteps`` before this step
        """

    def _tensorboard_values(self) -> dict[str, Any]:
        """Algorithm-specific values written to TensorBoard after each training (by table key of
        :data:`~stable_baselines_io.common.tensorboard.TENSORBOARD_NAMES`).

        :return: name -> value
        """
        return {}

    def _logged_values(self) -> dict[str, Any]:
        """Algorithm-specific values shown first in the statistics table.

        :return: name -> value
        """
        return {}

    # --- training -----------------------------------------------------------------------------

    def learn(
        self: SelfOffPolicy,
        total_timesteps: int,
        callback: Callback | TrainingHooks | list[Callback | TrainingHooks] | None = None,
        log_interval: int = 100,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfOffPolicy:
        """Collect ``total_timesteps`` environment steps with exploring actions and train on replay.

        A second call continues the running episodes and keeps the replay buffer: the environment
        is reset only on the first call, after :meth:`set_env`, or after
        ``load(..., force_reset=True)``. Training starts after ``learning_starts`` steps, with
        ``gradient_steps`` gradient steps each time ``num_timesteps`` crosses a multiple of
        ``train_freq``.

        Schedules receive ``progress_remaining = 1 - num_timesteps / horizon``. With
        ``reset_num_timesteps=True`` the horizon is this call's ``total_timesteps``, as in Stable
        Baselines 2. With ``reset_num_timesteps=False`` it is the larger of the stored horizon and
        ``num_timesteps + total_timesteps``: a run stopped by its callback, saved and loaded
        continues its original schedule.

        :param total_timesteps: environment steps to take (summed over environments)
        :param callback: called as ``callback(locals(), globals())`` once each environment step
            is complete (stored, trained on); returning ``False`` stops training, so a run stopped
            at step ``N`` and resumed equals one that went on. Or
            :class:`~stable_baselines_io.common.callbacks.BaseCallback` (or any
            :class:`~stable_baselines_io.common.callbacks.TrainingHooks`), or a list of these
        :param log_interval: with ``verbose=1``, print statistics every ``log_interval`` episodes
        :param tb_log_name: the TensorBoard run name (default: the class name), with
            ``tensorboard_log``
        :param reset_num_timesteps: restart ``num_timesteps``, the schedules and the episode
            statistics from zero
        :param progress_bar: show a tqdm progress bar
        :return: the model
        """
        env = self._setup_learn(total_timesteps, reset_num_timesteps)
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay_buffer()
        replay_buffer = self.replay_buffer
        hooks = as_hooks(callback)
        self._start_tensorboard(tb_log_name or type(self).__name__, reset_num_timesteps)
        start_timesteps = self.num_timesteps
        hooks.on_training_start(locals())
        with tqdm(total=total_timesteps, unit="steps", disable=not progress_bar) as progress:
            while self.num_timesteps - start_timesteps < total_timesteps:
                assert self._last_obs is not None  # _setup_learn reset the environment
                progress_remaining = 1.0 - self.num_timesteps / self._total_timesteps
                actions = self._sample_actions(self._last_obs, progress_remaining)
                new_observations, rewards, terminated, truncated, infos = env.step(actions)
                previous_timesteps = self.num_timesteps
                self.num_timesteps += env.num_envs
                progress.update(env.num_envs)

                # A truncated episode did not end in the MDP: store its real last observation
                # and bootstrap from it (done = terminated only).
                next_observations = new_observations.copy()
                for index in np.flatnonzero(terminated | truncated):
                    next_observations[index] = infos[index]["terminal_observation"]
                replay_buffer.extend(self._last_obs, actions, rewards, next_observations, terminated)
                self._last_obs = new_observations
                n_finished = self._record_episodes(infos)
                self._log_episode_rewards(infos)
                if self.verbose >= 1 and log_interval and self.num_episodes % log_interval < n_finished:
                    self._log_episodes()
                if not hooks.on_step(locals()):
                    break

                if self.num_timesteps > self.learning_starts and replay_buffer.can_sample(self.batch_size):
                    n_gradient_steps = self.gradient_steps * _crossings(previous_timesteps, self.num_timesteps,
                                                                        self.train_freq)
                    if n_gradient_steps > 0:
                        statistics = self._train(replay_buffer, n_gradient_steps, progress_remaining)
                        self._log_statistics({**self._tensorboard_values(), **statistics}, self.get_parameter_list())
                    self._on_steps_trained(previous_timesteps)
                # Only now: a run stopped here has stored and trained on this step, like one that goes on.
                if not hooks.on_iteration_end(locals(), globals()):
                    break
        hooks.on_training_end(locals())
        self._stop_tensorboard()
        return self

    def _log_episodes(self) -> None:
        print_table({
            **self._logged_values(),
            "episodes": self.num_episodes,
            "mean 100 episode reward": round(self._episode_means()[0], 1),
            "steps": self.num_timesteps,
        })

    # --- the replay buffer ---------------------------------------------------------------------

    @property
    def replay_buffer(self) -> ReplayBuffer | None:
        """The replay buffer (None before the first ``learn``); one that ``load`` left in the file is
        read now (:class:`~stable_baselines_io.format.files.UnreadArrays`)."""
        unread = vars(self).get("_unread_replay_buffer")
        if unread is not None:
            arrays = unread.read()
            del vars(self)["_unread_replay_buffer"]
            self._set_replay_buffer_arrays(arrays)
        return vars(self).get("_replay_buffer")

    @replay_buffer.setter
    def replay_buffer(self, replay_buffer: ReplayBuffer | None) -> None:
        vars(self).pop("_unread_replay_buffer", None)
        vars(self)["_replay_buffer"] = replay_buffer

    @property
    def _replay_buffer_metadata(self) -> dict[str, Any] | None:
        """The replay buffer's :meth:`~ReplayBuffer.metadata` (None without a buffer); on load, kept
        for the ``replay_buffer`` member's arrays, which are restored after the training state."""
        if "_unread_replay_buffer" in vars(self):
            return self._stored_replay_buffer_metadata  # what the buffer will say once read
        return None if self.replay_buffer is None else self.replay_buffer.metadata()

    @_replay_buffer_metadata.setter
    def _replay_buffer_metadata(self, metadata: dict[str, Any] | None) -> None:
        self._stored_replay_buffer_metadata = metadata

    def _require_replay_buffer(self) -> ReplayBuffer:
        if self.replay_buffer is None:
            raise ValueError(
                f"this {type(self).__name__} has no replay buffer yet: it is created by the first learn() "
                "(or loaded with load_replay_buffer)"
            )
        return self.replay_buffer

    def _get_replay_buffer_arrays(self, options: Mapping[str, Any]) -> OrderedDict[str, np.ndarray] | None:
        """The ``replay_buffer`` member's arrays when asked for (its metadata is in the training state).

        :param options: ``save``'s options: ``include_replay_buffer``
        :return: the arrays, or None
        """
        if not options.get("include_replay_buffer"):
            return None
        return self._require_replay_buffer().to_arrays()

    def _set_replay_buffer_arrays(self, arrays: Mapping[str, np.ndarray] | UnreadArrays) -> None:
        """Rebuild the replay buffer from the ``replay_buffer`` member and the stored metadata.

        :param arrays: the member, as read, or the means to read it when it is first needed
        """
        metadata = self._stored_replay_buffer_metadata
        if metadata is None:
            raise CorruptAgentFileError(
                "the file has a replay buffer but its training state has no '_replay_buffer_metadata' to read it with",
                member=REPLAY_BUFFER_MEMBER,
            )
        if isinstance(arrays, UnreadArrays):
            self.replay_buffer = None
            vars(self)["_unread_replay_buffer"] = arrays
            return
        replay_buffer = self._make_replay_buffer()
        with reported_as_corrupt(None, REPLAY_BUFFER_MEMBER, "not a readable replay buffer"):
            replay_buffer.from_arrays(metadata, arrays, source=f"the {REPLAY_BUFFER_MEMBER!r} member")
        self.replay_buffer = replay_buffer

    def save_replay_buffer(self, path: FileTarget, storage_options: StorageOptions | None = None) -> None:
        """Write the replay buffer to its own file, without pickle.

        The file is a zip like an agent file: ``data`` holds the buffer's metadata (class,
        ``buffer_size``, ``pos``, ``size``, observation and action shapes and dtypes; ``alpha`` and
        ``max_priority`` for prioritized replay), ``parameters`` its arrays (the stored rows of
        ``observations``, ``actions``, ``rewards``, ``next_observations``, ``dones``, and
        ``priorities``). ``.zip`` is appended to a path without extension; the write is atomic.

        >>> model.save_replay_buffer("dqn_replay_buffer")  # doctest: +SKIP
        >>> model = DQN.load("dqn", env=env, force_reset=False)  # doctest: +SKIP
        >>> model.load_replay_buffer("dqn_replay_buffer")  # doctest: +SKIP

        Before the first ``learn`` the model has no buffer yet: an empty one is created and saved,
        as SB3 does. A model that has trained but whose buffer was not loaded with it has none to
        save: that is an error.

        :param path: a path, an fsspec URL or a binary file object (left open)
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        """
        if self.replay_buffer is None and self.num_timesteps == 0:
            self.replay_buffer = self._make_replay_buffer()
        replay_buffer = self._require_replay_buffer()
        save_to_file(
            path,
            data=replay_buffer.metadata(),
            params=replay_buffer.to_arrays(),
            metadata={"content": self.REPLAY_BUFFER_FILE_CONTENT, "algorithm": type(self).__name__},
            allow_pickle=False,
            storage_options=storage_options,
        )

    def load_replay_buffer(self, path: FileTarget, max_bytes: int | None = None,
                           storage_options: StorageOptions | None = None) -> None:
        """Replace the replay buffer with one written by :meth:`save_replay_buffer`.

        Nothing runs code from the file (no pickle). The stored buffer must fit the model: same
        class, ``buffer_size``, observation and action shapes and dtypes.

        :param path: a path (``buffer`` finds ``buffer.zip``), an fsspec URL or a binary file object
            (left open)
        :param max_bytes: the most bytes reading the file may decompress and allocate (see
            :meth:`load`)
        :param storage_options: options for the fsspec backend of a URL (credentials, endpoint...; see docs/scaling.md)
        :raises ReplayBufferMismatchError: the stored buffer does not fit the model (every
            mismatch is named)
        :raises CorruptAgentFileError: the file is not a readable replay buffer file
        """
        source = describe_target(path)
        buffer_file = read_agent_file(path, safe_mode=True, max_bytes=max_bytes, storage_options=storage_options)
        if buffer_file.metadata.get("content") != self.REPLAY_BUFFER_FILE_CONTENT:
            raise CorruptAgentFileError(
                "not a replay buffer file (one written by save_replay_buffer): its metadata has "
                f"content={buffer_file.metadata.get('content')!r}", path=source, member="metadata",
            )
        if not isinstance(buffer_file.data, dict) or not isinstance(buffer_file.params, Mapping):
            raise CorruptAgentFileError("a replay buffer file needs its metadata in 'data' and its arrays in "
                                        "'parameters'", path=source)
        replay_buffer = self._make_replay_buffer()
        with reported_as_corrupt(source, "data", "not a readable replay buffer"):
            replay_buffer.from_arrays(buffer_file.data, buffer_file.params,
                                      source=f"the replay buffer file {source!r}")
        self.replay_buffer = replay_buffer


def _crossings(previous: int, current: int, every: int) -> int:
    """How many multiples of ``every`` lie in ``(previous, current]``."""
    return current // every - previous // every
