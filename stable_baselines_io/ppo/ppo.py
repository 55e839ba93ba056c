"""Proximal Policy Optimization (Schulman et al. 2017): Stable Baselines 2's ``PPO2`` in TensorFlow 2.

One update: collect ``n_steps`` steps in each of the ``n_envs`` environments, estimate advantages
with GAE(lambda), then run ``noptepochs`` epochs of minibatch gradient steps on the clipped
surrogate objective, the (optionally clipped) value loss and an entropy bonus.
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import gymnasium
import numpy as np
import tensorflow as tf

from stable_baselines_io.common.base_class import ActorCriticRLModel
from stable_baselines_io.common.optimizers import Adam
from stable_baselines_io.common.policies import MlpPolicy
from stable_baselines_io.common.preprocessing import observations_to_array
from stable_baselines_io.common.tf_util import CompiledFunction
from stable_baselines_io.common.vec_env import EnvSpec, VecEnv
from stable_baselines_io.exceptions import NoEnvironmentError
from stable_baselines_io.schedules import Schedule, get_schedule_fn

SelfPPO = TypeVar("SelfPPO", bound="PPO")
Callback = Callable[[dict[str, Any], dict[str, Any]], bool | None]

ADAM_EPSILON = 1e-5
#: Episodes over which the logged mean reward and length are computed.
EPISODE_INFO_BUFFER_SIZE = 100
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


class PPO(ActorCriticRLModel):
    """Proximal Policy Optimization with the names and defaults of Stable Baselines 2's ``PPO2``.

    >>> model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, seed=0).learn(total_timesteps=128)
    >>> observation, _ = gymnasium.make("CartPole-v1").reset(seed=0)
    >>> action, _ = model.predict(observation, deterministic=True)
    >>> int(action) in (0, 1)
    True

    :param policy: the policy class, or ``"MlpPolicy"``
    :param env: a gymnasium env, an env id, a vectorized env, or None (predict-only model)
    :param gamma: discount factor
    :param n_steps: steps per environment per update (the rollout is ``n_steps * n_envs``)
    :param ent_coef: entropy coefficient of the loss
    :param learning_rate: learning rate, or a schedule of the remaining progress (1 -> 0)
    :param vf_coef: value loss coefficient of the loss
    :param max_grad_norm: maximum global norm of the gradient (None: no clipping)
    :param lam: GAE lambda (bias / variance trade-off of the advantage estimate)
    :param nminibatches: minibatches per epoch (minibatch size ``n_steps * n_envs // nminibatches``)
    :param noptepochs: epochs over each rollout
    :param cliprange: clipping parameter of the surrogate objective, or a schedule
    :param cliprange_vf: clipping parameter of the value function, or a schedule; None clips it
        with ``cliprange`` (the original PPO2 behaviour), a negative number disables value clipping
    :param verbose: 0 silent, 1 a table of training statistics every ``log_interval`` updates
    :param _init_setup_model: build the networks now (``load`` passes False and builds later)
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ``act_fun``)
    :param seed: seed of every random number generator (networks, sampling, shuffling, envs)
    :param n_envs: number of environment copies when ``env`` is an env id
    :param n_cpu_tf_sess: threads of TensorFlow's intra-op and inter-op pools (None: one per core);
        TensorFlow 2 sets them once per process, so only the first model can change them (see
        :func:`~stable_baselines_io.common.tf_util.configure_tf_threads`)
    """

    policy_aliases: ClassVar[dict[str, type]] = {"MlpPolicy": MlpPolicy}
    #: Built by :meth:`setup_model`.
    optimizer: Adam
    #: Draws the initial weights and the sampled actions.
    random_generator: tf.random.Generator
    #: Shuffles the rollout into minibatches.
    shuffle_rng: np.random.Generator
    _save_attrs: ClassVar[tuple[str, ...]] = (
        *ActorCriticRLModel._save_attrs,
        "n_steps",
        "vf_coef",
        "ent_coef",
        "max_grad_norm",
        "lam",
        "nminibatches",
        "noptepochs",
        "cliprange",
        "cliprange_vf",
    )
    #: Everything ``learn`` carries from one call to the next, so that a saved and reloaded model
    #: trains on bit-exactly (with ``load(..., force_reset=False)`` and the same environment).
    #: The optimizer slots and the action-sampling generator are in :meth:`get_state_variables`.
    _state_attrs: ClassVar[tuple[str, ...]] = (
        *ActorCriticRLModel._state_attrs,
        "_n_updates",
        "_total_timesteps",
        "shuffle_rng",
        "_episode_starts",
        "_ep_info_list",
    )

    def __init__(
        self,
        policy: type | str,
        env: EnvSpec | None,
        gamma: float = 0.99,
        n_steps: int = 128,
        ent_coef: float = 0.01,
        learning_rate: float | Schedule = 2.5e-4,
        vf_coef: float = 0.5,
        max_grad_norm: float | None = 0.5,
        lam: float = 0.95,
        nminibatches: int = 4,
        noptepochs: int = 4,
        cliprange: float | Schedule = 0.2,
        cliprange_vf: float | Schedule | None = None,
        verbose: int = 0,
        _init_setup_model: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        n_envs: int = 1,
        n_cpu_tf_sess: int | None = None,
    ):
        self.n_cpu_tf_sess = n_cpu_tf_sess
        self.gamma = gamma
        self.n_steps = n_steps
        self.ent_coef = ent_coef
        self.learning_rate = learning_rate
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.lam = lam
        self.nminibatches = nminibatches
        self.noptepochs = noptepochs
        self.cliprange = cliprange
        self.cliprange_vf = cliprange_vf

        self.policy_net: MlpPolicy | None = None
        self.ep_info_buf: deque[dict[str, float]] = deque(maxlen=EPISODE_INFO_BUFFER_SIZE)
        self._last_obs: np.ndarray | None = None
        self._episode_starts: np.ndarray | None = None
        #: Updates since the last ``learn(..., reset_num_timesteps=True)``.
        self._n_updates = 0
        #: The schedules' horizon: progress_remaining is ``1 - num_timesteps / _total_timesteps``.
        self._total_timesteps = 0
        super().__init__(
            policy=policy, env=env, verbose=verbose, policy_kwargs=policy_kwargs, seed=seed, n_envs=n_envs
        )
        if _init_setup_model:
            self.setup_model()

    # --- model --------------------------------------------------------------------------------

    def setup_model(self) -> None:
        """Build the policy, the optimizer and the compiled training step from the attributes.

        ``ent_coef``, ``vf_coef`` and ``max_grad_norm`` become constants of the training step when
        it is first traced (as Stable Baselines 2 built them into its graph): set them before the
        first :meth:`learn` (or pass them to ``load``). Schedules and every other hyperparameter
        are read at each update.
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
        self.shuffle_rng = np.random.default_rng(self.seed)
        self.policy_net = self.policy(
            self.observation_space, self.action_space, generator=self.random_generator, **self.policy_kwargs
        )
        self._trained_variables = self.policy_net.actor_critic_parameters()
        self.optimizer = Adam(
            self._trained_variables, learning_rate=get_schedule_fn(self.learning_rate)(1.0), epsilon=ADAM_EPSILON
        )
        sample_spec = tf.TensorSpec((None,), tf.float32)
        scalar_spec = tf.TensorSpec((), tf.float32)
        self._train_step = CompiledFunction(
            self._train_minibatch,
            [
                self.policy_net.observation_spec,
                self.policy_net.action_spec,
                sample_spec,  # advantages
                sample_spec,  # returns
                sample_spec,  # old values
                sample_spec,  # old neglogps
                scalar_spec,  # cliprange
                scalar_spec,  # cliprange_vf
            ],
        )

    def get_parameter_list(self) -> list[tf.Variable]:
        """The policy's variables in Stable Baselines 2 order.

        :return: the variables
        """
        return self._require_policy().get_parameter_list()

    def _require_policy(self) -> MlpPolicy:
        if self.policy_net is None:
            raise NoEnvironmentError(f"this {type(self).__name__} has not been set up: call setup_model()")
        return self.policy_net

    def _forget_last_observation(self) -> None:
        super()._forget_last_observation()
        self._episode_starts = None

    # --- training state -----------------------------------------------------------------------

    def get_state_variables(self) -> OrderedDict[str, tf.Variable]:
        """The optimizer's step counter, learning rate and slots (named as in Stable Baselines 2:
        ``Adam/iterations:0``, ``<variable>/Adam:0``, ``<variable>/Adam_1:0``), then the state of
        the generator that samples actions (:data:`RANDOM_GENERATOR_STATE`).

        :return: ordered mapping name -> variable
        """
        self._require_policy()
        variables = OrderedDict((variable.name, variable) for variable in self.optimizer.state_variables())
        variables[RANDOM_GENERATOR_STATE] = self.random_generator.state
        return variables

    @property
    def _ep_info_list(self) -> list[dict[str, float]]:
        """:attr:`ep_info_buf` as a list, the form it is saved in."""
        return list(self.ep_info_buf)

    @_ep_info_list.setter
    def _ep_info_list(self, infos: list[dict[str, float]]) -> None:
        self.ep_info_buf = deque(infos, maxlen=EPISODE_INFO_BUFFER_SIZE)

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        policy = self._require_policy()
        batch = observations_to_array(observations, policy.observation_space)
        actions = policy.deterministic_actions(batch) if deterministic else policy.sampled_actions(batch)
        return actions.numpy().reshape((-1, *(policy.action_space.shape or ())))

    # --- training -----------------------------------------------------------------------------

    def learn(
        self: SelfPPO,
        total_timesteps: int,
        callback: Callback | None = None,
        log_interval: int = 1,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPPO:
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
        :param callback: ``callback(locals(), globals())`` after every update; returning False stops
        :param log_interval: updates between two tables of statistics (when ``verbose >= 1``)
        :param reset_num_timesteps: restart ``num_timesteps``, the update count and the schedules
        :param progress_bar: show a tqdm progress bar
        :return: the model
        """
        env = self._require_env()
        policy = self._require_policy()
        n_batch = self.n_steps * self.n_envs
        if not 0 < self.nminibatches <= n_batch:
            raise ValueError(f"nminibatches must be between 1 and n_steps * n_envs = {n_batch}, "
                             f"received {self.nminibatches}")
        if n_batch % self.nminibatches != 0:
            warnings.warn(
                f"nminibatches={self.nminibatches} does not divide n_steps * n_envs = {n_batch}: "
                "the last minibatch of each epoch is smaller",
                stacklevel=2,
            )
        n_updates = total_timesteps // n_batch
        if n_updates == 0:
            warnings.warn(f"total_timesteps={total_timesteps} is less than n_steps * n_envs = {n_batch}: "
                          "no update is made", stacklevel=2)
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._n_updates = 0
            self._total_timesteps = 0
        # Whole updates only, so that progress_remaining steps exactly as in Stable Baselines 2.
        self._total_timesteps = max(self._total_timesteps, self.num_timesteps + n_updates * n_batch)
        if self._last_obs is not None and len(self._last_obs) != self.n_envs:
            warnings.warn(f"the last observations are of {len(self._last_obs)} environments, the environment has "
                          f"{self.n_envs}: resetting it", stacklevel=2)
            self._forget_last_observation()
        if self._last_obs is None or self._episode_starts is None:
            self._last_obs = observations_to_array(env.reset(), policy.observation_space)
            self._episode_starts = np.ones(self.n_envs, dtype=bool)
        learning_rate_fn = get_schedule_fn(self.learning_rate)
        cliprange_fn = get_schedule_fn(self.cliprange)
        progress = _progress_bar(total_timesteps) if progress_bar else None
        start_time = time.perf_counter()
        start_timesteps = self.num_timesteps

        for update in range(1, n_updates + 1):
            progress_remaining = 1.0 - self.num_timesteps / self._total_timesteps
            learning_rate = learning_rate_fn(progress_remaining)
            cliprange = cliprange_fn(progress_remaining)
            cliprange_vf = self._cliprange_vf(cliprange, progress_remaining)
            self.optimizer.learning_rate.assign(learning_rate)

            rollout = self._collect_rollout(env, policy)
            losses = self._train_on_rollout(rollout, cliprange, cliprange_vf)
            self._n_updates += 1

            if progress is not None:
                progress.update(n_batch)
            if self.verbose >= 1 and (self._n_updates % log_interval == 0 or update == 1):
                fps = (self.num_timesteps - start_timesteps) / max(time.perf_counter() - start_time, 1e-9)
                self._log_update(self._n_updates, fps, learning_rate, losses, rollout)
            if callback is not None and callback(locals(), globals()) is False:
                break

        if progress is not None:
            progress.close()
        return self

    def _cliprange_vf(self, cliprange: float, progress_remaining: float) -> float:
        if self.cliprange_vf is None:
            return cliprange
        if isinstance(self.cliprange_vf, (int, float)) and self.cliprange_vf < 0:
            # No clipping: clipping to infinity leaves the value loss and its gradient unchanged.
            return float("inf")
        return get_schedule_fn(self.cliprange_vf)(progress_remaining)

    def _collect_rollout(self, env: VecEnv, policy: MlpPolicy) -> Rollout:
        """Step every environment ``n_steps`` times, then estimate advantages and returns.

        :param env: the environments
        :param policy: the policy that acts
        :return: the flattened rollout
        """
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
            for info in infos:
                if "episode" in info:
                    self.ep_info_buf.append(info["episode"])
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

        last_values = policy.value(last_obs).numpy()
        advantages, returns = compute_gae(
            rewards, values, episode_starts, last_values, last_episode_starts, self.gamma, self.lam
        )

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

    def _train_on_rollout(self, rollout: Rollout, cliprange: float, cliprange_vf: float) -> dict[str, float]:
        """``noptepochs`` epochs of shuffled minibatch steps over one rollout.

        :param rollout: the rollout
        :param cliprange: the surrogate clipping parameter of this update
        :param cliprange_vf: the value clipping parameter of this update (inf: no clipping)
        :return: the mean of each loss statistic over the minibatches
        """
        n_batch = len(rollout.advantages)
        batch_size = n_batch // self.nminibatches
        # Tensors, not Python floats: a schedule changes them without retracing the training step.
        cliprange_tensor = tf.constant(cliprange, dtype=tf.float32)
        cliprange_vf_tensor = tf.constant(cliprange_vf, dtype=tf.float32)
        statistics = []
        for _ in range(self.noptepochs):
            indices = self.shuffle_rng.permutation(n_batch)
            for start in range(0, n_batch, batch_size):
                minibatch = indices[start:start + batch_size]
                statistics.append(
                    self._train_step(
                        rollout.observations[minibatch],
                        rollout.actions[minibatch],
                        rollout.advantages[minibatch],
                        rollout.returns[minibatch],
                        rollout.values[minibatch],
                        rollout.neglogps[minibatch],
                        cliprange_tensor,
                        cliprange_vf_tensor,
                    )
                )
        means = np.mean(np.stack([tensor.numpy() for tensor in statistics]), axis=0)
        return dict(zip(("pg_loss", "vf_loss", "entropy_loss", "approx_kl", "clip_fraction"), means.tolist()))

    def _train_minibatch(
        self,
        observations: tf.Tensor,
        actions: tf.Tensor,
        advantages: tf.Tensor,
        returns: tf.Tensor,
        old_values: tf.Tensor,
        old_neglogps: tf.Tensor,
        cliprange: tf.Tensor,
        cliprange_vf: tf.Tensor,
    ) -> tf.Tensor:
        policy = self._require_policy()
        advantages = (advantages - tf.reduce_mean(advantages)) / (tf.math.reduce_std(advantages) + 1e-8)
        with tf.GradientTape() as tape:
            neglogps, entropy, values = policy.evaluate_actions(observations, actions)
            ratio = tf.exp(old_neglogps - neglogps)
            pg_losses = -advantages * ratio
            pg_losses_clipped = -advantages * tf.clip_by_value(ratio, 1.0 - cliprange, 1.0 + cliprange)
            pg_loss = tf.reduce_mean(tf.maximum(pg_losses, pg_losses_clipped))

            values_clipped = old_values + tf.clip_by_value(values - old_values, -cliprange_vf, cliprange_vf)
            vf_losses = tf.square(values - returns)
            vf_losses_clipped = tf.square(values_clipped - returns)
            vf_loss = 0.5 * tf.reduce_mean(tf.maximum(vf_losses, vf_losses_clipped))

            entropy_loss = -tf.reduce_mean(entropy)
            loss = pg_loss + self.ent_coef * entropy_loss + self.vf_coef * vf_loss

        gradients = tape.gradient(loss, self._trained_variables)
        if self.max_grad_norm is not None:
            gradients, _ = tf.clip_by_global_norm(gradients, self.max_grad_norm)
        self.optimizer.apply_gradients(gradients)

        approx_kl = 0.5 * tf.reduce_mean(tf.square(neglogps - old_neglogps))
        clip_fraction = tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > cliprange, tf.float32))
        return tf.stack([pg_loss, vf_loss, entropy_loss, approx_kl, clip_fraction])

    # --- logging ------------------------------------------------------------------------------

    def _log_update(
        self, update: int, fps: float, learning_rate: float, losses: dict[str, float], rollout: Rollout
    ) -> None:
        episodes = list(self.ep_info_buf)
        rows: dict[str, Any] = {
            "n_updates": update,
            "total_timesteps": self.num_timesteps,
            "fps": int(fps),
            "ep_reward_mean": np.mean([info["r"] for info in episodes]) if episodes else float("nan"),
            "ep_len_mean": np.mean([info["l"] for info in episodes]) if episodes else float("nan"),
            "explained_variance": explained_variance(rollout.values, rollout.returns),
            "learning_rate": learning_rate,
            **losses,
        }
        cells = {key: value if isinstance(value, int) else f"{value:.4g}" for key, value in rows.items()}
        key_width = max(map(len, cells))
        value_width = max(len(str(value)) for value in cells.values())
        border = "-" * (key_width + value_width + 7)
        print(border)
        for key, value in cells.items():
            print(f"| {key:<{key_width}} | {value!s:>{value_width}} |")
        print(border)


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
    ended one: no value is bootstrapped across it.

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


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="steps")
