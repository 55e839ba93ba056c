"""``BaseRLModel`` and the on-policy / off-policy bases every algorithm builds on."""

from __future__ import annotations

import os
import random
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.buffers import ReplayBuffer
from stable_baselines_io.common.save_load import SaveLoadMixin
from stable_baselines_io.common.vec_env import EnvSpec, VecEnv, make_vec_env
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    NoEnvironmentError,
    ParameterMismatchError,
    PolicyKwargsMismatchError,
    SpaceMismatchError,
    UnknownPolicyError,
)
from stable_baselines_io.format.archive import REPLAY_BUFFER_MEMBER, TRAINING_ARRAYS_MEMBER
from stable_baselines_io.format.files import read_agent_file, save_to_file, writer_metadata
from stable_baselines_io.type_aliases import DataDict, FileTarget

SelfBaseRLModel = TypeVar("SelfBaseRLModel", bound="BaseRLModel")


class BaseRLModel(SaveLoadMixin, ABC):
    """The base of every RL model: environment handling, prediction, seeding, save and load.

    :param policy: a policy class, or the name of one in ``policy_aliases`` (e.g. ``"MlpPolicy"``)
    :param env: a gymnasium env, an env id, a gymnasium ``SyncVectorEnv``, a :class:`VecEnv`, or
        None (a model that can only predict until :meth:`set_env` is called)
    :param verbose: 0 silent, 1 training information
    :param policy_kwargs: keyword arguments for the policy (e.g. ``net_arch``)
    :param seed: seed for NumPy, TensorFlow, Python's ``random`` and the environments
    :param n_envs: number of environment copies when ``env`` is an id
    """

    _save_attrs: ClassVar[tuple[str, ...]] = (
        "policy",
        "observation_space",
        "action_space",
        "n_envs",
        "seed",
        "verbose",
        "policy_kwargs",
        "_vectorize_action",
    )
    _state_attrs: ClassVar[tuple[str, ...]] = ("num_timesteps", "_space_random_states", "_last_obs",
                                               "_env_episode_stats")
    #: The observations the next step continues from; None: the next ``learn`` resets the env.
    _last_obs: np.ndarray | None = None
    #: Policy names accepted instead of a class, e.g. ``{"MlpPolicy": MlpPolicy}``.
    policy_aliases: ClassVar[Mapping[str, type]] = {}

    def __init__(
        self,
        policy: type | str,
        env: EnvSpec | None,
        verbose: int = 0,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        n_envs: int = 1,
    ):
        self.policy = self._resolve_policy(policy)
        self.verbose = verbose
        self.policy_kwargs = {} if policy_kwargs is None else dict(policy_kwargs)
        self.seed = seed
        self.n_envs = n_envs
        self._vectorize_action = False
        self._extra_data = {}
        self.num_timesteps = 0
        self.env: VecEnv | None = None
        self.observation_space: gymnasium.Space | None = None
        self.action_space: gymnasium.Space | None = None
        if env is not None:
            vec_env = make_vec_env(env, n_envs)
            self.observation_space = vec_env.observation_space
            self.action_space = vec_env.action_space
            self._set_vec_env(vec_env)

    @classmethod
    def _resolve_policy(cls, policy: type | str) -> type:
        if isinstance(policy, str):
            if policy not in cls.policy_aliases:
                raise UnknownPolicyError(
                    f"{cls.__name__} has no policy named {policy!r}; known names: {sorted(cls.policy_aliases)}"
                )
            return cls.policy_aliases[policy]
        if not isinstance(policy, type):
            raise UnknownPolicyError(f"expected a policy class or name, received {policy!r}")
        return policy

    # --- to implement by each algorithm -------------------------------------------------------

    @abstractmethod
    def setup_model(self) -> None:
        """Build the policy, its variables and the optimizer from the current attributes."""

    @abstractmethod
    def learn(
        self: SelfBaseRLModel,
        total_timesteps: int,
        callback: Callable[[dict[str, Any], dict[str, Any]], bool | None] | None = None,
        log_interval: int = 100,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfBaseRLModel:
        """Train for ``total_timesteps`` environment steps.

        :param total_timesteps: number of environment steps (summed over environments)
        :param callback: called as ``callback(locals(), globals())`` once per step (or rollout);
            returning ``False`` stops training
        :param log_interval: how often to log, in updates (on-policy) or episodes (off-policy)
        :param reset_num_timesteps: restart the step counter (and schedules) from zero
        :param progress_bar: show a tqdm progress bar
        :return: the model
        """

    @abstractmethod
    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions for a batch of observations (shape ``(batch, *observation_space.shape)``).

        :param observations: the batch
        :param deterministic: act greedily instead of sampling
        :return: the batch of actions
        """

    # --- environment ------------------------------------------------------------------------

    def get_env(self) -> VecEnv | None:
        """The model's (vectorized) environment.

        :return: the environment, or None
        """
        return self.env

    def set_env(self, env: EnvSpec) -> None:
        """Use a new environment, with the same observation and action spaces.

        A different number of environments is accepted.

        :param env: anything accepted by the constructor's ``env``
        """
        vec_env = make_vec_env(env, self.n_envs)
        problems = []
        for label, model_space, env_space in (("observation space", self.observation_space, vec_env.observation_space),
                                              ("action space", self.action_space, vec_env.action_space)):
            if not _same_structure(model_space, env_space):
                problems.append(f"{label}: model {model_space}, env {env_space}")
            elif not _same_bounds(model_space, env_space):
                warnings.warn(f"the {label} bounds differ: model {model_space}, env {env_space}; using the env's",
                              UserWarning, stacklevel=2)
        if problems:
            raise SpaceMismatchError("the environment does not match the model: " + "; ".join(problems))
        self.observation_space, self.action_space = vec_env.observation_space, vec_env.action_space
        self._set_vec_env(vec_env)

    def _set_vec_env(self, vec_env: VecEnv) -> None:
        self.env = vec_env
        self.n_envs = vec_env.num_envs
        if self.seed is not None:
            vec_env.seed(self.seed)
        self._on_env_changed()

    def _on_env_changed(self) -> None:
        """A new environment starts new episodes: the next ``learn`` resets it."""
        self._forget_last_observation()

    def _forget_last_observation(self) -> None:
        """Make the next ``learn`` reset the environment (also ``load(..., force_reset=True)``)."""
        self._last_obs = None

    @property
    def _env_episode_stats(self) -> dict[str, np.ndarray] | None:
        """The return and length so far of the episodes that ``_last_obs`` continues (the
        environment adds them up to report ``info["episode"]``); None when none is in progress."""
        if self.env is None or self._last_obs is None:
            return None
        return self.env.get_episode_stats()

    @_env_episode_stats.setter
    def _env_episode_stats(self, stats: dict[str, np.ndarray] | None) -> None:
        if stats is not None and self.env is not None and len(stats["lengths"]) == self.env.num_envs:
            self.env.set_episode_stats(stats)

    def _require_env(self) -> VecEnv:
        if self.env is None:
            raise NoEnvironmentError(
                f"this {type(self).__name__} has no environment: call set_env(env) or "
                f"{type(self).__name__}.load(path, env=env) before learn()"
            )
        return self.env

    @property
    def _space_random_states(self) -> dict[str, Any]:
        """The bit-generator states of the spaces' samplers (``space.sample()``)."""
        spaces = {"observation_space": self.observation_space, "action_space": self.action_space}
        return {name: space.np_random.bit_generator.state for name, space in spaces.items() if space is not None}

    @_space_random_states.setter
    def _space_random_states(self, states: dict[str, Any]) -> None:
        for name, state in states.items():
            space = getattr(self, name, None)
            if space is not None:
                space.np_random.bit_generator.state = state

    def set_random_seed(self, seed: int | None) -> None:
        """Seed Python, NumPy, TensorFlow and the environment.

        :param seed: the seed; None does nothing
        """
        if seed is None:
            return
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
        if self.action_space is not None:
            self.action_space.seed(seed)
        if self.env is not None:
            self.env.seed(seed)

    # --- prediction ---------------------------------------------------------------------------

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        mask: Any = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """The action for one observation, or actions for a batch of observations.

        :param observation: one observation, or a batch (leading batch dimension)
        :param state: recurrent state (unused by MLP policies, returned unchanged)
        :param mask: episode-start mask for recurrent policies (unused)
        :param deterministic: greedy action instead of a sample
        :return: ``(action, state)``; Box actions are clipped to the action space bounds
        """
        if self.observation_space is None or self.action_space is None:
            raise NoEnvironmentError("the model has no observation/action space: it was never set up")
        observation = np.asarray(observation)
        vectorized = _is_batched(observation, self.observation_space)
        batch = observation.reshape((-1, *self.observation_space.shape)) if self.observation_space.shape else (
            observation.reshape(-1)
        )
        actions = np.asarray(self._predict_actions(batch, deterministic))
        if isinstance(self.action_space, gymnasium.spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        if not vectorized:
            actions = actions[0]
        return actions, state

    def export(self, path: str | os.PathLike[str], format: str = "saved_model", deterministic: bool = True) -> Path:
        """Export the policy to run without this library (see ``docs/deployment.md``).

        :param path: the SavedModel directory, or the ``.tflite`` / ``.onnx`` file, to write
        :param format: ``"saved_model"``, ``"tflite"`` or ``"onnx"`` (needs the ``export`` extra)
        :param deterministic: ``action`` returns the greedy action; False (saved_model only) samples
        :return: the path written
        """
        from stable_baselines_io.export import export_model

        return export_model(self, path, format=format, deterministic=deterministic)

    # --- saving and loading -------------------------------------------------------------------

    def _get_save_metadata(self) -> dict[str, Any]:
        metadata = {**super()._get_save_metadata(), "tensorflow": tf.__version__}
        spec = getattr(self.env.envs[0], "spec", None) if self.env is not None else None
        if spec is not None and spec.id:
            metadata["env_id"] = spec.id
        return metadata

    @classmethod
    def load(
        cls: type[SelfBaseRLModel],
        load_path: FileTarget,
        env: EnvSpec | None = None,
        custom_objects: dict[str, Any] | None = None,
        safe_mode: bool = True,
        force_reset: bool = True,
        print_system_info: bool = False,
        **kwargs: Any,
    ) -> SelfBaseRLModel:
        """Build a new model from an agent file, with its training state when the file has one.

        :param load_path: path (``agent`` finds ``agent.zip``) or binary file object
        :param env: the environment to continue training in (its spaces must match); None for a
            model that can predict (call :meth:`set_env` before :meth:`learn`)
        :param custom_objects: values that replace stored keys without decoding them
        :param safe_mode: refuse to run code from the file (pickled functions, unknown classes);
            set False only for files you trust
        :param force_reset: reset the environment at the next ``learn``; False continues ``env``
            from the stored last observation (pass the same environment object, in the same state)
        :param print_system_info: print the versions the file was saved with beside the current ones
        :param kwargs: attributes that override the stored ones (the stored value of such a key is
            never decoded, so ``policy=MlpPolicy`` also replaces a policy class that cannot load).
            ``policy_kwargs`` must equal the stored ones, unless the policy is replaced too
        :return: the new model
        """
        replaced = {**(custom_objects or {}), **{key: value for key, value in kwargs.items() if key != "policy_kwargs"}}
        agent_file = read_agent_file(load_path, custom_objects=replaced, safe_mode=safe_mode, load_state=True)
        if print_system_info:
            print(system_info_table(agent_file.metadata))
        data, params = agent_file.data, agent_file.params
        if data is None:
            raise CorruptAgentFileError("the file holds no data dictionary, so no model can be built from it",
                                        path=_describe(load_path), member="data")
        policy_replaced = "policy" in replaced
        if not policy_replaced and "policy_kwargs" in kwargs and kwargs["policy_kwargs"] != data.get("policy_kwargs"):
            raise PolicyKwargsMismatchError(
                "the specified policy kwargs do not equal the stored policy kwargs: "
                f"specified {kwargs['policy_kwargs']}, stored {data.get('policy_kwargs')}"
            )
        model = cls._from_data(data, env, kwargs)
        if params is not None:
            try:
                model.load_parameters(params)
            except ParameterMismatchError as error:
                raise AlgorithmMismatchError(
                    f"the file {_describe(load_path)!r} does not hold a {cls.__name__} agent of this "
                    f"configuration: {error}"
                ) from error
        model._set_training_state(agent_file.training_state, agent_file.state_arrays.get(TRAINING_ARRAYS_MEMBER))
        model._set_extra_state_arrays(agent_file.state_arrays)
        if force_reset:
            model._forget_last_observation()
        return model

    def _set_extra_state_arrays(self, state_arrays: dict[str, Any]) -> None:
        """Restore array members beyond the training arrays (off-policy models: the replay buffer).

        :param state_arrays: member name -> arrays, as read
        """

    @classmethod
    def _from_data(cls: type[SelfBaseRLModel], data: DataDict, env: EnvSpec | None,
                   overrides: dict[str, Any]) -> SelfBaseRLModel:
        if "policy" not in data:
            raise CorruptAgentFileError("the data dictionary has no 'policy' key", member="data")
        policy = data["policy"]
        if cls.policy_aliases and not (
            isinstance(policy, type) and any(issubclass(policy, base) for base in cls.policy_aliases.values())
        ):
            raise AlgorithmMismatchError(
                f"the file's policy {getattr(policy, '__qualname__', policy)!r} (module "
                f"{getattr(policy, '__module__', '?')}) is not one {cls.__name__} uses "
                f"({', '.join(sorted(cls.policy_aliases))}): the file was probably saved by another algorithm. "
                "Load it with that algorithm's class, or pass policy=... to use another policy class"
            )
        model = cls(policy=policy, env=None, _init_setup_model=False)  # type: ignore[call-arg]
        model._restore_data(data)
        for name, value in overrides.items():
            setattr(model, name, value)
        if env is not None:
            model.set_env(env)
        model.setup_model()
        return model


class ActorCriticRLModel(BaseRLModel):
    """Base of on-policy actor-critic algorithms (PPO)."""

    _save_attrs: ClassVar[tuple[str, ...]] = (*BaseRLModel._save_attrs, "gamma", "learning_rate")


class OffPolicyRLModel(BaseRLModel):
    """Base of off-policy algorithms with a replay buffer (DQN).

    Subclasses build their buffer in :meth:`_make_replay_buffer`, keep it in ``replay_buffer`` and
    the observations the next step continues from in ``_last_obs``; this class saves and restores
    both, with the schedules' horizon ``_total_timesteps`` and the environments' running episodes.
    The replay buffer goes to its own file (:meth:`save_replay_buffer`) or, with
    ``save(path, include_replay_buffer=True)``, to the agent file's ``replay_buffer`` member.
    """

    _save_attrs: ClassVar[tuple[str, ...]] = (
        *BaseRLModel._save_attrs,
        "gamma",
        "learning_rate",
        "buffer_size",
        "learning_starts",
        "train_freq",
        "batch_size",
    )
    #: ``_replay_buffer_metadata`` describes the buffer at save time (sizes, shapes, dtypes); its
    #: arrays are saved only on request (see :meth:`_get_extra_state_arrays`).
    _state_attrs: ClassVar[tuple[str, ...]] = (
        *BaseRLModel._state_attrs,
        "_total_timesteps",
        "_replay_buffer_metadata",
    )
    #: Metadata of a replay buffer file's ``metadata`` member, to tell it from an agent file.
    REPLAY_BUFFER_FILE_CONTENT = "replay_buffer"

    replay_buffer: ReplayBuffer | None = None
    #: The schedules' horizon: ``progress_remaining = 1 - num_timesteps / _total_timesteps``.
    _total_timesteps: int = 0
    _stored_replay_buffer_metadata: dict[str, Any] | None = None

    @abstractmethod
    def _make_replay_buffer(self) -> ReplayBuffer:
        """An empty replay buffer for this model's spaces and hyperparameters."""

    # --- continuing the environment ----------------------------------------------------------

    # --- the replay buffer ---------------------------------------------------------------------

    @property
    def _replay_buffer_metadata(self) -> dict[str, Any] | None:
        """The replay buffer's :meth:`~ReplayBuffer.metadata` (None without a buffer); on load, kept
        for the ``replay_buffer`` member's arrays, which are restored after the training state."""
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

    def _get_extra_state_arrays(self, include_replay_buffer: bool) -> dict[str, OrderedDict[str, np.ndarray]]:
        """The ``replay_buffer`` member's arrays when asked for (its metadata is in the training state).

        :param include_replay_buffer: whether the caller asked for the replay buffer
        :return: member name -> arrays
        """
        if not include_replay_buffer:
            return {}
        return {REPLAY_BUFFER_MEMBER: self._require_replay_buffer().to_arrays()}

    def _set_extra_state_arrays(self, state_arrays: dict[str, Any]) -> None:
        arrays = state_arrays.get(REPLAY_BUFFER_MEMBER)
        if arrays is None:
            return
        metadata = self._stored_replay_buffer_metadata
        if metadata is None:
            raise CorruptAgentFileError(
                "the file has a replay buffer but its training state has no '_replay_buffer_metadata' to read it with",
                member=REPLAY_BUFFER_MEMBER,
            )
        replay_buffer = self._make_replay_buffer()
        replay_buffer.from_arrays(metadata, arrays, source=f"the {REPLAY_BUFFER_MEMBER!r} member")
        self.replay_buffer = replay_buffer

    def save_replay_buffer(self, path: FileTarget) -> None:
        """Write the replay buffer to its own file, without pickle.

        The file is a zip like an agent file: ``data`` holds the buffer's metadata (class,
        ``buffer_size``, ``pos``, ``size``, observation and action shapes and dtypes; ``alpha`` and
        ``max_priority`` for prioritized replay), ``parameters`` its arrays (the stored rows of
        ``observations``, ``actions``, ``rewards``, ``next_observations``, ``dones``, and
        ``priorities``). ``.zip`` is appended to a path without extension; the write is atomic.

        >>> model.save_replay_buffer("dqn_replay_buffer")  # doctest: +SKIP
        >>> model = DQN.load("dqn", env=env, force_reset=False)  # doctest: +SKIP
        >>> model.load_replay_buffer("dqn_replay_buffer")  # doctest: +SKIP

        :param path: a path or a binary file object (left open)
        """
        replay_buffer = self._require_replay_buffer()
        save_to_file(
            path,
            data=replay_buffer.metadata(),
            params=replay_buffer.to_arrays(),
            metadata={"content": self.REPLAY_BUFFER_FILE_CONTENT, "algorithm": type(self).__name__},
            allow_pickle=False,
        )

    def load_replay_buffer(self, path: FileTarget) -> None:
        """Replace the replay buffer with one written by :meth:`save_replay_buffer`.

        Nothing runs code from the file (no pickle). The stored buffer must fit the model: same
        class, ``buffer_size``, observation and action shapes and dtypes.

        :param path: a path (``buffer`` finds ``buffer.zip``) or a binary file object (left open)
        :raises ReplayBufferMismatchError: the stored buffer does not fit the model (every
            mismatch is named)
        :raises CorruptAgentFileError: the file is not a readable replay buffer file
        """
        source = _describe(path)
        buffer_file = read_agent_file(path, safe_mode=True)
        if buffer_file.metadata.get("content") != self.REPLAY_BUFFER_FILE_CONTENT:
            raise CorruptAgentFileError(
                "not a replay buffer file (one written by save_replay_buffer): its metadata has "
                f"content={buffer_file.metadata.get('content')!r}", path=source, member="metadata",
            )
        if not isinstance(buffer_file.data, dict) or not isinstance(buffer_file.params, Mapping):
            raise CorruptAgentFileError("a replay buffer file needs its metadata in 'data' and its arrays in "
                                        "'parameters'", path=source)
        replay_buffer = self._make_replay_buffer()
        replay_buffer.from_arrays(buffer_file.data, buffer_file.params, source=f"the replay buffer file {source!r}")
        self.replay_buffer = replay_buffer


def system_info_table(saved: dict[str, Any]) -> str:
    """The versions an agent file was saved with, beside the ones running now.

    :param saved: the file's metadata
    :return: a small table
    """
    current = writer_metadata({"tensorflow": tf.__version__})
    keys = ["format_version", "stable_baselines_io", "python", "tensorflow", "numpy", "gymnasium", "date"]
    rows = [("", "saved", "current")] + [(key, str(saved.get(key, "-")), str(current.get(key, "-"))) for key in keys]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _is_batched(observation: np.ndarray, space: gymnasium.Space) -> bool:
    expected = tuple(space.shape or ())
    if observation.shape == expected:
        return False
    if observation.shape[1:] == expected:
        return True
    raise ValueError(
        f"observation shape {observation.shape} matches neither the observation space shape {expected} "
        f"nor a batch of it (n, {', '.join(map(str, expected))})"
    )


def _same_structure(left: gymnasium.Space | None, right: gymnasium.Space | None) -> bool:
    """Same kind of space, shape and dtype (and size, for discrete spaces); bounds aside."""
    if left is None or right is None:
        return left is right
    if type(left) is not type(right):
        return False
    if isinstance(left, gymnasium.spaces.Box):
        return left.shape == right.shape and left.dtype == right.dtype
    return bool(left == right)


def _same_bounds(left: gymnasium.Space | None, right: gymnasium.Space | None) -> bool:
    """Equal Box bounds, where +-float32 max (old ``gym``) counts as +-infinity (gymnasium)."""
    if not isinstance(left, gymnasium.spaces.Box) or not isinstance(right, gymnasium.spaces.Box):
        return True
    return all(np.array_equal(_widen(a), _widen(b)) for a, b in ((left.low, right.low), (left.high, right.high)))


def _widen(bounds: np.ndarray) -> np.ndarray:
    limit = np.finfo(np.float32).max
    values = np.asarray(bounds, dtype=np.float64)
    return np.where(values >= limit, np.inf, np.where(values <= -limit, -np.inf, values))


def _describe(target: FileTarget) -> str:
    return str(target) if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__") else repr(target)
