"""Proximal Policy Optimization (Schulman et al. 2017): Stable Baselines 2's ``PPO2`` in TensorFlow 2.

One update: the base collects ``n_steps`` steps in each of the ``n_envs`` environments; PPO
estimates advantages with GAE(lambda), then runs ``noptepochs`` epochs of minibatch gradient
steps on the clipped surrogate objective, the (optionally clipped) value loss and an entropy bonus.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from stable_baselines_io.common.on_policy import (
    RANDOM_GENERATOR_STATE,
    ActorCriticRLModel,
    Rollout,
    compute_gae,
    recurrent_specs,
)
from stable_baselines_io.common.optimizers import Adam
from stable_baselines_io.common.tf_util import CompiledFunction
from stable_baselines_io.exceptions import RecurrentBatchError
from stable_baselines_io.schedules import Schedule, get_schedule_fn
from stable_baselines_io.type_aliases import EnvSpec

__all__ = ["PPO", "compute_gae", "RANDOM_GENERATOR_STATE"]

ADAM_EPSILON = 1e-5


class PPO(ActorCriticRLModel):
    """Proximal Policy Optimization with the names and defaults of Stable Baselines 2's ``PPO2``.

    >>> model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, seed=0).learn(total_timesteps=128)
    >>> observation, _ = gymnasium.make("CartPole-v1").reset(seed=0)
    >>> action, _ = model.predict(observation, deterministic=True)
    >>> int(action) in (0, 1)
    True

    :param policy: the policy class, or ``"MlpPolicy"`` or ``"CnnPolicy"``
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
    :param tensorboard_log: folder of TensorBoard runs, written by ``learn`` (None: none)
    :param full_tensorboard_log: also write histograms of the trained variables
    """

    #: Shuffles the rollout into minibatches.
    shuffle_rng: np.random.Generator
    _save_attrs: ClassVar[tuple[str, ...]] = (
        *ActorCriticRLModel._save_attrs,
        "lam",
        "nminibatches",
        "noptepochs",
        "cliprange",
        "cliprange_vf",
    )
    #: With the base's counters and last observations: what ``learn`` carries from one call to
    #: the next, so that a saved and reloaded model trains on bit-exactly.
    _state_attrs: ClassVar[tuple[str, ...]] = (*ActorCriticRLModel._state_attrs, "shuffle_rng")
    _sb2_data_keys: ClassVar[tuple[str, ...]] = ("cliprange", "nminibatches", "noptepochs", "lam")

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
        tensorboard_log: str | None = None,
        full_tensorboard_log: bool = False,
    ):
        self.lam = lam
        self.nminibatches = nminibatches
        self.noptepochs = noptepochs
        self.cliprange = cliprange
        self.cliprange_vf = cliprange_vf
        super().__init__(policy, env, gamma=gamma, n_steps=n_steps, ent_coef=ent_coef, learning_rate=learning_rate,
                         vf_coef=vf_coef, max_grad_norm=max_grad_norm, verbose=verbose,
                         _init_setup_model=_init_setup_model, policy_kwargs=policy_kwargs, seed=seed, n_envs=n_envs,
                         n_cpu_tf_sess=n_cpu_tf_sess, tensorboard_log=tensorboard_log,
                         full_tensorboard_log=full_tensorboard_log)

    optimizer_class = Adam

    def _make_optimizer(self, variables: list[tf.Variable], learning_rate: float) -> Adam:
        return Adam(variables, learning_rate=learning_rate, epsilon=ADAM_EPSILON)

    def _setup_train_step(self) -> None:
        self.shuffle_rng = np.random.default_rng(self.seed)
        policy = self._require_policy()
        sample_spec = tf.TensorSpec((None,), tf.float32)
        scalar_spec = tf.TensorSpec((), tf.float32)
        self._train_step = CompiledFunction(
            self._train_minibatch,
            [
                policy.observation_spec,
                policy.action_spec,
                sample_spec,  # advantages
                sample_spec,  # returns
                sample_spec,  # old values
                sample_spec,  # old neglogps
                scalar_spec,  # cliprange
                scalar_spec,  # cliprange_vf
                *recurrent_specs(policy),  # states, masks
            ],
        )

    def _check_hyperparameters(self) -> None:
        n_batch = self.n_steps * self.n_envs
        if self.recurrent and (self.nminibatches <= 0 or self.n_envs % self.nminibatches != 0):
            raise RecurrentBatchError(
                f"with a recurrent policy, nminibatches must divide the number of environments (each minibatch "
                f"holds whole environment sequences, as in Stable Baselines 2): n_envs={self.n_envs}, "
                f"nminibatches={self.nminibatches}"
            )
        if not 0 < self.nminibatches <= n_batch:
            raise ValueError(f"nminibatches must be between 1 and n_steps * n_envs = {n_batch}, "
                             f"received {self.nminibatches}")
        if n_batch % self.nminibatches != 0:
            warnings.warn(
                f"nminibatches={self.nminibatches} does not divide n_steps * n_envs = {n_batch}: "
                "the last minibatch of each epoch is smaller",
                stacklevel=3,
            )

    # --- training -----------------------------------------------------------------------------

    def _compute_advantages(
        self, rewards: np.ndarray, values: np.ndarray, episode_starts: np.ndarray, last_values: np.ndarray,
        last_episode_starts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        return compute_gae(rewards, values, episode_starts, last_values, last_episode_starts, self.gamma, self.lam)

    def _train(self, rollout: Rollout, progress_remaining: float) -> dict[str, float]:
        """``noptepochs`` epochs of shuffled minibatch steps over one rollout.

        :param rollout: the rollout
        :param progress_remaining: for the clipping schedules
        :return: the mean of each loss statistic over the minibatches
        """
        cliprange = get_schedule_fn(self.cliprange)(progress_remaining)
        # Tensors, not Python floats: a schedule changes them without retracing the training step.
        cliprange_tensor = tf.constant(cliprange, dtype=tf.float32)
        cliprange_vf_tensor = tf.constant(self._cliprange_vf(cliprange, progress_remaining), dtype=tf.float32)
        statistics = []
        for minibatch, recurrent_inputs in self._minibatches(rollout):
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
                    *recurrent_inputs,
                )
            )
        means = np.mean(np.stack([tensor.numpy() for tensor in statistics]), axis=0)
        return dict(zip(("pg_loss", "vf_loss", "entropy_loss", "approx_kl", "clip_fraction"), means.tolist()))

    def _minibatches(self, rollout: Rollout) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, ...]]]:
        """The sample indices of each minibatch of ``noptepochs`` epochs, shuffled.

        Feed-forward: shuffled samples. Recurrent: shuffled environments, each minibatch holding the
        whole sequences of ``n_envs // nminibatches`` environments (step-major), with their states
        at the rollout's start and their masks.

        :param rollout: the rollout
        :return: ``(indices, recurrent inputs)`` per minibatch; the inputs are empty for a feed-forward policy
        """
        n_batch = len(rollout.advantages)
        if rollout.states is None or rollout.masks is None:
            batch_size = n_batch // self.nminibatches
            for _ in range(self.noptepochs):
                indices = self.shuffle_rng.permutation(n_batch)
                for start in range(0, n_batch, batch_size):
                    yield indices[start:start + batch_size], ()
            return
        n_envs = len(rollout.states)
        envs_per_batch = n_envs // self.nminibatches
        step_major = np.arange(n_batch).reshape(-1, n_envs)
        for _ in range(self.noptepochs):
            env_indices = self.shuffle_rng.permutation(n_envs)
            for start in range(0, n_envs, envs_per_batch):
                envs = env_indices[start:start + envs_per_batch]
                minibatch = step_major[:, envs].ravel()
                yield minibatch, (rollout.states[envs], rollout.masks[minibatch])

    def _cliprange_vf(self, cliprange: float, progress_remaining: float) -> float:
        if self.cliprange_vf is None:
            return cliprange
        if isinstance(self.cliprange_vf, (int, float)) and self.cliprange_vf < 0:
            # No clipping: clipping to infinity leaves the value loss and its gradient unchanged.
            return float("inf")
        return get_schedule_fn(self.cliprange_vf)(progress_remaining)

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
        *recurrent_inputs: tf.Tensor,
    ) -> tf.Tensor:
        policy = self._require_policy()
        advantages = (advantages - tf.reduce_mean(advantages)) / (tf.math.reduce_std(advantages) + 1e-8)
        with tf.GradientTape() as tape:
            neglogps, entropy, values = policy.evaluate_actions(observations, actions, *recurrent_inputs)
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

        self._apply_gradients(tape.gradient(loss, self._trained_variables))

        approx_kl = 0.5 * tf.reduce_mean(tf.square(neglogps - old_neglogps))
        clip_fraction = tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > cliprange, tf.float32))
        return tf.stack([pg_loss, vf_loss, entropy_loss, approx_kl, clip_fraction])
