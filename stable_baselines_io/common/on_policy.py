"""The on-policy actor-critic base: it owns ``learn`` (collect a rollout, train on it, repeat).

An algorithm on this base (PPO, A2C) supplies only what makes it different:

- :meth:`ActorCriticRLModel._make_optimizer` and :meth:`ActorCriticRLModel._setup_train_step`;
- :meth:`ActorCriticRLModel._compute_advantages`: the advantages and returns of a rollout;
- :meth:`ActorCriticRLModel._train`: the update on one rollout, returning its loss statistics.
"""

from __future__ import annotations

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
from stable_baselines_io.common.logger import print_table
from stable_baselines_io.common.optimizers import SlotOptimizer, apply_clipped_gradients
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.common.preprocessing import observations_to_array
from stable_baselines_io.common.tensorboard import TensorBoardLogging
from stable_baselines_io.common.vec_env import VecEnv
from stable_baselines_io.exceptions import NoEnvironmentError
from stable_baselines_io.schedules import Schedule, get_schedule_fn
from stable_baselines_io.type_aliases import Callback, EnvSpec

SelfActorCritic = TypeVar("SelfActorCritic", bound="ActorCriticRLModel")

#: Name of the action-sampling generator's state among the state variables (``training_arrays``).
RANDOM_GENERATOR_STATE = "random_generator/state"


@dataclass
class Rollout:
    """One rollout, flattened to ``n_steps * n_envs`` samples (step-major)."""

    observations: np.ndarray
    actions: np.ndarray
    values: np.ndarray
    neglogps: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray


class ActorCriticRLModel(TensorBoardLogging, BaseRLModel):
    """Base of on-policy actor-critic algorithms (PPO, A2C): the rollout loop, the policy, the
    optimizer's state and the action-sampling generator.

    :param policy: the policy class, or ``"MlpPolicy"``
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

    policy_aliases: ClassVar[dict[str, type]] = {"MlpPolicy": MlpPolicy}
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
    #: The optimizer slots and the action-sampling generator are in :meth:`get_state_variables`.
    _state_attrs: ClassVar[tuple[str, ...]] = (*BaseRLModel._state_attrs, "_n_updates", "_episode_starts")
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
        self.policy_net: MlpPolicy | None = None
        self._episode_starts: np.ndarray | None = None
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
        self.set_random_seed(self.seed)
        if self.seed is None:
            self.random_generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.random_generator = tf.random.Generator.from_seed(self.seed)
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

    def _require_policy(self) -> MlpPolicy:
        if self.policy_net is None:
            raise NoEnvironmentError(f"this {type(self).__name__} has not been set up: call setup_model()")
        return self.policy_net

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        policy = self._require_policy()
        batch = observations_to_array(observations, policy.observation_space)
        actions = policy.deterministic_actions(batch) if deterministic else policy.sampled_actions(batch)
        return actions.numpy().reshape((-1, *(policy.action_space.shape or ())))

    def _proba_step(self, observations: np.ndarray) -> Any:
        policy = self._require_policy()
        proba = policy.action_proba(observations_to_array(observations, policy.observation_space))
        if isinstance(proba, (list, tuple)):
            return [np.asarray(part) for part in proba]
        return np.asarray(proba)

    # --- the environment between calls ---------------------------------------------------------

    def _forget_last_observation(self) -> None:
        super()._forget_last_observation()
        self._episode_starts = None

    def _needs_reset(self) -> bool:
        return self._last_obs is None or self._episode_starts is None

    def _reset_env(self, env: VecEnv) -> None:
        self._last_obs = observations_to_array(env.reset(), self._require_policy().observation_space)
        self._episode_starts = np.ones(env.num_envs, dtype=bool)

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

    def _collect_rollout(self, env: VecEnv, policy: MlpPolicy, hooks: TrainingHooks | None = None) -> Rollout | None:
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

        for step in range(n_steps):
            observations[step] = last_obs
            episode_starts[step] = last_episode_starts
            step_actions, step_values, step_neglogps = policy.step(last_obs)
            actions[step] = step_actions.numpy()
            values[step] = step_values.numpy()
            neglogps[step] = step_neglogps.numpy()

            next_obs, step_rewards, terminated, truncated, infos = env.step(self._to_env_actions(actions[step], policy))
            self.num_timesteps += n_envs
            self._record_episodes(infos)
            self._log_episode_rewards(infos)
            # A time limit is not a terminal state: bootstrap from the value of the last observation.
            truncated_only = np.flatnonzero(truncated & ~terminated)
            if truncated_only.size:
                terminal_obs = np.stack([infos[index]["terminal_observation"] for index in truncated_only])
                terminal_values = policy.value(observations_to_array(terminal_obs, policy.observation_space)).numpy()
                step_rewards[truncated_only] += self.gamma * terminal_values
            rewards[step] = step_rewards
            last_obs = observations_to_array(next_obs, policy.observation_space)
            last_episode_starts = terminated | truncated
            # Kept on the model, so that the next rollout (even in the next learn()) continues these episodes.
            self._last_obs, self._episode_starts = last_obs, last_episode_starts
            if not hooks.on_step(locals()):
                return None

        last_values = policy.value(last_obs).numpy()
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
        )

    @staticmethod
    def _to_env_actions(actions: np.ndarray, policy: MlpPolicy) -> np.ndarray:
        space = policy.action_space
        if isinstance(space, gymnasium.spaces.Box):
            return np.clip(actions.reshape((-1, *space.shape)), space.low, space.high)
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
