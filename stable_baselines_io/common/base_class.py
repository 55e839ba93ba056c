"""``BaseRLModel``: environment, prediction, seeding, and the bookkeeping both training loops share.

The loops themselves are in :mod:`.on_policy` (:class:`~.on_policy.ActorCriticRLModel`) and
:mod:`.off_policy` (:class:`~.off_policy.OffPolicyRLModel`); saving and loading in :mod:`.save_load`.
"""

from __future__ import annotations

import os
import random
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.action_probability import first_of_batch, probability_of_actions
from stable_baselines_io.common.callbacks import TrainingHooks
from stable_baselines_io.common.data_checks import check_loaded_agent
from stable_baselines_io.common.save_load import SaveLoadMixin
from stable_baselines_io.common.tf_util import configure_tf_threads
from stable_baselines_io.common.vec_env import VecEnv, make_vec_env
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    EnvApiMismatchError,
    NoEnvironmentError,
    SpaceMismatchError,
    UnknownPolicyError,
    UnsupportedFeatureError,
)
from stable_baselines_io.format.files import AgentFile
from stable_baselines_io.type_aliases import Callback, DataDict, EnvSpec

#: Finished episodes over which the logged mean return and length are computed.
EPISODE_INFO_BUFFER_SIZE = 100

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
    #: Everything ``learn`` carries from one call to the next (see :mod:`.save_load`).
    _state_attrs: ClassVar[tuple[str, ...]] = (
        "num_timesteps",
        "_total_timesteps",
        "num_episodes",
        "_ep_info_list",
        "_space_random_states",
        "_last_obs",
        "_env_episode_stats",
    )
    #: The observations the next step continues from; None: the next ``learn`` resets the env.
    _last_obs: np.ndarray | None = None
    #: Policy names accepted instead of a class, e.g. ``{"MlpPolicy": MlpPolicy}``.
    policy_aliases: ClassVar[Mapping[str, type]] = {}
    #: TensorFlow's thread pools (see :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`);
    #: algorithms set it before calling ``BaseRLModel.__init__``.
    n_cpu_tf_sess: int | None = None
    #: Data keys that Stable Baselines 2 wrote for this algorithm only: a file without
    #: ``metadata["algorithm"]`` that holds none of them was saved by another algorithm.
    _sb2_data_keys: ClassVar[tuple[str, ...]] = ()
    #: Every model class by name, to tell which class wrote a file (``metadata["algorithm"]``).
    _classes_by_name: ClassVar[dict[str, type[BaseRLModel]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        BaseRLModel._classes_by_name.setdefault(cls.__name__, cls)

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
        #: The schedules' horizon: ``progress_remaining = 1 - num_timesteps / _total_timesteps``.
        self._total_timesteps = 0
        #: Episodes finished since the last ``learn(..., reset_num_timesteps=True)``.
        self.num_episodes = 0
        #: ``{"r": return, "l": length}`` of the last finished episodes.
        self.ep_info_buf: deque[dict[str, float]] = deque(maxlen=EPISODE_INFO_BUFFER_SIZE)
        self.env: VecEnv | None = None
        self.observation_space: gymnasium.Space | None = None
        self.action_space: gymnasium.Space | None = None
        if env is not None:
            vec_env = make_vec_env(env, n_envs)
            self.observation_space = vec_env.observation_space
            self.action_space = vec_env.action_space
            self._set_vec_env(vec_env)
        configure_tf_threads(self.n_cpu_tf_sess)

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
        callback: Callback | TrainingHooks | list[Callback | TrainingHooks] | None = None,
        log_interval: int = 100,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfBaseRLModel:
        """Train for ``total_timesteps`` environment steps.

        :param total_timesteps: number of environment steps (summed over environments)
        :param callback: a function called as ``callback(locals(), globals())`` once per update
            (on-policy) or step (off-policy), returning ``False`` to stop; or
            :class:`~stable_baselines_io.common.callbacks.TrainingHooks`
        :param log_interval: how often to log, in updates (on-policy) or episodes (off-policy)
        :param tb_log_name: the TensorBoard run name (with ``tensorboard_log``; default: the class name)
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

    def set_env(self, env: EnvSpec, force_reset: bool = True) -> None:
        """Use a new environment, with the same observation and action spaces.

        A different number of environments is accepted.

        :param env: anything accepted by the constructor's ``env``
        :param force_reset: the next ``learn`` resets the environment (Stable-Baselines3's keyword);
            False continues from the model's last observations, which is right only for the
            environment the model last stepped (the same object, in the same state)
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
        self._set_vec_env(vec_env, force_reset=force_reset)

    def _set_vec_env(self, vec_env: VecEnv, force_reset: bool = True) -> None:
        self.env = vec_env
        self.n_envs = vec_env.num_envs
        if force_reset:
            # A continued environment is left exactly as it is (its seeds included).
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

    # --- what both training loops share ----------------------------------------------------------

    def _setup_learn(self, horizon_steps: int, reset_num_timesteps: bool) -> VecEnv:
        """Start a ``learn`` call: counters, the schedules' horizon, and the environment.

        ``reset_num_timesteps=True`` restarts the counters (:meth:`_reset_counters`) and the
        horizon. The horizon becomes the larger of the stored one and ``num_timesteps +
        horizon_steps``, so a run stopped by its callback, saved and loaded continues its
        original schedules. The environment is reset only when no observation is carried over
        (first call, new environment, ``load(..., force_reset=True)``, or a different number of
        environments, which warns).

        :param horizon_steps: the environment steps this call makes
        :param reset_num_timesteps: restart the counters and the schedules
        :return: the environment
        """
        env = self._require_env()
        if reset_num_timesteps:
            self._reset_counters()
        self._total_timesteps = max(self._total_timesteps, self.num_timesteps + horizon_steps)
        if self._last_obs is not None and len(self._last_obs) != env.num_envs:
            warnings.warn(f"the last observations are of {len(self._last_obs)} environments, the environment has "
                          f"{env.num_envs}: resetting it", stacklevel=3)
            self._forget_last_observation()
        if self._needs_reset():
            self._reset_env(env)
        return env

    def _reset_counters(self) -> None:
        """What ``learn(..., reset_num_timesteps=True)`` restarts (subclasses add their counters)."""
        self.num_timesteps = 0
        self._total_timesteps = 0
        self.num_episodes = 0
        self.ep_info_buf.clear()

    def _needs_reset(self) -> bool:
        return self._last_obs is None

    def _reset_env(self, env: VecEnv) -> None:
        """Reset the environments and keep their first observations in ``_last_obs``.

        :param env: the environments
        """
        self._last_obs = env.reset()

    def _record_episodes(self, infos: list[dict[str, Any]]) -> int:
        """Count the episodes that ended at this step and keep their return and length.

        :param infos: the step's infos
        :return: how many episodes ended
        """
        finished = [info["episode"] for info in infos if "episode" in info]
        self.ep_info_buf.extend(finished)
        self.num_episodes += len(finished)
        return len(finished)

    @property
    def _ep_info_list(self) -> list[dict[str, float]]:
        """:attr:`ep_info_buf` as a list, the form it is saved in."""
        return list(self.ep_info_buf)

    @_ep_info_list.setter
    def _ep_info_list(self, infos: list[dict[str, float]]) -> None:
        self.ep_info_buf = deque(infos, maxlen=EPISODE_INFO_BUFFER_SIZE)

    def _episode_means(self) -> tuple[float, float]:
        """Mean return and length of the episodes in :attr:`ep_info_buf` (nan without any).

        :return: ``(mean return, mean length)``
        """
        if not self.ep_info_buf:
            return float("nan"), float("nan")
        return (float(np.mean([info["r"] for info in self.ep_info_buf])),
                float(np.mean([info["l"] for info in self.ep_info_buf])))

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
        episode_start: Any = None,
    ) -> tuple[np.ndarray, Any]:
        """The action for one observation, or actions for a batch of observations.

        :param observation: one observation, or a batch (leading batch dimension)
        :param state: recurrent state (unused by MLP policies, returned unchanged)
        :param mask: episode-start mask for recurrent policies (unused)
        :param deterministic: greedy action instead of a sample
        :param episode_start: Stable-Baselines3's name for ``mask`` (give one of the two)
        :return: ``(action, state)``; Box actions are clipped to the action space bounds
        """
        _check_one_mask(mask, episode_start)
        batch, vectorized = self._observation_batch(observation)
        actions = np.asarray(self._predict_actions(batch, deterministic))
        if isinstance(self.action_space, gymnasium.spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        if not vectorized:
            actions = actions[0]
        return actions, state

    def action_probability(
        self,
        observation: np.ndarray,
        state: Any = None,
        mask: Any = None,
        actions: Any = None,
        logp: bool = False,
    ) -> Any:
        """The policy's action distribution for observations, or the probability of given actions
        (Stable Baselines 2's ``action_probability``, same shapes).

        Without ``actions``, for each observation: Discrete, the probability of each action
        ``(n_actions,)``; MultiDiscrete, a list with the probabilities of each dimension;
        MultiBinary, the probability of each bit being 1; Box, ``[mean, std]`` of the Gaussian.
        With ``actions`` (one per observation): their probability (density for Box), or
        log-probability with ``logp=True``, of shape ``(n, 1)`` (``(1,)`` for one observation).
        DQN's distribution is the softmax of its Q-values.

        :param observation: one observation, or a batch (leading batch dimension)
        :param state: recurrent state (unused by MLP policies)
        :param mask: episode-start mask for recurrent policies (unused)
        :param actions: actions whose probability to return, or None for the distribution
        :param logp: with ``actions``, return log-probabilities (ignored without ``actions``)
        :return: as described above; batched if ``observation`` is a batch
        """
        batch, vectorized = self._observation_batch(observation)
        proba = self._proba_step(batch)
        assert self.action_space is not None  # checked by _observation_batch
        result = proba if actions is None else probability_of_actions(self.action_space, proba, actions, logp)
        return result if vectorized else first_of_batch(result)

    def _proba_step(self, observations: np.ndarray) -> Any:
        """The action distribution of a batch, as described in
        :mod:`~stable_baselines_io.common.action_probability`.

        :param observations: the batch
        :return: an array, or a list of arrays
        """
        raise UnsupportedFeatureError(f"{type(self).__name__} does not define action probabilities")

    def _observation_batch(self, observation: np.ndarray) -> tuple[np.ndarray, bool]:
        """:return: the observation(s) as a batch, and whether they already were one"""
        if self.observation_space is None or self.action_space is None:
            raise NoEnvironmentError("the model has no observation/action space: it was never set up")
        if isinstance(observation, tuple) and len(observation) == 2 and isinstance(observation[1], dict):
            raise EnvApiMismatchError(
                "predict() received an (observation, info) tuple, the result of a gymnasium env's reset(): "
                "pass the observation alone (obs, info = env.reset(); model.predict(obs)); a VecEnv's "
                "reset() returns the observations only"
            )
        observation = np.asarray(observation)
        vectorized = _is_batched(observation, self.observation_space)
        batch = observation.reshape((-1, *self.observation_space.shape)) if self.observation_space.shape else (
            observation.reshape(-1)
        )
        return batch, vectorized

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
        spec = self.env.spec if self.env is not None else None
        if spec is not None and spec.id:
            metadata["env_id"] = spec.id
        return metadata

    @classmethod
    def _check_algorithm(cls, agent_file: AgentFile, source: str) -> None:
        stored = agent_file.metadata.get("algorithm")
        writer = cls._classes_by_name.get(stored) if isinstance(stored, str) else None
        if writer is not None and not (issubclass(writer, cls) or issubclass(cls, writer)):
            raise AlgorithmMismatchError(
                f"the file {source!r} was saved by {stored}, another algorithm than {cls.__name__}: load it with "
                f"{stored}.load"
            )
        data = agent_file.data or {}
        if stored is None and cls._sb2_data_keys and not any(key in data for key in cls._sb2_data_keys):
            raise AlgorithmMismatchError(
                f"the file {source!r} holds none of the data keys {list(cls._sb2_data_keys)} that every "
                f"{cls.__name__} file holds: it was saved by another algorithm (its keys: {sorted(data)})"
            )

    @classmethod
    def _check_stored_values(cls, agent_file: AgentFile, source: str) -> None:
        """Type- and range-check the hyperparameters, ``policy_kwargs``, training state and stored
        parameter shapes of a file before any variable or environment is built from them (see
        :func:`~stable_baselines_io.common.data_checks.check_loaded_agent`).

        :param agent_file: the file, as read
        :param source: the file, named in errors
        """
        check_loaded_agent(agent_file.data or {}, agent_file.params, agent_file.training_state, source)

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
        configure_tf_threads(model.n_cpu_tf_sess, warn="n_cpu_tf_sess" in overrides)
        if env is not None:
            model.set_env(env)
        model.setup_model()
        return model


def _check_one_mask(mask: Any, episode_start: Any) -> None:
    if mask is not None and episode_start is not None:
        raise ValueError("pass the episode starts as mask (Stable Baselines 2) or episode_start "
                         "(Stable-Baselines3), not both")


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


