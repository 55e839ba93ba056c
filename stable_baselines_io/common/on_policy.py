"""The on-policy actor-critic base: it owns ``learn`` (collect a rollout, train on it, repeat).

An algorithm on this base (PPO, A2C) supplies only what makes it different:

- :meth:`ActorCriticRLModel._make_optimizer` and :meth:`ActorCriticRLModel._setup_train_step`;
- :meth:`ActorCriticRLModel._compute_advantages`: the advantages and returns of a rollout;
- :meth:`ActorCriticRLModel._train`: the update on one rollout, returning its loss statistics.
"""

from __future__ import annotations

import functools
import time
import warnings
from abc import abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import gymnasium
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from stable_baselines_io.common.base_class import BaseRLModel
from stable_baselines_io.common.callbacks import TrainingHooks, as_hooks
from stable_baselines_io.common.cnn_policies import CnnPolicy
from stable_baselines_io.common.deferred_setup import Actor
from stable_baselines_io.common.logger import print_table
from stable_baselines_io.common.optimizers import SlotOptimizer, apply_clipped_gradients
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.common.preprocessing import observations_to_array
from stable_baselines_io.common.recurrent_policies import RECURRENT_POLICIES, LstmPolicy
from stable_baselines_io.common.tensorboard import TensorBoardLogging
from stable_baselines_io.common.tf_util import generator_from_seed
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import CorruptAgentFileError, NoEnvironmentError, RecurrentStateError
from stable_baselines_io.format.names import ACTOR_CRITIC_SCHEME
from stable_baselines_io.schedules import Schedule, get_schedule_fn
from stable_baselines_io.type_aliases import Callback, EnvSpec

SelfActorCritic = TypeVar("SelfActorCritic", bound="ActorCriticRLModel")

#: Name of the action-sampling generator's state among the state variables (``training_arrays``).
RANDOM_GENERATOR_STATE = "random_generator/state"

#: The policies of the on-policy algorithms: feed-forward or recurrent.
ActorCriticPolicy = MlpPolicy | LstmPolicy


@dataclass
class Rollout:
    """One rollout, flattened to ``n_steps * n_envs`` samples (step-major)."""

    observations: np.ndarray
    actions: np.ndarray
    values: np.ndarray
    neglogps: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    #: Recurrent policies only: the episode starts of the samples (the masks of the steps).
    masks: np.ndarray | None = None
    #: Recurrent policies only: the state of each environment before the rollout's first step.
    states: np.ndarray | None = None


class ActorCriticRLModel(TensorBoardLogging, BaseRLModel):
    """Base of on-policy actor-critic algorithms (PPO, A2C): the rollout loop, the policy, the
    optimizer's state and the action-sampling generator.

    :param policy: the policy class, or ``"MlpPolicy"`` or ``"CnnPolicy"``
    :param env: a gymnasium env, an env id, a vectorized env, or None (predict-only model)
    :param gamma: discount factor
    :param n_steps: steps per environment per update (the rollout is ``n_steps * n_envs``)
    :param ent_coef: entropy coefficient of the loss
    :param learning_rate: learning rate, or a schedule of the remaining progress (1 -> 0)
    :param vf_coef: value loss coefficient of the loss
    :param max_grad_norm: maximum global norm of the gradient (None: no clipping)
    :param verbose: 0 silent, 1 a table of training statistics every ``log_interval`` updates
    :param _init_setup_model: build the networks now (``load`` passes False and builds later)
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ``act_fun``)
    :param seed: seed of every random number generator (networks, sampling, envs)
    :param n_envs: number of environment copies when ``env`` is an env id
    :param n_cpu_tf_sess: threads of TensorFlow's intra-op and inter-op pools (None: one per core;
        see :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`)
    :param tensorboard_log: folder of TensorBoard runs (None: none; see
        :mod:`~stable_baselines_io.common.tensorboard`)
    :param full_tensorboard_log: also write histograms of the trained variables
    """

    policy_aliases: ClassVar[dict[str, type]] = {"MlpPolicy": MlpPolicy, "CnnPolicy": CnnPolicy, **RECURRENT_POLICIES}
    _parameter_scheme: ClassVar[str | None] = ACTOR_CRITIC_SCHEME
    _save_attrs: ClassVar[tuple[str, ...]] = (
        *BaseRLModel._save_attrs,
        "gamma",
        "learning_rate",
        "n_steps",
        "vf_coef",
        "ent_coef",
        "max_grad_norm",
        "n_cpu_tf_sess",
        "tensorboard_log",
        "full_tensorboard_log",
    )
    #: The optimizer slots and the action-sampling generator are in :meth:`get_state_variables`;
    #: ``_policy_states`` is the recurrent state of the running environments (recurrent policies).
    _state_attrs: ClassVar[tuple[str, ...]] = (*BaseRLModel._state_attrs, "_n_updates", "_episode_starts",
                                               "_policy_states")
    #: Draws the initial weights and the sampled actions.
    random_generator: tf.random.Generator

    def __init__(
        self,
        policy: type | str,
        env: EnvSpec | None,
        gamma: float,
        n_steps: int,
        ent_coef: float,
        learning_rate: float | Schedule,
        vf_coef: float,
        max_grad_norm: float | None,
        verbose: int = 0,
        _init_setup_model: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        n_envs: int = 1,
        n_cpu_tf_sess: int | None = None,
        tensorboard_log: str | None = None,
        full_tensorboard_log: bool = False,
    ):
        self.n_cpu_tf_sess = n_cpu_tf_sess
        self.tensorboard_log = tensorboard_log
        self.full_tensorboard_log = full_tensorboard_log
        self.gamma = gamma
        self.n_steps = n_steps
        self.ent_coef = ent_coef
        self.learning_rate = learning_rate
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.policy_net: ActorCriticPolicy | None = None
        self._episode_starts: np.ndarray | None = None
        #: Recurrent policies: the state each environment's next step starts from (None otherwise).
        self._policy_states: np.ndarray | None = None
        #: Updates since the last ``learn(..., reset_num_timesteps=True)``.
        self._n_updates = 0
        super().__init__(
            policy=policy, env=env, verbose=verbose, policy_kwargs=policy_kwargs, seed=seed, n_envs=n_envs
        )
        if _init_setup_model:
            self.setup_model()

    # --- what each algorithm supplies -----------------------------------------------------------

    @abstractmethod
    def _make_optimizer(self, variables: list[tf.Variable], learning_rate: float) -> Any:
        """The optimizer of ``variables`` (with a ``learning_rate`` variable and ``state_variables()``).

        :param variables: the trained variables
        :param learning_rate: the initial learning rate
        :return: the optimizer
        """

    @abstractmethod
    def _setup_train_step(self) -> None:
        """Build what :meth:`_train` runs (e.g. a compiled minibatch step), after the policy."""

    @abstractmethod
    def _compute_advantages(
        self, rewards: np.ndarray, values: np.ndarray, episode_starts: np.ndarray, last_values: np.ndarray,
        last_episode_starts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The advantages and returns of a rollout (arguments as :func:`compute_gae`'s).

        :return: ``(advantages, returns)``, each ``(n_steps, n_envs)``
        """

    @abstractmethod
    def _train(self, rollout: Rollout, progress_remaining: float) -> dict[str, float]:
        """Update the policy on one rollout.

        :param rollout: the rollout
        :param progress_remaining: 1 at the start of training, 0 at the end (for schedules)
        :return: loss statistics, logged by name
        """

    def _check_hyperparameters(self) -> None:
        """Refuse (or warn about) hyperparameters ``learn`` cannot run with; called first."""

    def _learning_rate_at(self, progress_remaining: float) -> float:
        """The learning rate of the update starting at ``progress_remaining``.

        :param progress_remaining: 1 at the start of training, 0 at the end
        :return: the learning rate
        """
        return get_schedule_fn(self.learning_rate)(progress_remaining)

    # --- model --------------------------------------------------------------------------------

    def setup_model(self) -> None:
        """Build the policy, the optimizer and the training step from the attributes.

        Loss coefficients become constants of a compiled training step when it is first traced
        (as Stable Baselines 2 built them into its graph): set them before the first
        :meth:`learn` (or pass them to ``load``). Schedules are read at each update.
        """
        if self.observation_space is None or self.action_space is None:
            raise NoEnvironmentError(
                f"{type(self).__name__} needs an environment (or the spaces of a loaded model) to build its policy"
            )
        self._seed_for_setup()
        if self.seed is None:
            self.random_generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.random_generator = generator_from_seed(self.seed)
        self.policy_net = self.policy(
            self.observation_space, self.action_space, generator=self.random_generator, **self.policy_kwargs
        )
        self._trained_variables = self.policy_net.actor_critic_parameters()
        self._learning_rate_at(1.0)  # a bad schedule fails here, not at the first learn that builds the optimizer
        self._reset_optimizer()
        self._setup_train_step()

    def _make_model_optimizer(self) -> SlotOptimizer:
        return self._make_optimizer(self._trained_variables, self._learning_rate_at(1.0))

    def _optimized_variables(self) -> list[tf.Variable]:
        return self._trained_variables

    def get_parameter_list(self) -> list[tf.Variable]:
        """The policy's variables in Stable Baselines 2 order.

        :return: the variables
        """
        return self._require_policy().get_parameter_list()

    def get_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """The optimizer's state variables (named as in Stable Baselines 2, e.g.
        ``Adam/iterations:0``, ``<variable>/Adam:0``), then the state of the generator that samples
        actions (:data:`RANDOM_GENERATOR_STATE`).

        :return: ordered mapping name -> variable
        """
        self._require_policy()
        self.optimizer  # noqa: B018 (built on first use)
        return self._built_state_variables()

    def _built_state_variables(self) -> OrderedDict[str, tf.Variable]:
        variables = self._optimizer_state_variables()
        variables[RANDOM_GENERATOR_STATE] = self.random_generator.state
        return variables

    def _apply_gradients(self, gradients: list[tf.Tensor]) -> None:
        """Clip the gradients' global norm to ``max_grad_norm`` (unless None) and take an optimizer step.

        :param gradients: one gradient per trained variable
        """
        apply_clipped_gradients(self.optimizer, gradients, self.max_grad_norm)

    def _require_policy(self) -> ActorCriticPolicy:
        if self.policy_net is None:
            raise NoEnvironmentError(f"this {type(self).__name__} has not been set up: call setup_model()")
        return self.policy_net

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        return self._predict_step(observations, None, None, deterministic)[0]

    def _predict_step(self, observations: np.ndarray, state: Any, mask: Any, deterministic: bool
                      ) -> tuple[np.ndarray, Any]:
        policy = self._require_policy()
        if isinstance(policy, LstmPolicy):
            batch = observations_to_array(observations, policy.observation_space)
            inputs = (batch, *self._recurrent_inputs(policy, len(batch), state, mask))
            actions, new_state = policy.deterministic_actions(*inputs) if deterministic else policy.sampled_actions(
                *inputs)
            return _action_array(policy, actions), new_state.numpy()
        return feed_forward_actions(policy, observations, deterministic), state

    def _deferred_actor(self) -> Actor | None:
        policy = self._require_policy()
        if isinstance(policy, LstmPolicy):
            return None
        return functools.partial(feed_forward_actions, policy, deterministic=True)

    def _proba_step(self, observations: np.ndarray) -> Any:
        return self._proba_with_state(observations, None, None)

    def _proba_with_state(self, observations: np.ndarray, state: Any, mask: Any) -> Any:
        policy = self._require_policy()
        batch = observations_to_array(observations, policy.observation_space)
        if isinstance(policy, LstmPolicy):
            proba = policy.action_proba(batch, *self._recurrent_inputs(policy, len(batch), state, mask))
        else:
            proba = policy.action_proba(batch)
        if isinstance(proba, (list, tuple)):
            return [np.asarray(part) for part in proba]
        return np.asarray(proba)

    @staticmethod
    def _recurrent_inputs(policy: LstmPolicy, n_observations: int, state: Any, mask: Any
                          ) -> tuple[np.ndarray, np.ndarray]:
        """The states and masks of a recurrent policy's step, from ``predict``'s arguments.

        :param policy: the recurrent policy
        :param n_observations: the observations in the batch
        :param state: one state per observation, or None for :attr:`initial_state`
        :param mask: one flag per observation, 1 (True) where an episode begins; None: none begins
        :return: ``(states, masks)`` as float32 arrays
        """
        states = policy.initial_state(n_observations) if state is None else policy.check_states(state, n_observations)
        if mask is None:
            return states, np.zeros(n_observations, dtype=np.float32)
        masks = np.asarray(mask, dtype=np.float32).reshape(-1)
        if masks.shape != (n_observations,):
            raise RecurrentStateError(f"mask must hold one flag per observation ({n_observations}), received "
                                      f"{masks.size} value(s)")
        return states, masks

    @property
    def initial_state(self) -> np.ndarray | None:
        """The recurrent state of environments that have not started (zeros of shape
        ``(n_envs, 2 * n_lstm)``), as Stable Baselines 2; None for a feed-forward policy.

        :return: the states, or None
        """
        policy = self.policy_net
        return policy.initial_state(self.n_envs) if isinstance(policy, LstmPolicy) else None

    @property
    def recurrent(self) -> bool:
        """:return: whether the policy is recurrent (its ``predict`` takes and returns states)"""
        return isinstance(self.policy_net, LstmPolicy)

    # --- the environment between calls ---------------------------------------------------------

    def _forget_last_observation(self) -> None:
        super()._forget_last_observation()
        self._episode_starts = None
        self._policy_states = None

    def _needs_reset(self) -> bool:
        missing_state = self.recurrent and self._policy_states is None
        return self._last_obs is None or self._episode_starts is None or missing_state

    def _reset_env(self, env: VecEnv) -> None:
        policy = self._require_policy()
        self._last_obs = observations_to_array(env.reset(), policy.observation_space)
        self._episode_starts = np.ones(env.num_envs, dtype=bool)
        self._policy_states = policy.initial_state(env.num_envs) if isinstance(policy, LstmPolicy) else None

    def _set_training_state(self, state: dict[str, Any]) -> None:
        super()._set_training_state(state)
        self._check_policy_states()

    def _check_policy_states(self) -> None:
        """Refuse stored recurrent states that do not fit the policy and the stored observations."""
        states, policy = self._policy_states, self._require_policy()
        if states is None:
            return
        if not isinstance(policy, LstmPolicy):
            raise CorruptAgentFileError(f"training state key '_policy_states' holds recurrent states, but the policy "
                                        f"{type(policy).__name__} is not recurrent", member="training_state")
        n_envs = self.n_envs if self._last_obs is None else len(self._last_obs)
        expected = (n_envs, policy.state_size)
        if states.dtype != np.float32 or states.shape != expected:
            raise CorruptAgentFileError(f"training state key '_policy_states' must be float32 of shape {expected} "
                                        f"(environments, 2 * n_lstm), received {states.dtype} of shape "
                                        f"{states.shape}", member="training_state")

    def _reset_counters(self) -> None:
        super()._reset_counters()
        self._n_updates = 0

    # --- training -----------------------------------------------------------------------------

    def learn(
        self: SelfActorCritic,
        total_timesteps: int,
        callback: Callback | TrainingHooks | list[Callback | TrainingHooks] | None = None,
        log_interval: int = 1,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfActorCritic:
        """Train for ``total_timesteps // (n_steps * n_envs)`` updates.

        Calling ``learn`` again continues the same episodes: the environment is reset only on the
        first call, after :meth:`set_env`, or after ``load(..., force_reset=True)``.

        Schedules receive ``progress_remaining = 1 - num_timesteps / horizon``. A call with
        ``reset_num_timesteps=True`` restarts ``num_timesteps`` and sets the horizon to the steps
        its updates make, so ``learn(T)`` follows Stable Baselines 2's
        ``1 - (update - 1) / n_updates``. With ``reset_num_timesteps=False`` the horizon is the
        larger of the stored one and ``num_timesteps`` plus this call's steps: a run stopped by its
        callback, saved and loaded continues its original schedule.

        :param total_timesteps: environment steps, summed over the environments
        :param callback: ``callback(locals(), globals())`` after every update (returning False
            stops), a :class:`~stable_baselines_io.common.callbacks.BaseCallback` (or any
            :class:`~stable_baselines_io.common.callbacks.TrainingHooks`), or a list of these
        :param log_interval: updates between two tables of statistics (when ``verbose >= 1``)
        :param tb_log_name: the TensorBoard run name (default: the class name), with
            ``tensorboard_log``
        :param reset_num_timesteps: restart ``num_timesteps``, the update count and the schedules
        :param progress_bar: show a tqdm progress bar
        :return: the model
        """
        self._require_env()
        self._check_hyperparameters()
        n_batch = self.n_steps * self.n_envs
        n_updates = total_timesteps // n_batch
        if n_updates == 0:
            warnings.warn(f"total_timesteps={total_timesteps} is less than n_steps * n_envs = {n_batch}: "
                          "no update is made", stacklevel=2)
        # Whole updates only, so that progress_remaining steps exactly as in Stable Baselines 2.
        env = self._setup_learn(n_updates * n_batch, reset_num_timesteps)
        hooks = as_hooks(callback)
        self._start_tensorboard(tb_log_name or type(self).__name__, reset_num_timesteps)
        start_time, start_timesteps = time.perf_counter(), self.num_timesteps
        hooks.on_training_start(locals())
        with tqdm(total=total_timesteps, unit="steps", disable=not progress_bar) as progress:
            for update in range(1, n_updates + 1):
                progress_remaining = 1.0 - self.num_timesteps / self._total_timesteps
                learning_rate = self._learning_rate_at(progress_remaining)
                self.optimizer.learning_rate.assign(learning_rate)

                hooks.on_rollout_start(locals())
                rollout = self._collect_rollout(env, self._require_policy(), hooks)
                if rollout is None:
                    break
                hooks.on_rollout_end(locals())
                losses = self._train(rollout, progress_remaining)
                self._n_updates += 1

                progress.update(n_batch)
                statistics = self._update_statistics(learning_rate, losses, rollout)
                self._log_statistics(statistics, self._trained_variables)
                if self.verbose >= 1 and (self._n_updates % log_interval == 0 or update == 1):
                    fps = (self.num_timesteps - start_timesteps) / max(time.perf_counter() - start_time, 1e-9)
                    self._print_update(fps, statistics)
                if not hooks.on_iteration_end(locals(), globals()):
                    break
        hooks.on_training_end(locals())
        self._stop_tensorboard()
        return self

    def _collect_rollout(self, env: VecEnv, policy: ActorCriticPolicy, hooks: TrainingHooks | None = None
                         ) -> Rollout | None:
        """Step every environment ``n_steps`` times, then estimate advantages and returns.

        :param env: the environments
        :param policy: the policy that acts
        :param hooks: called after every step
        :return: the flattened rollout, or None when a hook stopped training
        """
        hooks = hooks or TrainingHooks()
        if self._last_obs is None or self._episode_starts is None:
            raise RuntimeError("the environment has not been reset: learn() starts rollouts")
        n_steps, n_envs = self.n_steps, self.n_envs
        last_obs, last_episode_starts = self._last_obs, self._episode_starts
        observations = np.zeros((n_steps, *last_obs.shape), dtype=last_obs.dtype)
        action_shape, action_dtype = policy.action_spec.shape[1:], policy.action_spec.dtype.as_numpy_dtype
        actions = np.zeros((n_steps, n_envs, *action_shape), dtype=action_dtype)
        rewards = np.zeros((n_steps, n_envs), dtype=np.float32)
        episode_starts = np.zeros((n_steps, n_envs), dtype=bool)
        values = np.zeros((n_steps, n_envs), dtype=np.float32)
        neglogps = np.zeros((n_steps, n_envs), dtype=np.float32)
        initial_states = self._policy_states

        for step in range(n_steps):
            observations[step] = last_obs
            episode_starts[step] = last_episode_starts
            actions[step], values[step], neglogps[step] = self._policy_step(policy, last_obs, last_episode_starts)

            next_obs, step_rewards, terminated, truncated, infos = env.step(self._to_env_actions(actions[step], policy))
            self.num_timesteps += n_envs
            self._record_episodes(infos)
            self._log_episode_rewards(infos)
            # A time limit is not a terminal state: bootstrap from the value of the last observation.
            truncated_only = np.flatnonzero(truncated & ~terminated)
            if truncated_only.size:
                terminal_obs = np.stack([infos[index]["terminal_observation"] for index in truncated_only])
                terminal_values = self._policy_values(
                    policy, observations_to_array(terminal_obs, policy.observation_space),
                    np.zeros(truncated_only.size, dtype=bool), truncated_only)
                step_rewards[truncated_only] += self.gamma * terminal_values
            rewards[step] = step_rewards
            last_obs = observations_to_array(next_obs, policy.observation_space)
            last_episode_starts = terminated | truncated
            # Kept on the model, so that the next rollout (even in the next learn()) continues these episodes.
            self._last_obs, self._episode_starts = last_obs, last_episode_starts
            if not hooks.on_step(locals()):
                return None

        last_values = self._policy_values(policy, last_obs, last_episode_starts)
        advantages, returns = self._compute_advantages(rewards, values, episode_starts, last_values,
                                                       last_episode_starts)

        def flat(array: np.ndarray) -> np.ndarray:
            return array.reshape((n_steps * n_envs, *array.shape[2:]))

        return Rollout(
            observations=flat(observations),
            actions=flat(actions),
            values=flat(values),
            neglogps=flat(neglogps),
            advantages=flat(advantages),
            returns=flat(returns),
            masks=flat(episode_starts).astype(np.float32) if initial_states is not None else None,
            states=initial_states,
        )

    def _policy_step(self, policy: ActorCriticPolicy, observations: np.ndarray, episode_starts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample the actions of one step of every environment; a recurrent policy advances
        ``_policy_states``.

        :param policy: the policy that acts
        :param observations: ``(n_envs, ...)``
        :param episode_starts: ``(n_envs,)``, the masks of a recurrent policy
        :return: ``(actions, values, neglogps)``
        """
        if isinstance(policy, LstmPolicy):
            actions, values, states, neglogps = policy.step(observations, self._policy_states,
                                                            episode_starts.astype(np.float32))
            self._policy_states = states.numpy()
        else:
            actions, values, neglogps = policy.step(observations)
        return actions.numpy(), values.numpy(), neglogps.numpy()

    def _policy_values(self, policy: ActorCriticPolicy, observations: np.ndarray, episode_starts: np.ndarray,
                       env_indices: np.ndarray | None = None) -> np.ndarray:
        """Value estimates; a recurrent policy starts from ``_policy_states`` (of ``env_indices``).

        :param policy: the policy
        :param observations: one per environment (of ``env_indices``)
        :param episode_starts: the masks of a recurrent policy
        :param env_indices: the environments the observations belong to (default: all)
        :return: ``(len(observations),)``
        """
        if isinstance(policy, LstmPolicy) and self._policy_states is not None:
            states = self._policy_states if env_indices is None else self._policy_states[env_indices]
            return policy.value(observations, states, episode_starts.astype(np.float32)).numpy()
        return policy.value(observations).numpy()

    @staticmethod
    def _to_env_actions(actions: np.ndarray, policy: ActorCriticPolicy) -> np.ndarray:
        space = policy.action_space
        actions = actions.reshape((len(actions), *(space.shape or ())))
        if isinstance(space, gymnasium.spaces.Box):
            return np.clip(actions, space.low, space.high)
        return actions

    def _update_statistics(self, learning_rate: float, losses: dict[str, float], rollout: Rollout) -> dict[str, float]:
        """The statistics of an update, for the table and TensorBoard.

        :param learning_rate: the update's learning rate
        :param losses: the statistics of :meth:`_train`
        :param rollout: the rollout trained on
        :return: name -> value
        """
        return {
            "explained_variance": explained_variance(rollout.values, rollout.returns),
            "learning_rate": learning_rate,
            **losses,
            "discounted_rewards": float(np.mean(rollout.returns)),
            "advantage": float(np.mean(rollout.advantages)),
        }

    def _print_update(self, fps: float, statistics: dict[str, float]) -> None:
        ep_reward_mean, ep_len_mean = self._episode_means()
        shown = {key: value for key, value in statistics.items() if key not in ("discounted_rewards", "advantage")}
        print_table({
            "n_updates": self._n_updates,
            "total_timesteps": self.num_timesteps,
            "fps": int(fps),
            "ep_reward_mean": ep_reward_mean,
            "ep_len_mean": ep_len_mean,
            **shown,
        })


def feed_forward_actions(policy: ActorCriticPolicy, observations: np.ndarray, deterministic: bool) -> np.ndarray:
    """The actions a feed-forward policy takes for a batch: greedy, or sampled from its generator.

    :param policy: the policy
    :param observations: the batch
    :param deterministic: the distribution's mode instead of a sample
    :return: the actions, ``(batch, *action_space.shape)``
    """
    batch = observations_to_array(observations, policy.observation_space)
    actions = policy.deterministic_actions(batch) if deterministic else policy.sampled_actions(batch)
    return _action_array(policy, actions)


def _action_array(policy: ActorCriticPolicy, actions: tf.Tensor) -> np.ndarray:
    return actions.numpy().reshape((-1, *(policy.action_space.shape or ())))


def recurrent_specs(policy: ActorCriticPolicy) -> list[tf.TensorSpec]:
    """The extra inputs of a training step for a recurrent policy: the states before the
    sequences, and the masks of the samples; none for a feed-forward policy.

    :param policy: the policy
    :return: ``[state_spec, mask_spec]`` or ``[]``
    """
    return [policy.state_spec, policy.mask_spec] if isinstance(policy, LstmPolicy) else []


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    last_episode_starts: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation (Schulman et al. 2016) over a rollout.

    ``episode_starts[t]`` marks an observation that begins an episode, so the step before it
    ended one: no value is bootstrapped across it. ``lam=1`` gives the n-step returns of A2C.

    :param rewards: ``(n_steps, n_envs)``
    :param values: value estimates of the observations, ``(n_steps, n_envs)``
    :param episode_starts: ``(n_steps, n_envs)``
    :param last_values: value estimates of the observations after the rollout, ``(n_envs,)``
    :param last_episode_starts: whether those observations begin an episode, ``(n_envs,)``
    :param gamma: discount factor
    :param lam: GAE lambda
    :return: ``(advantages, returns)``, each ``(n_steps, n_envs)``, returns = advantages + values
    """
    next_values = np.concatenate([values[1:], last_values[None]])
    next_non_terminal = 1.0 - np.concatenate([episode_starts[1:], last_episode_starts[None]]).astype(np.float32)
    advantages = np.zeros_like(rewards, dtype=np.float32)
    last_gae = np.zeros_like(last_values, dtype=np.float32)
    for step in reversed(range(len(rewards))):
        delta = rewards[step] + gamma * next_values[step] * next_non_terminal[step] - values[step]
        last_gae = delta + gamma * lam * next_non_terminal[step] * last_gae
        advantages[step] = last_gae
    return advantages, advantages + values


def explained_variance(predictions: np.ndarray, targets: np.ndarray) -> float:
    """``1 - Var(targets - predictions) / Var(targets)``: 1 is perfect, 0 no better than a constant.

    :param predictions: the value estimates
    :param targets: the returns
    :return: the explained variance (nan when the targets are constant)
    """
    variance = np.var(targets)
    return float("nan") if variance == 0 else float(1.0 - np.var(targets - predictions) / variance)
