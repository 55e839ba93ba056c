"""``BaseRLModel``: environment, prediction, seeding, and the bookkeeping both training loops share.

The loops themselves are in :mod:`.on_policy` (:class:`~.on_policy.ActorCriticRLModel`) and
:mod:`.off_policy` (:class:`~.off_policy.OffPolicyRLModel`); saving and loading in :mod:`.save_load`.
"""

from __future__ import annotations

import os
import random
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.action_probability import first_of_batch, probability_of_actions
from stable_baselines_io.common.callbacks import TrainingHooks
from stable_baselines_io.common.data_checks import check_loaded_agent
from stable_baselines_io.common.deferred_setup import Actor, defer_setup, finish_setup
from stable_baselines_io.common.optimizers import SlotOptimizer
from stable_baselines_io.common.save_load import ArchiveMember, SaveLoadMixin
from stable_baselines_io.common.sb2_layouts import adapt_sb2_agent, check_sb2_algorithm, stored_sb2_algorithm
from stable_baselines_io.common.tf_util import configure_tf_threads, tf_global_seed
from stable_baselines_io.common.vec_env import VecEnv, make_vec_env
from stable_baselines_io.common.vec_normalize import VecNormalize
from stable_baselines_io.exceptions import (
    AlgorithmMismatchError,
    CorruptAgentFileError,
    EnvApiMismatchError,
    NoEnvironmentError,
    SpaceMismatchError,
    UnknownPolicyError,
    UnsupportedFeatureError,
)
from stable_baselines_io.format.archive import ARRAYS_MEMBER
from stable_baselines_io.format.files import AgentFile
from stable_baselines_io.format.normalization import (
    VEC_NORMALIZE_MEMBER,
    StoredStatistics,
    arrays_to_statistics,
    statistics_to_arrays,
)
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
    #: The normalization statistics travel in the agent file (see :meth:`get_vec_normalize`).
    _archive_members: ClassVar[dict[str, ArchiveMember]] = {
        **SaveLoadMixin._archive_members,
        VEC_NORMALIZE_MEMBER: ArchiveMember(ARRAYS_MEMBER, "_get_vec_normalize_arrays", "_set_vec_normalize_arrays"),
    }
    #: The observations the next step continues from; None: the next ``learn`` resets the env.
    _last_obs: np.ndarray | None = None
    #: Normalization statistics held by the model while its environment is not a VecNormalize.
    _vec_normalize: VecNormalize | None = None
    #: Whether the "trained with normalization, acting without it" warning was given.
    _warned_unnormalized: bool = False
    #: Policy names accepted instead of a class, e.g. ``{"MlpPolicy": MlpPolicy}``.
    policy_aliases: ClassVar[Mapping[str, type]] = {}
    #: TensorFlow's thread pools (see :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`);
    #: algorithms set it before calling ``BaseRLModel.__init__``.
    n_cpu_tf_sess: int | None = None
    #: Data keys that Stable Baselines 2 wrote for this algorithm only: a file without
    #: ``metadata["algorithm"]`` that holds none of them was saved by another algorithm.
    _sb2_data_keys: ClassVar[tuple[str, ...]] = ()
    #: How the policies of ``policy_aliases`` name their parameters (:mod:`stable_baselines_io.format.names`
    #: schemes): a policy class a file names but safe mode does not import is rebuilt in this scheme.
    _parameter_scheme: ClassVar[str | None] = None
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

    # --- the optimizer, built by the first learn -------------------------------------------------

    #: ``load`` defers building the variables until they are needed (see
    #: :mod:`~stable_baselines_io.common.deferred_setup`); False builds them at once.
    _defer_setup_on_load: ClassVar[bool] = True
    #: The optimizer's class; its ``state_specs`` name the state a file may hold before it is built
    #: (None: the model has no optimizer).
    optimizer_class: ClassVar[type[SlotOptimizer] | None] = None
    _optimizer: SlotOptimizer | None = None

    @property
    def optimizer(self) -> SlotOptimizer:
        """The optimizer, built on first use (the first ``learn``), so that a model that only acts
        never creates its slots; a loaded file's optimizer state is assigned then."""
        if self._optimizer is None:
            self._optimizer = self._make_model_optimizer()
            self._take_pending_state_arrays(
                OrderedDict((variable.name, variable) for variable in self._optimizer.state_variables())
            )
        return self._optimizer

    def _make_model_optimizer(self) -> SlotOptimizer:
        """Build the optimizer of the trained variables (called once, by :attr:`optimizer`).

        :return: the optimizer
        """
        raise NotImplementedError(f"{type(self).__name__} has no optimizer")

    def _optimized_variables(self) -> list[tf.Variable]:
        """The variables the optimizer trains (its slots follow their names and shapes).

        :return: the variables
        """
        raise NotImplementedError(f"{type(self).__name__} has no optimizer")

    def _reset_optimizer(self) -> None:
        """Forget the optimizer and any pending optimizer state (``setup_model`` builds new variables)."""
        self._optimizer = None
        self._pending_state_arrays = OrderedDict()

    def _optimizer_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """The optimizer's state variables if it is built, else none.

        :return: ordered mapping name -> variable
        """
        if self._optimizer is None:
            return OrderedDict()
        return OrderedDict((variable.name, variable) for variable in self._optimizer.state_variables())

    def _unbuilt_state_specs(self) -> Mapping[str, tf.TensorSpec]:
        if self._optimizer is not None or self.optimizer_class is None:
            return {}
        return self.optimizer_class.state_specs(self._optimized_variables())

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
        if isinstance(self.env, VecNormalize) and not isinstance(vec_env, VecNormalize):
            self._vec_normalize = self.env  # its statistics stay with the model (predict, save)
        self._set_vec_env(vec_env, force_reset=force_reset)
        self._warn_if_unnormalized(stacklevel=3)

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

    # --- observation normalization ------------------------------------------------------------

    def get_vec_normalize(self) -> VecNormalize | None:
        """The normalization statistics the model acts with: its environment when that is a
        :class:`~stable_baselines_io.common.vec_normalize.VecNormalize`, else the statistics it holds
        (loaded from its file, attached with :meth:`set_vec_normalize`, or kept from a VecNormalize
        environment replaced by ``set_env``); None for a model trained without normalization.

        :return: the wrapper (detached when held by the model), or None
        """
        return self.env if isinstance(self.env, VecNormalize) else self._vec_normalize

    def set_vec_normalize(self, statistics: VecNormalize | StoredStatistics | None) -> None:
        """Attach normalization statistics to the model: :meth:`predict` then normalizes raw
        observations with them and :meth:`save` stores them in the agent file. An environment that
        is not a VecNormalize is wrapped in one holding them.

        :param statistics: a VecNormalize (held as it is by a model without environment; copied
            into the wrapper of the model's environment otherwise), a statistics record, or None
            to detach them
        :raises NormalizationStatisticsError: the statistics do not match the observation space
        """
        if isinstance(statistics, StoredStatistics):
            shape = None if self.observation_space is None else tuple(self.observation_space.shape or ())
            statistics = VecNormalize.from_statistics(
                arrays_to_statistics(statistics_to_arrays(statistics), "statistics", None, shape))
        self._vec_normalize = statistics
        if statistics is not None and self.env is not None and not isinstance(self.env, VecNormalize):
            self._set_vec_env(VecNormalize.from_statistics(statistics.get_statistics(), self.env), force_reset=False)
            self._vec_normalize = None

    def _normalizes_observations(self) -> bool:
        """Whether :meth:`predict` normalizes what it receives: the model holds statistics and its
        environment (whose observations are already normalized) is not a VecNormalize."""
        held = self._vec_normalize
        return held is not None and held.norm_obs and not isinstance(self.env, VecNormalize)

    def _warn_if_unnormalized(self, stacklevel: int = 2) -> None:
        """Warn once when a model trained with normalization is given an environment without it."""
        if self._vec_normalize is None or self.env is None or isinstance(self.env, VecNormalize) \
                or self._warned_unnormalized:
            return
        self._warned_unnormalized = True
        warnings.warn(
            f"this {type(self).__name__} was trained with VecNormalize, but its environment gives un-normalized "
            "observations: learn() would act and train on them. predict() still normalizes with the model's "
            "statistics. Wrap the environment: model.set_vec_normalize(model.get_vec_normalize())",
            UserWarning, stacklevel=stacklevel)

    def _get_vec_normalize_arrays(self, options: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """The ``vec_normalize`` member: the statistics of :meth:`get_vec_normalize` (with the
        discounted returns of the episodes in progress, for exact resume), or None.

        :param options: ``save``'s options (unused)
        :return: name -> array, or None
        """
        vec_normalize = self.get_vec_normalize()
        if vec_normalize is None:
            return None
        return statistics_to_arrays(vec_normalize.get_statistics(include_returns=vec_normalize is self.env))

    def _set_vec_normalize_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Take the statistics of the ``vec_normalize`` member: wrap the environment with them,
        or hold them for :meth:`predict`; an environment that is already a VecNormalize keeps its own.

        :param arrays: the member, as read
        :raises NormalizationStatisticsError: invalid statistics or of another observation shape
        """
        shape = None if self.observation_space is None else tuple(self.observation_space.shape or ())
        stats = arrays_to_statistics(arrays, "the agent file", VEC_NORMALIZE_MEMBER, shape)
        if isinstance(self.env, VecNormalize):
            return
        if self.env is not None:
            self._set_vec_env(VecNormalize.from_statistics(stats, self.env), force_reset=False)
        else:
            self._vec_normalize = VecNormalize.from_statistics(stats)

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
        self._warn_if_unnormalized(stacklevel=4)
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
        self._seed_generators(seed, reseed_tensorflow=True)

    def _seed_generators(self, seed: int | None, reseed_tensorflow: bool) -> None:
        """:meth:`set_random_seed`, where ``reseed_tensorflow=False`` leaves TensorFlow's global seed
        alone when it is ``seed`` already (setting it flushes TensorFlow's cache of op kernels,
        which makes the next few hundred eager ops several times slower).

        :param seed: the seed; None does nothing
        :param reseed_tensorflow: set TensorFlow's global seed even when it is ``seed``
        """
        if seed is None:
            return
        random.seed(seed)
        np.random.seed(seed)
        if reseed_tensorflow or tf_global_seed() != seed:
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

        A model that holds normalization statistics (see :meth:`get_vec_normalize`) while its
        environment is not a VecNormalize normalizes ``observation`` with them: pass raw
        observations. With a VecNormalize environment, pass the observations it returns (already
        normalized), as in Stable Baselines 2.

        :param observation: one observation, or a batch (leading batch dimension)
        :param state: recurrent policies: the state of each observation's environment, shape
            ``(n, 2 * n_lstm)`` (None: the initial state); returned unchanged by other policies
        :param mask: recurrent policies: one flag per observation, True where an episode begins
            (the state is reset before the step); None: no episode begins
        :param deterministic: greedy action instead of a sample
        :param episode_start: Stable-Baselines3's name for ``mask`` (give one of the two)
        :return: ``(action, state)``: the new states for a recurrent policy; Box actions are
            clipped to the action space bounds
        """
        _check_one_mask(mask, episode_start)
        batch, vectorized = self._observation_batch(observation)
        deferred = vars(self).get("_deferred_setup")
        actions = deferred.act(batch) if deferred is not None and deterministic else None
        if actions is None:
            actions, state = self._predict_step(batch, state, episode_start if mask is None else mask, deterministic)
        actions = np.asarray(actions)
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
        :param state: recurrent policies: the state of each observation's environment (None: the
            initial state); unused by other policies
        :param mask: recurrent policies: True where an episode begins; unused by other policies
        :param actions: actions whose probability to return, or None for the distribution
        :param logp: with ``actions``, return log-probabilities (ignored without ``actions``)
        :return: as described above; batched if ``observation`` is a batch
        """
        batch, vectorized = self._observation_batch(observation)
        proba = self._proba_with_state(batch, state, mask)
        assert self.action_space is not None  # checked by _observation_batch
        result = proba if actions is None else probability_of_actions(self.action_space, proba, actions, logp)
        return result if vectorized else first_of_batch(result)

    def _predict_step(self, observations: np.ndarray, state: Any, mask: Any, deterministic: bool
                      ) -> tuple[np.ndarray, Any]:
        """Actions for a batch, and the state to return: a feed-forward policy's is ``state`` unchanged.

        :param observations: the batch
        :param state: the recurrent states given to ``predict``
        :param mask: the episode starts given to ``predict``
        :param deterministic: act greedily instead of sampling
        :return: ``(actions, state)``
        """
        return self._predict_actions(observations, deterministic), state

    def _proba_with_state(self, observations: np.ndarray, state: Any, mask: Any) -> Any:
        """The action distribution of a batch given recurrent states (ignored by feed-forward policies).

        :param observations: the batch
        :param state: the recurrent states given to ``action_probability``
        :param mask: the episode starts given to ``action_probability``
        :return: as :meth:`_proba_step`
        """
        return self._proba_step(observations)

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
        if self._normalizes_observations():
            assert self._vec_normalize is not None
            batch = self._vec_normalize.normalize_obs(batch).astype(np.float32)
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
            sb2 = stored_sb2_algorithm(agent_file)
            hint = "" if sb2 is None else f"; it is Stable Baselines 2's {sb2.name}" + (
                f", loaded by {sb2.loaded_by}.load" if sb2.loaded_by else f", which this library does not load: "
                                                                          f"{sb2.reason}")
            raise AlgorithmMismatchError(
                f"the file {source!r} holds none of the data keys {list(cls._sb2_data_keys)} that every "
                f"{cls.__name__} file holds: it was saved by another algorithm (its keys: {sorted(data)}){hint}"
            )
        check_sb2_algorithm(cls.__name__, agent_file, source)

    @classmethod
    def _adapt_stored_agent(cls, agent_file: AgentFile, source: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """Keep the acting policy of a Stable Baselines 2 file that holds copies of it (TRPO's old
        policy), and rebuild a policy class that safe mode did not import from the stored arrays
        (see :mod:`.sb2_layouts`).

        :param agent_file: the file, as read
        :param source: the file, named in errors
        :param overrides: the attributes passed to ``load``
        :return: the attributes to set on the model
        """
        return adapt_sb2_agent(agent_file, source, overrides, cls._parameter_scheme)

    @classmethod
    def _check_stored_values(cls, agent_file: AgentFile, source: str) -> None:
        """Type- and range-check the hyperparameters, ``policy_kwargs``, training state and stored
        parameter shapes of a file before any variable or environment is built from them (see
        :func:`~stable_baselines_io.common.data_checks.check_loaded_agent`).

        :param agent_file: the file, as read
        :param source: the file, named in errors
        """
        check_loaded_agent(agent_file.data or {}, agent_file.params, agent_file.training_state, source)
        arrays = agent_file.state_arrays.get(VEC_NORMALIZE_MEMBER)
        if arrays is not None:
            space = (agent_file.data or {}).get("observation_space")
            shape = tuple(space.shape or ()) if isinstance(space, gymnasium.Space) else None
            arrays_to_statistics(arrays, source, VEC_NORMALIZE_MEMBER, shape)

    @classmethod
    def _build_from_file(cls: type[SelfBaseRLModel], agent_file: AgentFile, data: DataDict, env: EnvSpec | None,
                         overrides: dict[str, Any], source: str, force_reset: bool) -> SelfBaseRLModel:
        """Load without building the variables when the model can act without them (see
        :mod:`~stable_baselines_io.common.deferred_setup`); otherwise, or when anything about the
        file is unusual, the normal way (which reports every problem).
        """
        if cls._defer_setup_on_load and isinstance(agent_file.params, Mapping) and agent_file.params:
            try:
                model = cls._from_data(data, env, overrides, setup=False)
                if defer_setup(model, agent_file, agent_file.params, force_reset):
                    return model
            except Exception:  # noqa: BLE001 (the normal load below reports the file's problem, if it has one)
                pass
        return super()._build_from_file(agent_file, data, env, overrides, source, force_reset)

    def __getattr__(self, name: str) -> Any:
        """Only called for a missing attribute: a model loaded without building (see
        :mod:`~stable_baselines_io.common.deferred_setup`) is built on the first access to an
        attribute the setup makes."""
        if name.startswith("__") or "_deferred_setup" not in vars(self):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        finish_setup(self)
        return getattr(self, name)

    def _deferred_actor(self) -> Actor | None:
        """Called by ``load`` on a model set up on constant tensors: a function that computes the
        deterministic actions of a batch from them (the model's own computation, without ``self``,
        whose setup attributes are set aside next), or None if this model cannot act so (it is then
        built at its first prediction).

        :return: ``actor(observations) -> actions``, as :meth:`_predict_step` returns them, or None
        """
        return None

    def _seed_for_setup(self) -> None:
        """``setup_model``'s seeding (:meth:`set_random_seed`, except that TensorFlow's global seed
        is only set when it differs: every ``load`` and new model would otherwise flush TensorFlow's
        kernel cache), skipped when it finishes a deferred load: the load seeded already, and
        seeding again later would reset the user's generators."""
        if not vars(self).get("_seeded_at_load", False):
            self._seed_generators(self.seed, reseed_tensorflow=False)

    @classmethod
    def _from_data(cls: type[SelfBaseRLModel], data: DataDict, env: EnvSpec | None,
                   overrides: dict[str, Any], setup: bool = True) -> SelfBaseRLModel:
        """See :meth:`SaveLoadMixin._from_data`; ``setup=False`` leaves ``setup_model`` to the caller."""
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
        if setup:
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


